"""Published checkpoints that are not akhbar packages: plain transformers folders, read, scored and compared.

They are built offline from the committed pre-refactor packages (tests/data/legacy): the same weights with
the akhbar files removed, then with other label names, another tagging scheme, pickled weights or custom code.
"""

import json
import shutil

import pytest
import torch
from conftest import ROOT, SAMPLE
from safetensors.torch import load_file

from akhbar import EventClassifier, NerTagger
from akhbar.articles import read_articles
from akhbar.cli import main as cli
from akhbar.labels import detect_scheme, tags_to_spans, to_iob

LEGACY = ROOT / "tests" / "data" / "legacy"
AKHBAR_FILES = ("manifest.json", "akhbar.json", "README.md", "run_config.json", "eval_report.json", "eval_report.md")


def published(package, folder, relabel=None):
    """``package`` as a plain transformers folder (``relabel``: new names for its labels)."""
    shutil.copytree(package, folder)
    for name in AKHBAR_FILES:
        (folder / name).unlink()
    for png in folder.glob("*.png"):
        png.unlink()
    if relabel:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        config["id2label"] = {k: relabel(v) for k, v in config["id2label"].items()}
        config["label2id"] = {v: int(k) for k, v in config["id2label"].items()}
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def short_texts():
    # Short enough for one window at any window length: a package and a published copy then read the same.
    return [" ".join(a["text"].split()[:10]) for a in read_articles(SAMPLE / "test.jsonl")[0]] + ["زار الوزير بيروت"]


def entities(tagger, texts):
    return [[(e["start"], e["end"], e["label"]) for e in found] for found in tagger.predict(texts)]


def test_schemes_are_detected_and_decoded():
    assert detect_scheme(["O", "B-PER", "I-PER"]) == "IOB2"
    assert detect_scheme(["O", "I-PER", "I-LOC"]) == "IO"
    assert detect_scheme(["O", "B-PER", "I-PER", "E-PER", "S-PER"]) == "BIOES"
    assert detect_scheme(["O", "B-PER", "I-PER", "L-PER", "U-PER"]) == "BILOU"
    assert detect_scheme(["O", "PER", "LOC"]) == "bare"
    with pytest.raises(ValueError, match="mix bare types"):
        detect_scheme(["O", "PER", "B-LOC"])
    bioes = ["S-PER", "O", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
    assert tags_to_spans([to_iob(t, "BIOES", {"PER": "PERS"}) for t in bioes]) == [
        (0, 1, "PERS"),
        (2, 5, "LOC"),
        (5, 6, "LOC"),
    ]
    assert tags_to_spans([to_iob(t, "bare") for t in ["PER", "PER", "O", "LOC"]]) == [(0, 2, "PER"), (3, 4, "LOC")]


def test_a_published_copy_predicts_what_the_package_does(tmp_path, caplog):
    package = LEGACY / "ner-sample"
    texts = short_texts()
    reference = entities(NerTagger.from_pretrained(package), texts)
    assert any(reference)
    plain = published(package, tmp_path / "plain")
    tagger = NerTagger.from_pretrained(plain, preprocessing="arabertv02")
    assert not tagger.verified and "is not an akhbar package: its files are not verified" in caplog.text
    assert entities(tagger, texts) == reference

    # Other names for the types, mapped back to the gold schema; BILOU tags for the same decisions.
    renamed = published(
        package, tmp_path / "renamed", lambda v: v.replace("PERS", "PER").replace("ORG", "ORGANIZATION")
    )
    tagger = NerTagger.from_pretrained(
        renamed, preprocessing="arabertv02", label_map={"PER": "PERS", "ORGANIZATION": "ORG"}
    )
    assert entities(tagger, texts) == reference
    bilou = published(package, tmp_path / "bilou", lambda v: v.replace("B-", "U-").replace("I-", "L-"))
    assert entities(NerTagger.from_pretrained(bilou, preprocessing="arabertv02"), texts) == reference


def test_unsafe_or_unreadable_checkpoints_are_refused(tmp_path):
    package = LEGACY / "ner-sample"
    pickled = published(package, tmp_path / "pickled")
    torch.save(load_file(str(pickled / "model.safetensors")), pickled / "pytorch_model.bin")
    (pickled / "model.safetensors").unlink()
    with pytest.raises(ValueError, match=r"weights are pickled \(pytorch_model.bin\).*safetensors only"):
        NerTagger.from_pretrained(pickled)
    remote = published(package, tmp_path / "remote")
    config = json.loads((remote / "config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {"AutoModelForTokenClassification": "modeling.Custom"}
    (remote / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ValueError, match="needs its own code .*never runs code from a checkpoint"):
        NerTagger.from_pretrained(remote)
    with pytest.raises(ValueError, match="holds a BertForSequenceClassification .*run it with EventClassifier"):
        NerTagger.from_pretrained(published(LEGACY / "events-sample", tmp_path / "events"))
    with pytest.raises(ValueError, match="is an akhbar package: it carries its own preprocessing"):
        NerTagger.from_pretrained(package, preprocessing="none")


def test_a_published_event_classifier(tmp_path):
    plain = published(LEGACY / "events-sample", tmp_path / "events")
    classifier = EventClassifier.from_pretrained(plain, preprocessing="arabertv02")
    package = EventClassifier.from_pretrained(LEGACY / "events-sample")
    assert classifier.settings.event_labels == package.settings.event_labels
    assert classifier.settings.multi_label == package.settings.multi_label
    texts = short_texts()
    torch.testing.assert_close(torch.tensor(classifier.scores(texts)), torch.tensor(package.scores(texts)))


def test_evaluate_and_compare_published_checkpoints(tmp_path, capsys):
    package = LEGACY / "ner-sample"
    renamed = published(package, tmp_path / "renamed", lambda v: v.replace("PERS", "PER"))
    data = str(SAMPLE / "test.jsonl")
    # Gold types the model does not have are scored as missed, not refused.
    assert cli(["evaluate", "--model", str(renamed), "--data", data, "--output", str(tmp_path / "ev")]) == 0
    report = json.loads((tmp_path / "ev" / "eval_report.json").read_text(encoding="utf-8"))
    assert report["engine"]["verified"] is False and "PERS" in report["strict"]["per_type"]
    assert "not an akhbar package, its files unverified" in (tmp_path / "ev" / "eval_report.md").read_text("utf-8")

    out = tmp_path / "cmp"
    args = ["compare", "--models", str(package), str(renamed), "--data", data, "--output", str(out)]
    assert cli([*args, "--preprocessing", "arabertv02", "--label-map", "PER=PERS"]) == 2  # the package has its own
    assert "carries its own preprocessing" in capsys.readouterr().err
    assert cli([*args, "--label-map", "PER=PERS"]) == 0
    table = capsys.readouterr().out
    result = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert [r["model"] for r in result["rows"]] == ["ner-sample", "renamed"]
    assert [r["verified"] for r in result["rows"]] == [True, False]
    assert all(0 <= r["strict F1"] <= 1 and r["articles_per_s"] > 0 and "PERS F1" in r for r in result["rows"])
    assert "| ner-sample | yes |" in table and "| renamed | no (unverified) |" in table
    assert (out / "ner-sample" / "eval_report.md").is_file() and (out / "renamed" / "eval_report.json").is_file()
    assert cli(["compare", "--models", str(package), str(LEGACY / "events-sample"), "--data", data]) == 2
    assert "mixes tasks" in capsys.readouterr().err


def test_a_published_checkpoint_serves(tmp_path):
    # akhbar serve with a published checkpoint (renamed types mapped back, preprocessing chosen): the service
    # answers what the tagger does in-process and says in /v1/models that nothing was verified.
    pytest.importorskip("fastapi")
    httpx = pytest.importorskip("httpx")
    from conftest import live_server

    from akhbar.serve.app import create_app
    from akhbar.serve.models import ServedModels

    package = LEGACY / "ner-sample"
    renamed = published(package, tmp_path / "renamed", lambda v: v.replace("PERS", "PER"))
    options = {"device": "cpu", "precision": "float32", "preprocessing": "arabertv02", "label_map": {"PER": "PERS"}}
    texts = short_texts()
    expected = NerTagger.from_pretrained(package, device="cpu", precision="float32").predict(texts)
    app = create_app(ServedModels.load(renamed, None, **options))
    with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        info = client.get("/v1/models").json()["ner"]
        got = client.post("/v1/entities", json={"texts": texts}).json()["results"]
    assert info["verified"] is False and info["manifest_sha256"] is None and info["evaluation"] is None
    assert info["preprocessing"] == "arabertv02" and info["labels"] == ["PERS", "LOC", "ORG", "MISC"]
    assert [r["entities"] for r in got] == expected and any(expected)


def test_label_maps_are_checked(capsys):
    from akhbar.inference.options import parse_label_map

    assert parse_label_map(" PER=PERS, GPE=LOC,,LOC=LOC ") == {"PER": "PERS", "GPE": "LOC", "LOC": "LOC"}
    for text, fault in (("PERS", "is not FROM=TO"), ("=PERS", "is not FROM=TO"), ("PER=PERS,PER=X", "mapped twice")):
        with pytest.raises(ValueError, match=fault):
            parse_label_map(text)
        assert cli(["predict", "--model", str(LEGACY / "ner-sample"), "--label-map", text, "/dev/null"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and fault in err, err


def test_a_base_encoder_is_refused_with_what_to_do(tiny_model_dir, tmp_path, capsys):
    # `akhbar tiny-model` (or any encoder as pretrained) has no task head: the error says to fine-tune it
    # first instead of listing the heads akhbar reads.
    with pytest.raises(ValueError, match=r"a base encoder \(BertModel\) with no task head.*python train\.py"):
        NerTagger.from_pretrained(tiny_model_dir)
    (tmp_path / "a.txt").write_text("زار الوزير بيروت\n", encoding="utf-8")
    assert cli(["predict", "--model", str(tiny_model_dir), str(tmp_path / "a.txt")]) == 2
    assert "fine-tune it first" in capsys.readouterr().err


def test_info_describes_a_published_checkpoint(tmp_path, capsys):
    # predict and evaluate read a transformers checkpoint that is not a package; info refused it.
    plain = published(LEGACY / "ner-sample", tmp_path / "plain")
    assert cli(["info", str(plain)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{plain}: a transformers model, not an akhbar package (no manifest: its files are not verified)"
    assert out[1] == "  read as an akhbar ner model: labels: PERS, LOC, ORG, MISC (entity types)"
    assert out[2].startswith("  preprocessing: none (predict and evaluate take --preprocessing); windows of 512 tokens")

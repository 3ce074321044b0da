"""Train a few steps -> evaluate -> package -> load with plain transformers -> NerTagger -> CLI."""

import json

import pytest
from conftest import ROOT, SAMPLE, train_args
from transformers import AutoModelForTokenClassification, pipeline

from akhbar import NerTagger
from akhbar.articles import read_articles
from akhbar.cli import main as cli
from akhbar.config import ModelArguments
from akhbar.labels import bio_labels
from akhbar.training import load_base
from akhbar.training import main as train

pytestmark = pytest.mark.slow
SCHEMA = ["PERS", "LOC", "ORG", "MISC"]


@pytest.fixture(scope="module")
def trained(tiny_model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    train(
        train_args(
            "ner-sample.yaml",
            tiny_model_dir,
            tmp,
            max_steps=60,
            eval_strategy="steps",
            eval_steps=20,
            save_strategy="steps",
            save_steps=20,
        )
    )
    return tmp


def test_package_is_self_describing(trained):
    package = trained / "models" / "ner-sample"
    names = {p.name for p in package.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "akhbar.json",
        "eval_report.json",
        "eval_report.md",
        "confusion_matrix.png",
        "README.md",
    } <= names
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in names)
    report = json.loads((package / "eval_report.json").read_text(encoding="utf-8"))
    assert report["data"]["articles"] == 5 and report["data"]["gold_entities"] == 29
    assert 0.0 <= report["strict"]["micro"]["f1"] <= 1.0 and 0.0 <= report["lenient"]["micro"]["f1"] <= 1.0
    assert report["strict"]["micro"]["support"] == 29
    assert set(report["strict"]["per_type"]) <= set(SCHEMA)
    card = (package / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n") and "model-index" in card
    assert f"value: {round(report['strict']['micro']['f1'], 4)}" in card
    assert not list(trained.glob("models/.*partial*"))


def test_plain_transformers_loads_the_package(trained):
    package = trained / "models" / "ner-sample"
    model = AutoModelForTokenClassification.from_pretrained(package)
    assert [model.config.id2label[i] for i in range(len(model.config.id2label))] == bio_labels(SCHEMA)
    ner = pipeline("token-classification", model=str(package), aggregation_strategy="simple", device="cpu")
    out = ner("أعلنت وزارة الصحة في بيروت")
    assert isinstance(out, list)


def test_tagger_offsets_point_into_the_original_text(trained):
    tagger = NerTagger.from_pretrained(trained / "models" / "ner-sample")
    articles = [json.loads(line) for line in (SAMPLE / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = [a["text"] for a in articles] + ["\n\n".join(a["text"] for a in articles), ""]
    results = tagger.predict(texts)
    assert len(results) == len(texts) and results[-1] == []
    found = [e for entities in results for e in entities]
    assert found, "the overfitted tiny model should find entities in its own training text"
    for text, entities in zip(texts, results):
        for e in entities:
            assert e["text"] == text[e["start"] : e["end"]] and e["text"].strip() == e["text"]
            assert e["label"] in SCHEMA and 0.0 <= e["score"] <= 1.0
    # The long article (all training texts glued, ~40 windows) is read to its end, not truncated.
    long_text, long_entities = texts[-2], results[-2]
    assert max(e["end"] for e in long_entities) > len(long_text) - len(texts[len(articles) - 1])


def test_cli_evaluate_reproduces_the_packaged_report(trained, capsys):
    package = trained / "models" / "ner-sample"
    assert (
        cli(
            [
                "evaluate",
                "--model",
                str(package),
                "--data",
                str(SAMPLE / "test.jsonl"),
                "--output",
                str(trained / "eval"),
            ]
        )
        == 0
    )
    packaged = json.loads((package / "eval_report.json").read_text(encoding="utf-8"))
    again = json.loads((trained / "eval" / "eval_report.json").read_text(encoding="utf-8"))
    assert again["strict"] == packaged["strict"] and again["lenient"] == packaged["lenient"]
    assert (trained / "eval" / "eval_report.md").is_file()


def test_cli_predict_prints_one_json_line_per_article(trained, capsys, tmp_path):
    inputs = tmp_path / "in.txt"
    inputs.write_text('زار الوزير بيروت\n{"text": "وصل الوفد إلى عمّان"}\n\nقال مُحَمَّد\n', encoding="utf-8")
    assert cli(["predict", "--model", str(trained / "models" / "ner-sample"), str(inputs)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all("entities" in json.loads(line) for line in lines)


def test_cli_package_again_and_refuse_overwrite(trained, capsys):
    dest = trained / "models" / "again"
    assert cli(["package", str(trained / "run"), "--output", str(dest)]) == 0
    assert (dest / "eval_report.json").is_file()
    assert cli(["package", str(trained / "run"), "--output", str(dest)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err


def test_training_refuses_to_clobber_a_run(trained, tiny_model_dir):
    with pytest.raises(FileExistsError, match="already exists"):
        train(
            [
                "--config",
                str(ROOT / "configs" / "ner-sample.yaml"),
                "--model_name_or_path",
                str(tiny_model_dir),
                "--output_dir",
                str(trained / "run"),
                "--package_dir",
                str(trained / "models"),
            ]
        )


def test_unreachable_base_model_says_how_to_fix_it():
    with pytest.raises(
        FileNotFoundError, match=r"'aubmindlab/bert-base-arabertv02'.*--model_name_or_path DIR.*akhbar tiny-model"
    ):
        load_base(ModelArguments(), bio_labels(SCHEMA))


def test_cli_user_errors_are_one_line_and_exit_2(trained, capsys, tmp_path):
    package = str(trained / "models" / "ner-sample")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "زار بيروت", "entities": [{"start": 4, "end": 9, "label": "CITY"}]}\n', "utf-8")
    assert cli(["evaluate", "--model", package, "--data", str(bad), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        len(err.splitlines()) == 1 and "bad.jsonl:1 (article 'a')" in err and "label 'CITY' is not in the schema" in err
    )
    assert not (tmp_path / "out").exists()
    broken = tmp_path / "in.txt"
    broken.write_text('{"text": 5}\n', "utf-8")
    assert cli(["predict", "--model", package, str(broken)]) == 2
    assert "in.txt:1: a JSON line needs a string field 'text'" in capsys.readouterr().err
    assert cli(["evaluate", "--model", str(tmp_path / "nothing"), "--data", str(bad)]) == 2
    assert "is not a local folder" in capsys.readouterr().err


def test_training_time_validation_score_equals_the_packaged_model_score(trained):
    # Two paths compute predictions: the Trainer's evaluation loop (window batches, NerMetrics) and
    # NerTagger (what users run). On the best checkpoint and the validation file they must agree exactly.
    from akhbar.report import evaluate_ner

    package = trained / "models" / "ner-sample"
    best = json.loads((package / "run_config.json").read_text(encoding="utf-8"))["best_validation"]
    tagger = NerTagger.from_pretrained(package)
    articles, _ = read_articles(SAMPLE / "validation.jsonl", SCHEMA)
    assert evaluate_ner(tagger, articles)["strict"]["micro"]["f1"] == pytest.approx(best["metric"], abs=1e-12)


def test_batching_defaults_by_device_and_rejects_zero(trained):
    package = trained / "models" / "ner-sample"
    tagger = NerTagger.from_pretrained(package, device="cpu")  # CPU default: a token budget (BENCHMARKS.md)
    assert (tagger.batch_size, tagger.batch_tokens) == (None, 2048)
    tagger = NerTagger.from_pretrained(package, device="cpu", batch_size=3)  # one bound given: only that one
    assert (tagger.batch_size, tagger.batch_tokens) == (3, None)
    for name in ("batch_size", "batch_tokens"):
        with pytest.raises(ValueError, match=f"{name} must be at least 1, not 0"):
            NerTagger.from_pretrained(package, **{name: 0})


def test_batching_does_not_change_predictions(trained):
    # One window per pass, small token budgets (windows that exceed them go alone) and the default: the same
    # tags, up to float rounding in the probabilities.
    articles, _ = read_articles(SAMPLE / "test.jsonl", SCHEMA)
    texts = [a["text"] for a in articles]
    package = trained / "models" / "ner-sample"
    reference = NerTagger.from_pretrained(package, batch_size=1).tag(texts)
    for options in ({"batch_tokens": 100}, {"batch_tokens": 1}, {"batch_size": 2, "batch_tokens": 500}, {}):
        tagged = NerTagger.from_pretrained(package, **options).tag(texts)
        assert [t.tags for t in tagged] == [t.tags for t in reference], options
        for a, b in zip(tagged, reference):
            assert a.scores == pytest.approx(b.scores, abs=1e-5)


@pytest.mark.parametrize(
    ("tamper", "fault"),
    [
        (
            lambda d: d.joinpath("model.safetensors").write_bytes(d.joinpath("model.safetensors").read_bytes()[:-8]),
            r"model\.safetensors: sha256 does not match",
        ),
        (lambda d: d.joinpath("pytorch_model.bin").write_bytes(b"\x80\x04pickle"), r"contains pickle files"),
        (lambda d: d.joinpath("notes.txt").write_text("x"), r"files not in manifest\.json: \['notes\.txt'\]"),
        (lambda d: d.joinpath("tokenizer.json").unlink(), r"tokenizer\.json: listed in manifest\.json but missing"),
        (lambda d: d.joinpath("manifest.json").unlink(), r"no manifest\.json"),
    ],
    ids=["truncated-weights", "pickle", "extra-file", "missing-file", "no-manifest"],
)
def test_corrupted_packages_are_refused(trained, tmp_path, tamper, fault):
    import shutil

    copy = tmp_path / "pkg"
    shutil.copytree(trained / "models" / "ner-sample", copy)
    NerTagger.from_pretrained(copy)  # intact: loads
    tamper(copy)
    with pytest.raises(ValueError, match=fault):
        NerTagger.from_pretrained(copy)


def test_interrupted_packaging_leaves_no_package(trained, tmp_path, monkeypatch):
    import akhbar.packaging

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # e.g. Ctrl-C while the card is being written

    stale = tmp_path / ".pkg.partial-1"  # what a SIGKILL-ed packaging leaves behind
    stale.mkdir()
    monkeypatch.setattr(akhbar.packaging, "render_card", crash)
    with pytest.raises(KeyboardInterrupt):
        akhbar.packaging.package_run(trained / "run", tmp_path / "pkg", show_progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["label-studio", "doccano", "brat", "conll", "jsonl", "webanno-tsv", "prodigy"])
def test_cli_predict_writes_each_tool_format(trained, capsys, tmp_path, fmt):
    import hashlib

    from akhbar import NerTagger
    from akhbar.formats import formats

    package = trained / "models" / "ner-sample"
    articles, _ = read_articles(SAMPLE / "test.jsonl", SCHEMA)
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(
        "".join(json.dumps({"id": a["id"], "text": a["text"]}, ensure_ascii=False) + "\n" for a in articles)
    )
    out = tmp_path / "out"
    assert cli(["predict", "--model", str(package), str(inputs), "--format", fmt, "--output", str(out)]) == 0
    version = f"ner-sample@{hashlib.sha256((package / 'manifest.json').read_bytes()).hexdigest()[:12]}"
    assert version in capsys.readouterr().out
    predicted = NerTagger.from_pretrained(package).predict([a["text"] for a in articles])
    if fmt == "label-studio":
        tasks = json.loads(out.read_text(encoding="utf-8"))
        assert all(t["predictions"][0]["model_version"] == version for t in tasks)
        scores = [r["score"] for t in tasks for r in t["predictions"][0]["result"]]
        assert scores == [e["score"] for entities in predicted for e in entities]
    if fmt == "prodigy":  # predictions are not answers: nothing there to read back as examples
        assert all("answer" not in json.loads(line) for line in out.read_text(encoding="utf-8").splitlines())
        return
    back, _ = read_articles(out, SCHEMA)
    if formats()[fmt].holds_text:  # the same spans at the same offsets, in the same articles
        by_id = {a["id"]: a for a in back}
        got = [[(e["start"], e["end"], e["label"]) for e in by_id[a["id"]]["entities"]] for a in articles]
        assert got == [[(e["start"], e["end"], e["label"]) for e in entities] for entities in predicted]
    else:  # CoNLL re-spaces the text: the same span texts and labels, in order
        got = [[(a["text"][e["start"] : e["end"]], e["label"]) for e in a["entities"]] for a in back]
        assert got == [[(e["text"], e["label"]) for e in entities] for entities in predicted]


def test_cli_evaluate_reads_a_label_studio_export_like_jsonl(trained, capsys, tmp_path):
    from akhbar.formats import write_articles

    articles, _ = read_articles(SAMPLE / "test.jsonl", SCHEMA)
    export = tmp_path / "export.json"
    write_articles(articles, export, "label-studio")
    package = str(trained / "models" / "ner-sample")
    assert (
        cli(["evaluate", "--model", package, "--data", str(SAMPLE / "test.jsonl"), "--output", str(tmp_path / "a")])
        == 0
    )
    assert cli(["evaluate", "--model", package, "--data", str(export), "--output", str(tmp_path / "b")]) == 0
    a, b = (json.loads((tmp_path / d / "eval_report.json").read_text(encoding="utf-8")) for d in "ab")
    assert a["strict"] == b["strict"] and a["strict"]["micro"]["support"] > 0

"""Train a few steps -> evaluate -> package -> load with plain transformers -> NerTagger -> CLI."""

import json
import re
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE, train_args
from transformers import AutoModelForTokenClassification, pipeline

from akhbar import NerTagger
from akhbar.articles import read_articles
from akhbar.cli import main as cli
from akhbar.config import DataArguments, ModelArguments
from akhbar.labels import bio_labels
from akhbar.tasks import get_task
from akhbar.training import load_base
from akhbar.training import main as train

pytestmark = pytest.mark.slow
SCHEMA = ["PERS", "LOC", "ORG", "MISC"]
NER = get_task("ner")


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
    assert report["engine"] == {"backend": "torch", "precision": "float32"}
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
                "--precision",  # the packaged report is measured in float32 (auto may take bfloat16)
                "float32",
            ]
        )
        == 0
    )
    packaged = json.loads((package / "eval_report.json").read_text(encoding="utf-8"))
    again = json.loads((trained / "eval" / "eval_report.json").read_text(encoding="utf-8"))
    assert again["strict"] == packaged["strict"] and again["lenient"] == packaged["lenient"]
    assert (trained / "eval" / "eval_report.md").is_file()


def test_cli_predict_prints_one_json_line_per_input_line(trained, capsys, tmp_path):
    # Blank lines get a result too, ids are carried through, a bare \r stays inside its text, and a byte-order
    # mark at the start is not text: output line k answers input line k.
    inputs = tmp_path / "in.txt"
    inputs.write_bytes(
        (
            '\ufeff{"id": "a-1", "text": "زار الوزير بيروت"}\r\nوصل الوفد\rإلى عمّان\n\n{"text": "قال مُحَمَّد", "id": 7}\n'
        ).encode()
    )
    assert cli(["predict", "--model", str(trained / "models" / "ner-sample"), str(inputs)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["line"], r.get("id")) for r in lines] == [(1, "a-1"), (2, None), (3, None), (4, 7)]
    assert lines[2]["entities"] == [] and all(isinstance(r["entities"], list) for r in lines)
    for r, text in zip(lines, ["زار الوزير بيروت", "وصل الوفد\rإلى عمّان", "", "قال مُحَمَّد"]):
        assert all(text[e["start"] : e["end"]] == e["text"] for e in r["entities"])


@pytest.mark.parametrize(
    ("content", "options", "fault"),
    [
        (b"\xd8\xb2\xd8\xa7\xd8\xb1\n\xff\xfe\n", [], r"in.txt:2: invalid UTF-8 at byte 1"),
        (b'{"text": "\\ud83d x"}\n', [], r"in.txt:1: text has an unpaired surrogate U\+D83D at index 0"),
        (b'{"text": ' + b"[" * 100000 + b"]" * 100000 + b"}\n", [], r"in.txt:1: JSON nested too deeply to read"),
        (b"{" + b'"a":{' * 100000 + b"\n", [], r"in.txt:1: (invalid JSON|JSON nested too deeply)"),
        ("زار بيروت\n".encode() * 2 + "ب".encode() * 300 + b"\n", ["--max-chars", "100"], r"in.txt:3: line longer"),
        (b'{"text": "' + b"x" * 90 + b'"}\n', ["--max-chars", "80"], r"in.txt:1: an article of 90 characters is over"),
        (b"x\n", ["--max-chars", "0"], r"--max-chars must be at least 1"),
    ],
    ids=["invalid-utf8", "lone-surrogate", "json-array", "deep-json", "long-line", "long-text", "max-chars-0"],
)
def test_cli_predict_bad_input_is_one_line_after_the_good_lines(trained, capsys, tmp_path, content, options, fault):
    inputs = tmp_path / "in.txt"
    inputs.write_bytes(content)
    assert cli(["predict", "--model", str(trained / "models" / "ner-sample"), *options, str(inputs)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and re.search(fault, err), err
    if "in.txt:2:" in fault:  # what came before the bad line was answered
        assert json.loads(captured.out)["line"] == 1


def test_cli_predict_endless_input_and_folders_are_refused_quickly(trained, capsys, tmp_path):
    import time

    package = str(trained / "models" / "ner-sample")
    started = time.perf_counter()
    assert cli(["predict", "--model", package, "--max-chars", "100000", "/dev/zero"]) == 2
    assert "/dev/zero:1: line longer than --max-chars 100,000 characters" in capsys.readouterr().err
    assert time.perf_counter() - started < 30
    assert cli(["predict", "--model", package, str(tmp_path)]) == 2
    assert "is a folder; predict reads a file" in capsys.readouterr().err
    fifo = tmp_path / "pipe"
    import os
    import threading

    os.mkfifo(fifo)
    threading.Thread(target=lambda: fifo.write_text("زار الوزير بيروت\n", encoding="utf-8"), daemon=True).start()
    assert cli(["predict", "--model", package, str(fifo)]) == 0
    assert json.loads(capsys.readouterr().out)["line"] == 1
    # An empty file runs (nothing to predict is not an error) but says so, unlike an empty stream.
    (tmp_path / "empty.txt").write_bytes(b"")
    assert cli(["predict", "--model", package, str(tmp_path / "empty.txt")]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == f"warning: {tmp_path / 'empty.txt'}: the file is empty; nothing to predict\n"


def test_cli_predict_streams(trained):
    # The first result comes back while standard input is still open: nothing waits for the end of input.
    import os
    import select
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "akhbar.cli", "predict", "--model", str(trained / "models" / "ner-sample")]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        process.stdin.write("زار الوزير بيروت\n".encode())
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], 120)
        assert ready, "no output within 120 s of the first line"
        assert json.loads(process.stdout.readline())["line"] == 1
        process.stdin.write("وصل الوفد إلى عمّان\n".encode())
        process.stdin.close()
        assert json.loads(process.stdout.readline())["line"] == 2
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()


def test_cli_predict_progress_on_stderr(trained, capsys, tmp_path, monkeypatch):
    # A bar of articles done and articles/s on stderr when asked for or when stderr is a terminal; never on
    # stdout, which stays one JSON line per input line.
    import sys

    package = str(trained / "models" / "ner-sample")
    inputs = tmp_path / "in.txt"
    inputs.write_text("زار الوزير بيروت\n" * 5, encoding="utf-8")
    assert cli(["predict", "--model", package, str(inputs)]) == 0
    quiet = capsys.readouterr()
    assert "articles/s" not in quiet.err and len(quiet.out.splitlines()) == 5
    assert cli(["predict", "--model", package, str(inputs), "--progress"]) == 0
    shown = capsys.readouterr()
    assert re.search(r"predict: 5 articles \[[\d:]+, +[\d.]+ articles/s\]\n$", shown.err), shown.err
    assert len(shown.out.splitlines()) == 5 and "articles" not in shown.out
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli(["predict", "--model", package, str(inputs)]) == 0
    assert re.search(r"predict: 5 articles \[", capsys.readouterr().err)


def test_cli_info_and_version(trained, capsys):
    from akhbar import __version__

    with pytest.raises(SystemExit):
        cli(["--version"])
    assert capsys.readouterr().out.strip() == f"akhbar {__version__}"
    package = trained / "models" / "ner-sample"
    assert cli(["info", str(package)]) == 0
    out = capsys.readouterr().out
    report = json.loads((package / "eval_report.json").read_text(encoding="utf-8"))
    assert f"{package}: akhbar ner package, verified" in out and "labels: PERS, LOC, ORG, MISC" in out
    assert f"strict F1 {100 * report['strict']['micro']['f1']:.1f}%" in out and "model.safetensors" in out
    assert cli(["info", "/nope/model"]) == 2
    assert "'/nope/model' is not a local folder" in capsys.readouterr().err


def test_a_mistyped_model_folder_gets_the_nearest_name(tmp_path, monkeypatch):
    # It said only that the hub could not fetch 'models/ner-sampel' (the hub client's long reason), not that
    # models/ner-sample is right there.
    from akhbar.inference import resolve_model_dir

    (tmp_path / "models" / "ner-sample").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    for name in ("models/ner-sampel", str(tmp_path / "models" / "ner-sampel")):  # a hub id, and no hub id
        with pytest.raises(FileNotFoundError, match=r"is not a local folder .*; did you mean .*models/ner-sample\?$"):
            resolve_model_dir(name)
    with pytest.raises(FileNotFoundError, match=r"; models/ holds ner-sample$"):
        resolve_model_dir("models/zzz")
    # train.py's base model, the same.
    with pytest.raises(FileNotFoundError, match=r"\(did you mean models/ner-sample\?\)\. Download it"):
        load_base(ModelArguments(model_name_or_path="models/ner-sampel"), NER, SCHEMA, DataArguments(max_length=256))


def test_cli_package_again_and_refuse_overwrite(trained, capsys):
    dest = trained / "models" / "again"
    assert cli(["package", str(trained / "run"), "--output", str(dest)]) == 0
    assert (dest / "eval_report.json").is_file()
    assert cli(["package", str(trained / "run"), "--output", str(dest)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err


def test_cli_package_says_what_a_run_folder_lacks(random_packages, tmp_path, capsys, monkeypatch):
    import shutil

    # Not a finished run (no akhbar.json): the error told a user running `akhbar package RUN_DIR` to run it.
    (tmp_path / "killed" / "checkpoint-2").mkdir(parents=True)
    assert cli(["package", str(tmp_path / "killed"), "--output", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "killed: no akhbar.json: not a finished train.py run folder" in err and "akhbar package RUN_DIR" not in err
    # The run's test file, recorded relative to the folder train.py ran in, read from another: say so, and --data.
    run = tmp_path / "run"
    shutil.copytree(random_packages[0], run)
    (run / "run_config.json").write_text(json.dumps({"data": {"test": {"file": "data/sample/test.jsonl"}}}))
    monkeypatch.chdir(tmp_path)
    assert cli(["package", str(run), "--output", str(tmp_path / "b")]) == 2
    assert capsys.readouterr().err == (
        "error: data/sample/test.jsonl: the run's test file (run_config.json) is not there: a relative path is "
        "read from the current folder, so run from the one train.py ran in, or pass --data FILE\n"
    )
    assert not (tmp_path / "b").exists()


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


def test_overwrite_replaces_a_previous_run_and_leaves_nothing_aside(tiny_model_dir, tmp_path):
    first = train_args(
        "ner-sample.yaml",
        tiny_model_dir,
        tmp_path,
        max_steps=4,
        save_steps=2,
        eval_steps=2,
        eval_strategy="steps",
        save_strategy="steps",
    )
    train(first)
    assert (tmp_path / "run" / "checkpoint-2").is_dir()
    train([*train_args("ner-sample.yaml", tiny_model_dir, tmp_path, max_steps=3), "--overwrite_output_dir", "true"])
    run = tmp_path / "run"
    assert not (run / "checkpoint-2").exists() and (run / "run_config.json").is_file()
    assert json.loads((run / "trainer_state.json").read_text(encoding="utf-8"))["global_step"] == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert NerTagger.from_pretrained(tmp_path / "models" / "ner-sample")


def test_early_stopping_is_said_and_carded(tiny_model_dir, tmp_path, caplog):
    # A loss that "should grow" never improves: the run stops after patience + 1 evaluations, and says so.
    import logging

    caplog.set_level(logging.INFO, logger="akhbar")
    args = train_args(
        "ner-sample.yaml",
        tiny_model_dir,
        tmp_path,
        max_steps=40,
        eval_strategy="steps",
        eval_steps=2,
        save_strategy="steps",
        save_steps=2,
        early_stopping_patience=1,
        metric_for_best_model="loss",
        greater_is_better="true",
    )
    train(args)
    run = json.loads((tmp_path / "run" / "run_config.json").read_text(encoding="utf-8"))
    assert run["stopped_early"] and run["trained_steps"] == 4 and run["planned_steps"] == 40
    assert "early stopping: no better loss in 1 evaluations; stopped at step 4 of 40" in caplog.text
    card = (tmp_path / "models" / "ner-sample" / "README.md").read_text(encoding="utf-8")
    assert "Early stopping ended training after 4 of 40 steps" in card


def test_no_evaluation_during_training_runs_without_early_stopping(tiny_model_dir, tmp_path, caplog):
    # eval_strategy no with the default patience: transformers' callback asserted ("EarlyStoppingCallback
    # requires IntervalStrategy of steps or epoch") in a traceback; now the run trains, packages and says why.
    import logging

    caplog.set_level(logging.INFO, logger="akhbar")
    train(train_args("ner-sample.yaml", tiny_model_dir, tmp_path, max_steps=3, eval_strategy="no",
                     load_best_model_at_end="false"))  # fmt: skip
    assert "eval_strategy no: validation is not scored during training, so early_stopping_patience 3" in caplog.text
    assert NerTagger.from_pretrained(tmp_path / "models" / "ner-sample")


def test_a_run_without_evaluation_data_does_not_point_at_a_report(tiny_model_dir, tmp_path, caplog):
    # Without test and validation files nothing is evaluated; the last log line named eval_report.md anyway.
    import logging

    caplog.set_level(logging.INFO, logger="akhbar")
    nothing = {"validation_file": "null", "test_file": "null"}
    args = train_args("ner-sample.yaml", tiny_model_dir, tmp_path, max_steps=2, **nothing)
    train(args)
    package = tmp_path / "models" / "ner-sample"
    assert not (package / "eval_report.md").exists()
    assert "not evaluated: no test or validation data" in caplog.text and "eval_report.md" not in caplog.text


def test_unreachable_base_model_says_how_to_fix_it(monkeypatch, tiny_model_dir):
    import socket
    import time

    from huggingface_hub import constants

    started = time.perf_counter()
    # HF_HUB_OFFLINE (set for the tests): the cache is asked, nothing else.
    with pytest.raises(
        FileNotFoundError,
        match=r"'aubmindlab/bert-base-arabertv02': it is not a local folder and HF_HUB_OFFLINE is set and it is not "
        r"in the local hub cache.*--model_name_or_path DIR.*akhbar tiny-model",
    ):
        load_base(ModelArguments(), NER, SCHEMA, DataArguments(max_length=256))
    # A path that does not exist is no hub id either: certain at once.
    with pytest.raises(FileNotFoundError, match=r"'/nope/model' is not a local folder .* and not a hub repository id"):
        load_base(ModelArguments(model_name_or_path="/nope/model"), NER, SCHEMA, DataArguments(max_length=256))
    # A file (the weights file, say) is no folder, and exists: the message said "does not exist".
    weights = tiny_model_dir / "model.safetensors"
    with pytest.raises(FileNotFoundError, match=rf"'{weights}' is not a local folder \(it is a file: give the folder"):
        load_base(ModelArguments(model_name_or_path=str(weights)), NER, SCHEMA, DataArguments(max_length=256))
    # Online, but the hub's name does not resolve: no retries.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    def no_dns(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(FileNotFoundError, match=r"hub \(huggingface.co\) cannot be reached: .*HF_HUB_OFFLINE=1"):
        load_base(ModelArguments(), NER, SCHEMA, DataArguments(max_length=256))
    assert time.perf_counter() - started < 10


def test_max_length_beyond_the_position_embeddings_is_refused(tiny_model_dir):
    with pytest.raises(ValueError, match=r"max_length 100000 is longer than .* can read \(\d+ tokens"):
        load_base(ModelArguments(model_name_or_path=str(tiny_model_dir)), NER, SCHEMA, DataArguments(max_length=100000))


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
    from akhbar.tasks.ner import evaluate_ner

    package = trained / "models" / "ner-sample"
    best = json.loads((package / "run_config.json").read_text(encoding="utf-8"))["best_validation"]
    tagger = NerTagger.from_pretrained(package, precision="float32")  # the Trainer evaluated in float32
    articles, _ = read_articles(SAMPLE / "validation.jsonl", SCHEMA)
    assert evaluate_ner(tagger, articles)["strict"]["micro"]["f1"] == pytest.approx(best["metric"], abs=1e-12)


def test_validation_score_under_length_grouping_equals_the_packaged_model_score(tiny_model_dir, tmp_path):
    # transformers 5 applies group_by_length to the evaluation sampler too; the score that picks the best
    # checkpoint must still be computed on the right rows. Held-out validation (half of train: 10 articles of
    # 4-5 windows of 32 tokens, most of them the same length, so a length sort reorders them at random)
    # scored by the Trainer equals NerTagger on those articles.
    args = train_args(
        "ner-sample.yaml",
        tiny_model_dir,
        tmp_path,
        validation_file="null",
        validation_split=0.5,
        train_sampling_strategy="group_by_length",
        max_length=32,
        stride=8,
        per_device_eval_batch_size=3,
        max_steps=120,
        eval_strategy="steps",
        eval_steps=40,
        save_strategy="steps",
        save_steps=40,
    )
    train(args)
    # bench/validation_parity.py re-reads the held-out articles as the run did and scores the package.
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "validation_parity.py"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["validation_articles"] == 10 and result["trainer_best"]["metric"] > 0
    assert result["packaged_strict_f1"] == pytest.approx(result["trainer_best"]["metric"], abs=1e-12)


def test_devices_that_are_not_there_are_one_line(trained, capsys, tmp_path, monkeypatch):
    import torch

    from akhbar.inference import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="unknown device 'banana'; use cpu, cuda or cuda:N"):
        resolve_device("banana")
    inputs = tmp_path / "in.txt"
    inputs.write_text("زار الوزير بيروت\n", encoding="utf-8")
    assert cli(["predict", "--model", str(trained / "models" / "ner-sample"), "--device", "cuda", str(inputs)]) == 2
    assert (
        capsys.readouterr().err == "error: device 'cuda': this machine (or this torch build) has no CUDA GPU; use cpu\n"
    )


def test_batching_defaults_by_device_and_rejects_zero(trained):
    package = trained / "models" / "ner-sample"
    tagger = NerTagger.from_pretrained(package, device="cpu")  # CPU default: a token budget (BENCHMARKS.md)
    assert (tagger.batch_size, tagger.batch_tokens) == (None, 2048)
    tagger = NerTagger.from_pretrained(package, device="cpu", batch_size=3)  # one bound given: only that one
    assert (tagger.batch_size, tagger.batch_tokens) == (3, None)
    for name in ("batch_size", "batch_tokens"):
        with pytest.raises(ValueError, match=f"{name} must be at least 1, not 0"):
            NerTagger.from_pretrained(package, **{name: 0})


def test_chunks_do_not_change_predictions(trained, monkeypatch):
    # Texts are read in chunks of about CHUNK_CHARS characters (memory bounded by the chunk): chunks of one
    # article each give the same tags and scores as one chunk.
    import akhbar.inference
    from akhbar.inference import chunked

    assert [len(c) for c in chunked(["ab", "c", "def", "g"], len, budget=3)] == [2, 1, 1]
    assert [len(c) for c in chunked(range(20), lambda i: 1, budget=100, max_items=8, first=1)] == [1, 2, 4, 8, 5]
    articles, _ = read_articles(SAMPLE / "test.jsonl", SCHEMA)
    texts = [a["text"] for a in articles]
    tagger = NerTagger.from_pretrained(trained / "models" / "ner-sample", precision="float32")
    whole = tagger.tag(texts)
    monkeypatch.setattr(akhbar.inference, "CHUNK_CHARS", 10)
    assert [t.tags for t in tagger.tag(texts)] == [t.tags for t in whole]
    assert [t.scores for t in tagger.tag(texts)] == [pytest.approx(t.scores, abs=1e-6) for t in whole]
    assert list(tagger.iter_predict(iter(texts))) == tagger.predict(texts)


def test_batching_does_not_change_predictions(trained):
    # One window per pass, small token budgets (windows that exceed them go alone) and the default: the same
    # tags, up to float rounding in the probabilities.
    articles, _ = read_articles(SAMPLE / "test.jsonl", SCHEMA)
    texts = [a["text"] for a in articles]
    package = trained / "models" / "ner-sample"
    # float32: in bfloat16 the rounding depends on the batch's shape (up to ~1e-3 in a probability).
    reference = NerTagger.from_pretrained(package, batch_size=1, precision="float32").tag(texts)
    for options in ({"batch_tokens": 100}, {"batch_tokens": 1}, {"batch_size": 2, "batch_tokens": 500}, {}):
        tagged = NerTagger.from_pretrained(package, precision="float32", **options).tag(texts)
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


def rehash(folder):
    """Rewrite a package's manifest over its current files (what someone who edits a package could do)."""
    from akhbar.manifest import write_manifest

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    write_manifest(folder, {k: v for k, v in manifest.items() if k not in ("format", "files")})


def edit_json(path, **changes):
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


def edit_manifest(folder, change):
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest["files"])
    path.write_text(json.dumps(manifest), encoding="utf-8")


def fifo(folder):
    import os

    os.mkfifo(folder / "pipe")


def shrink_labels(folder):
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["id2label"] = {"0": "O", "1": "B-LOC", "2": "I-LOC"}
    config["label2id"] = {v: int(k) for k, v in config["id2label"].items()}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")


def outside_entry(files):
    from akhbar.manifest import sha256

    files["/etc/hostname"] = {"sha256": sha256(Path("/etc/hostname")), "bytes": Path("/etc/hostname").stat().st_size}


# Packages broken in ways the manifest alone does not show (re-hashed after the edit) or that attack it.
HOSTILE = {
    "entry-outside": (lambda d: edit_manifest(d, outside_entry), r"entry '/etc/hostname' is not a path inside"),
    "entry-parent": (
        lambda d: edit_manifest(d, lambda f: f.update({"../x": f["config.json"]})),
        r"entry '\.\./x' is not a path inside the package",
    ),
    "entry-malformed": (
        lambda d: edit_manifest(d, lambda f: f.update({"config.json": "x"})),
        r"entry 'config.json' must map to",
    ),
    "symlink-to-device": (lambda d: d.joinpath("zero").symlink_to("/dev/zero"), r"zero: a symbolic link to something"),
    "fifo": (fifo, r"pipe: not a regular file"),
    "pickle-upper-case": (lambda d: d.joinpath("PYTORCH_MODEL.BIN").write_bytes(b"x"), r"pickle files \['PYTORCH"),
    "pickle-npy": (lambda d: d.joinpath("weights.npy").write_bytes(b"x"), r"pickle files \['weights.npy'\]"),
    "manifest-not-utf8": (lambda d: d.joinpath("manifest.json").write_bytes(b"{\xff}"), r"not UTF-8"),
    "manifest-nested": (
        lambda d: d.joinpath("manifest.json").write_text("[" * 100000 + "]" * 100000),
        r"unreadable manifest \(RecursionError",
    ),
    "truncated-weights-rehashed": (
        lambda d: (
            d.joinpath("model.safetensors").write_bytes(d.joinpath("model.safetensors").read_bytes()[:-64]),
            rehash(d),
        ),
        r"pkg: the model does not load: ",
    ),
    "no-weights-rehashed": (
        lambda d: (d.joinpath("model.safetensors").unlink(), rehash(d)),
        r"pkg: the model does not load: ",
    ),
    "id2label-rehashed": (lambda d: (shrink_labels(d), rehash(d)), r"pkg: the model does not load|does not match"),
    "max-length-string": (
        lambda d: (edit_json(d / "akhbar.json", max_length="256"), rehash(d)),
        r"max_length must be an integer of at least 8, found '256'",
    ),
    "max-length-too-long": (
        lambda d: (edit_json(d / "akhbar.json", max_length=100000, stride=16), rehash(d)),
        r"max_length 100000 is longer than its encoder can read",
    ),
    "garbage-tokenizer-rehashed": (
        lambda d: (d.joinpath("tokenizer.json").write_text('{"nonsense": 1}'), rehash(d)),
        r"pkg: the tokenizer does not load: ",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_or_broken_packages_give_one_line(trained, tmp_path, capsys, name):
    import shutil

    tamper, fault = HOSTILE[name]
    copy = tmp_path / "pkg"
    shutil.copytree(trained / "models" / "ner-sample", copy)
    tamper(copy)
    with pytest.raises(ValueError, match=fault):
        NerTagger.from_pretrained(copy)
    text = tmp_path / "in.txt"
    text.write_text("زار الوزير بيروت\n", encoding="utf-8")
    assert cli(["predict", "--model", str(copy), str(text)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and re.search(fault, err), err


def test_evaluate_refuses_to_write_into_a_package(trained, capsys):
    package = trained / "models" / "ner-sample"
    for out in (package, package / "eval"):
        assert (
            cli(["evaluate", "--model", str(package), "--data", str(SAMPLE / "test.jsonl"), "--output", str(out)]) == 2
        )
        assert "inside the package" in capsys.readouterr().err
    assert NerTagger.from_pretrained(package)  # still verifies


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


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # --output alone was ignored: the results went to stdout and no file was written.
        (["--output", "out.jsonl"], "--output needs --format"),
        # These two were found only after the model had read the whole input.
        (["--format", "nope", "--output", "out"], "unknown data format 'nope'"),
        (["--format", "jsonl"], "--format jsonl writes to a file or folder: give it with --output"),
        # Was a bare "[Errno 2] No such file or directory" after the model had run.
        (["--format", "jsonl", "--output", "no/such/folder/out.jsonl"], "cannot write there, the folder"),
    ],
)
@pytest.mark.parametrize("command", [["predict", "--model", "/nope"], ["analyze", "--ner", "/nope", "--events", "/no"]])
def test_cli_predict_output_options_are_checked_before_anything_runs(tmp_path, capsys, command, options, message):
    inputs = tmp_path / "in.txt"
    inputs.write_text("زار وزير الخارجية عمّان أمس.\n", encoding="utf-8")
    assert cli([*command, str(inputs), *options]) == 2
    assert message in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["in.txt"]


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

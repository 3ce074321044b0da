"""One contract for every registered task: train -> package -> load -> predict -> evaluate -> ONNX.

A new task registered in akhbar.tasks gets all of these checks without a line here (as flair's shared model
test does for its models). Packages built before the task refactor still load and predict the same.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, SAMPLE, train_args

from akhbar.tasks import Task, get_task, task_names

TASKS = task_names()
LEGACY = ROOT / "tests" / "data" / "legacy"


def test_every_task_fills_the_contract():
    assert {"ner", "events", "sentence_events", "arguments"} <= set(TASKS)
    for name in TASKS:
        task = get_task(name)
        assert isinstance(task, Task) and task.name == name
        for attribute in ("best_metric", "prediction_unit", "pipeline_tag", "card_tags", "model_index_task"):
            assert getattr(task, attribute), (name, attribute)
        assert (ROOT / task.example_config).is_file()
    with pytest.raises(ValueError, match="unknown task 'pos'; choose one of arguments, events, ner, sentence_events"):
        get_task("pos")


def test_importing_one_task_module_first_still_registers_every_task():
    code = "import akhbar.tasks.ner; from akhbar.tasks import task_names; print(' '.join(task_names()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == TASKS


def test_cards_and_reports_render_without_torch():
    # Rendering a model card (and the report it quotes) needs no torch: a registry of light task modules.
    code = (
        "import sys, json;"
        "from akhbar.model_card import render_card;"
        "from akhbar.settings import PackageSettings;"
        f"d = {str(LEGACY / 'ner-sample')!r};"
        "s = PackageSettings.load(d);"
        "r = json.load(open(d + '/eval_report.json'));"
        "card = render_card('x', s, {}, r);"
        "assert 'strict micro F1' in card;"
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "False"]


def check_predictions(texts, predictions):
    """Scores in [0, 1]; an empty text predicts nothing; spans point into their text."""
    assert len(predictions) == len(texts)
    assert predictions[0] == []  # the empty text
    for text, found in zip(texts, predictions):
        for item in found:
            assert 0.0 <= item["score"] <= 1.0
            if "start" in item:
                assert text[item["start"] : item["end"]] == item["text"]


@pytest.mark.slow
@pytest.mark.parametrize("name", TASKS)
def test_train_package_load_predict_evaluate_export(name, tiny_model_dir, tmp_path):
    from akhbar.articles import read_articles
    from akhbar.evaluation import evaluate, read_for
    from akhbar.inference import load_package
    from akhbar.onnx.export import export_onnx
    from akhbar.training import main as train

    task = get_task(name)
    config = ROOT / task.example_config
    # The example config's data folder: the sample articles, or a task's own sample (data/sample/arguments).
    data = ROOT / Path(yaml.safe_load(config.read_text(encoding="utf-8"))["test_file"]).parent
    train(train_args(config.name, tiny_model_dir, tmp_path, data, max_steps=8, early_stopping_patience=1000))
    package = next((tmp_path / "models").iterdir())
    directory, settings = load_package(package)
    assert settings.task == name

    # Plain transformers loads it, with the labels the task says.
    model = task.model_class().from_pretrained(package, use_safetensors=True)
    assert [model.config.id2label[i] for i in sorted(model.config.id2label)] == task.model_labels(
        task.schema_of(settings)
    )

    # akhbar loads it and predicts on an empty text, one word and a long article.
    predictor = task.predictor_class().from_pretrained(package, device="cpu", precision="float32")
    long_article = "\n".join(a["text"] for a in read_articles(SAMPLE / "train.jsonl")[0][:6])
    texts = ["", "بيروت", long_article]
    check_predictions(texts, predictor.predict(texts))

    # Evaluating the package again reproduces the report packaged with it.
    articles, _ = read_for(settings, data / "test.jsonl")
    report = evaluate(predictor, articles, data_name=str(data / "test.jsonl"))
    packaged = json.loads((package / "eval_report.json").read_text(encoding="utf-8"))
    report["data"]["split"], report["data"]["skipped_records"] = "test", 0
    assert report == packaged

    # The ONNX export reproduces the PyTorch logits, and the onnx backend the predictions.
    result = export_onnx(package)
    assert result["unit"] == task.prediction_unit
    assert result["parity"]["onnx/model.onnx"]["max_abs_diff"] <= 1e-3
    onnx = task.predictor_class().from_pretrained(package, backend="onnx")
    texts += [a["text"] for a in articles]
    torch_out, onnx_out = predictor.predict(texts), onnx.predict(texts)
    check_predictions(texts, onnx_out)

    def key(p: dict) -> tuple:  # entities and events say "label", arguments "role"
        return p.get("start"), p.get("label", p.get("role"))

    assert [[key(p) for p in found] for found in onnx_out] == [[key(p) for p in found] for found in torch_out]


@pytest.mark.parametrize("name", ["ner-sample", "events-sample"])
def test_packages_from_before_the_refactor_load_and_predict_the_same(name):
    # Built at e8aeb9e (tests/data/legacy/README.md): the folder layout, settings and predictions are unchanged.
    from akhbar.inference import LoadOptions, load_package

    expected = json.loads((LEGACY / "expected.json").read_text(encoding="utf-8"))
    directory, settings = load_package(LEGACY / name)
    predictor = (
        get_task(settings.task).predictor_class().from_verified(directory, settings, LoadOptions(precision="float32"))
    )
    texts = expected["texts"]
    if settings.task == "ner":
        tagged = predictor.tag(texts)
        assert [t.tags for t in tagged] == expected["ner_tags"]
        for got, want in zip(tagged, expected["ner_scores"]):
            np.testing.assert_allclose(got.scores, want, atol=1e-6)
        assert predictor.predict(texts) == expected["ner_entities"]
    else:
        np.testing.assert_allclose(predictor.scores(texts), expected["event_scores"], atol=1e-6)
        # The one change: an empty text reports no events (issue 13) where the old code answered for [CLS] [SEP].
        want = [[] if not text.strip() else events for text, events in zip(texts, expected["events"])]
        assert predictor.predict(texts) == want


def test_every_task_predictor_is_importable_from_the_package():
    # README's examples import each task's predictor from `akhbar`; a new task's class must be there too.
    import akhbar

    for name in TASKS:
        cls = get_task(name).predictor_class()
        assert getattr(akhbar, cls.__name__) is cls, name
        assert cls.__name__ in akhbar.__all__, name

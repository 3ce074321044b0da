"""Reports a person reads: one unit per surface, and lenient below strict explained."""

from akhbar.metrics import ner_scores
from akhbar.model_card import render_card
from akhbar.preprocessing import PreprocessingConfig
from akhbar.settings import PackageSettings
from akhbar.tasks.ner import render_markdown


def report_for(gold, pred, lenient_only):
    scores = ner_scores(gold, pred)
    return {
        "task": "ner",
        "data": {
            "name": "x.jsonl",
            "articles": len(gold),
            "words": sum(map(len, gold)),
            "gold_entities": 1,
            "spans_extended_to_whole_words": 0,
            "gold_entities_unrepresentable": 0,
        },
        **scores,
        "lenient_only_predictions": lenient_only,
        "confusion_matrix": {"labels": ["O", "B-LOC"], "matrix": [[1, 0], [0, 1]]},
        "error_counts": {},
        "errors": [],
        "errors_total": 0,
    }


def test_percentages_are_labelled_and_lenient_below_strict_is_explained():
    # A stray I-PER after a LOC: strict IOB2 drops it, the lenient reading counts it as a (wrong) entity.
    report = report_for([["B-LOC", "O"]], [["B-LOC", "I-PER"]], lenient_only=1)
    assert report["strict"]["micro"]["f1"] == 1.0 and report["lenient"]["micro"]["f1"] < 1.0
    text = render_markdown(report, "t")
    assert "**Strict entity F1 (seqeval, IOB2): 100.0%** · lenient F1: 66.7%" in text
    assert "Lenient F1 is below strict here: the lenient (conlleval) reading counts 1 predicted fragments" in text
    settings = PackageSettings(
        task="ner",
        entity_labels=["LOC", "PER"],
        preprocessing=PreprocessingConfig(),
        max_length=64,
        stride=16,
        base_model="/some/local/encoder",
        akhbar_version="0",
    )
    card = render_card("m", settings, {}, report)
    assert card.startswith("---\n# metric values are fractions in [0, 1]")
    assert "value: 1.0" in card and "strict micro F1 100.0%" in card and "Lenient F1 is below strict" in card
    assert "from `encoder` (a local folder)" in card and "/some/local" not in card
    # Lenient at or above strict: no note.
    assert "Lenient F1 is below" not in render_markdown(report_for([["B-LOC", "O"]], [["B-LOC", "O"]], 0), "t")


def test_reports_of_other_engines_get_their_own_folder():
    from pathlib import Path

    from akhbar.evaluation import report_folder

    torch32 = {"backend": "torch", "precision": "float32"}
    assert report_folder("models/ner", "data/test.jsonl", torch32) == Path("eval/ner-test")
    assert report_folder("models/ner", "test.jsonl", {**torch32, "precision": "bfloat16"}) == Path(
        "eval/ner-test-bfloat16"
    )
    onnx = {"backend": "onnx", "precision": "float32", "onnx_file": "model.int8.onnx"}
    assert report_folder("models/ner", "test.jsonl", onnx) == Path("eval/ner-test-model-int8")
    report = report_for([["B-LOC"]], [["B-LOC"]], 0)
    assert "Run with: not recorded." in render_markdown(report, "t")
    assert "Run with: onnx, `model.int8.onnx`, float32." in render_markdown({**report, "engine": onnx}, "t")

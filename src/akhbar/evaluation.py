"""One entry point for evaluating a loaded model of either task on an annotated file."""

from __future__ import annotations

from pathlib import Path

from .articles import LoadReport, ReadOptions, read_articles
from .event_report import evaluate_events, write_event_report
from .events import check_events
from .report import evaluate_ner, pct, write_report
from .settings import PackageSettings


def read_for(
    settings: PackageSettings, path: str | Path, skip_invalid: bool = False, options: ReadOptions | None = None
) -> tuple[list[dict], LoadReport]:
    """Read ``path`` (any format of :mod:`akhbar.formats`) checked against the model's schema (entity types;
    event labels for event models).

    CoNLL sentences are joined into articles as they were in training (``settings.join_sentences``).
    """
    articles, load = read_articles(path, settings.entity_labels or None, skip_invalid, settings.join_sentences, options)
    if settings.task == "events":
        check_events(articles, str(path), settings.event_labels, settings.multi_label, " (this model is single-label)")
    return articles, load


def evaluate(predictor, articles: list[dict], data_name: str, show_progress: bool = False) -> dict:
    """Score a NerTagger or an EventClassifier on ``articles``; the report records how the model ran."""
    if predictor.settings.task == "events":
        report = evaluate_events(predictor, articles, data_name=data_name, show_progress=show_progress)
    else:
        report = evaluate_ner(predictor, articles, data_name=data_name, show_progress=show_progress)
    report["engine"] = engine(predictor)
    return report


def engine(predictor) -> dict:
    """Backend, precision (and ONNX file) of a loaded predictor: what its figures were measured with."""
    out = {"backend": predictor.backend, "precision": predictor.precision}
    if predictor.backend == "onnx":
        out["onnx_file"] = Path(predictor.model.path).name
    return out


def report_folder(model: str | Path, data: str | Path, engine: dict) -> Path:
    """``eval/<model>-<data>`` for PyTorch float32, with the engine appended otherwise (so an ONNX or bfloat16
    evaluation of the same model and data does not overwrite the PyTorch one)."""
    name = f"{Path(model).name}-{Path(data).stem}"
    if engine.get("onnx_file"):
        name += "-" + Path(engine["onnx_file"]).name.removesuffix(".onnx").replace(".", "-")
    elif engine["precision"] != "float32":
        name += f"-{engine['precision']}"
    return Path("eval") / name


def write(report: dict, directory: str | Path, title: str) -> None:
    """Write the report files of either task into ``directory``."""
    if report["task"] == "events":
        write_event_report(report, directory, title)
    else:
        write_report(report, directory, title)


def headline(report: dict) -> str:
    """One line for logs and the CLI (percentages, as in the Markdown report)."""
    if report["task"] == "events":
        macro, micro = report["macro"]["f1"], report["micro"]["f1"]
        return f"macro F1 {pct(macro)}  micro F1 {pct(micro)}  accuracy {pct(report['accuracy'])}"
    return f"strict F1 {pct(report['strict']['micro']['f1'])}  lenient F1 {pct(report['lenient']['micro']['f1'])}"

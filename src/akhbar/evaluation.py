"""One entry point for evaluating a loaded model of any task on annotated data: read, score, write.

Each step asks the package's task (:mod:`akhbar.tasks`); what is shared (the engine a report was measured
with, where reports go) is here.
"""

from __future__ import annotations

from pathlib import Path

from .articles import LoadReport, ReadOptions, read_articles
from .settings import PackageSettings
from .tasks import Predictor, get_task


def read_for(
    settings: PackageSettings, path: str | Path, skip_invalid: bool = False, options: ReadOptions | None = None
) -> tuple[list[dict], LoadReport]:
    """Read ``path`` (any format of :mod:`akhbar.formats`) checked against the model's schema (entity types;
    event labels for event models).

    CoNLL sentences are joined into articles as they were in training (``settings.join_sentences``).
    """
    articles, load = read_articles(path, settings.entity_labels or None, skip_invalid, settings.join_sentences, options)
    get_task(settings.task).check_articles(articles, str(path), settings)
    return articles, load


def evaluate(predictor: Predictor, articles: list[dict], data_name: str, show_progress: bool = False) -> dict:
    """Score a loaded package on ``articles`` as its task does; the report records how the model ran."""
    report = get_task(predictor.settings.task).evaluate(predictor, articles, data_name, show_progress)
    report["engine"] = engine(predictor)
    return report


def engine(predictor: Predictor) -> dict:
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
    """Write the report files of the report's task into ``directory``."""
    get_task(report["task"]).write_report(report, Path(directory), title)


def headline(report: dict) -> str:
    """One line for logs and the CLI (percentages, as in the Markdown report)."""
    return get_task(report["task"]).headline(report)

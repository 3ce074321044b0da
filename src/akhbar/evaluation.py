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
    settings: PackageSettings,
    path: str | Path,
    skip_invalid: bool = False,
    options: ReadOptions | None = None,
    any_entity_label: bool = False,
) -> tuple[list[dict], LoadReport]:
    """Read ``path`` (any format of :mod:`akhbar.formats`) checked against the model's schema (entity types;
    event labels for event models).

    CoNLL sentences are joined into articles as they were in training (``settings.join_sentences``).
    ``any_entity_label``: accept gold entity types the model does not have (a published model compared on
    other data: what it cannot find counts as missed).
    """
    schema = None if any_entity_label else settings.entity_labels or None
    articles, load = read_articles(path, schema, skip_invalid, settings.join_sentences, options)
    get_task(settings.task).check_articles(articles, str(path), settings)
    return articles, load


def evaluate(predictor: Predictor, articles: list[dict], data_name: str, show_progress: bool = False) -> dict:
    """Score a loaded package on ``articles`` as its task does; the report records how the model ran."""
    report = get_task(predictor.settings.task).evaluate(predictor, articles, data_name, show_progress)
    report["engine"] = engine(predictor)
    return report


def engine(predictor: Predictor) -> dict:
    """Backend, precision (and ONNX file) of a loaded predictor: what its figures were measured with; a model
    that is not a verified akhbar package says so (``verified: false``)."""
    out = {"backend": predictor.backend, "precision": predictor.precision}
    if predictor.backend == "onnx":
        out["onnx_file"] = Path(predictor.model.path).name
    if not getattr(predictor, "verified", True):
        out["verified"] = False
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


def compare(
    models: list[str],
    data: str | Path,
    options=None,
    skip_invalid: bool = False,
    read_options: ReadOptions | None = None,
    out: str | Path | None = None,
) -> dict:
    """Evaluate several models (akhbar packages or published checkpoints) of one task on one file, scored the
    same way, timed, in one table; each model's full report goes to ``out/<model>/``.

    Returns:
        ``{"data", "task", "rows": [{"model", "verified", "articles", "articles_per_s", <task figures>}]}``.

    Raises:
        ValueError: models of different tasks, or two models with the same folder name.
    """
    import time

    from .inference import LoadOptions, load_model

    options = options or LoadOptions()
    names = [Path(m).name for m in models]
    if len(set(names)) != len(names):
        raise ValueError(f"--models: two models share a folder name ({names}); their reports would collide")
    loaded = [load_model(m, options=options) for m in models]
    kinds = {item.settings.task for item in loaded}
    if len(kinds) != 1:
        raise ValueError(f"--models mixes tasks ({', '.join(sorted(kinds))}); compare models of one task")
    task = get_task(kinds.pop())
    rows = []
    for name, item in zip(names, loaded):
        articles, load = read_for(item.settings, data, skip_invalid, read_options, any_entity_label=not item.verified)
        predictor = task.predictor_class().from_verified(item.directory, item.settings, options, item.verified)
        started = time.perf_counter()
        report = evaluate(predictor, articles, data_name=str(data))
        seconds = time.perf_counter() - started
        report["data"]["skipped_records"] = len(load.skipped)
        if out is not None:
            write(report, Path(out) / name, title=f"{name} on {Path(data).name}")
        rows.append(
            {
                "model": name,
                "path": str(item.directory),
                "verified": item.verified,
                "articles": len(articles),
                "articles_per_s": round(len(articles) / seconds, 2) if seconds > 0 else None,
                **task.compare_figures(report),
            }
        )
    return {"data": str(data), "task": task.name, "rows": rows}


def compare_markdown(result: dict) -> str:
    """The comparison as a Markdown table (scores in %, speed in articles/s)."""
    from .report import pct

    figures = [k for k in result["rows"][0] if k not in ("model", "path", "verified", "articles", "articles_per_s")]
    for row in result["rows"][1:]:
        figures += [
            k for k in row if k not in figures and k not in ("model", "path", "verified", "articles", "articles_per_s")
        ]
    lines = [
        f"# {len(result['rows'])} {result['task']} models on `{result['data']}`",
        "",
        "| model | akhbar package | " + " | ".join(figures) + " | articles/s |",
        "|---|---|" + "---:|" * (len(figures) + 1),
    ]
    for row in result["rows"]:
        cells = [pct(row[k]) if row.get(k) is not None else "—" for k in figures]
        lines.append(
            f"| {row['model']} | {'yes' if row['verified'] else 'no (unverified)'} | "
            + " | ".join(cells)
            + f" | {row['articles_per_s']} |"
        )
    return "\n".join(lines) + "\n"

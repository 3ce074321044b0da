"""What every task's report shares: file names, units, tables and pictures for a person to read.

Each task writes its own ``eval_report.json`` (its scores) and ``eval_report.md`` (its tables) from these
pieces (:meth:`akhbar.tasks.base.Task.write_report`); scores are fractions in JSON and percentages here.
"""

from __future__ import annotations

import json
from pathlib import Path

REPORT_JSON = "eval_report.json"
REPORT_MD = "eval_report.md"
CONFUSION_PNG = "confusion_matrix.png"


def write_json(report: dict, directory: str | Path) -> Path:
    """Write ``eval_report.json`` into ``directory`` (made if missing) and return the folder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / REPORT_JSON).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return directory


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def pct(x: float) -> str:
    """A score for a person to read: a percentage with its sign (JSON, logs and the card's YAML keep
    fractions in [0, 1], the unit of seqeval, scikit-learn and the Trainer)."""
    return f"{100 * x:.1f}%"


def engine_text(report: dict) -> str:
    """How the model was run for a report: backend, precision and ONNX file (reports from before said none)."""
    engine = report.get("engine")
    if not engine:
        return "not recorded"
    onnx = f", `{engine['onnx_file']}`" if engine.get("onnx_file") else ""
    unverified = "; not an akhbar package, its files unverified" if engine.get("verified") is False else ""
    return f"{engine['backend']}{onnx}, {engine['precision']}{unverified}"


def confusion_table(cm: dict) -> list[str]:
    """A confusion matrix (``{"labels", "matrix"}``, rows gold) as Markdown table lines."""
    lines = ["| gold \\ pred | " + " | ".join(cm["labels"]) + " |", "|---|" + "---:|" * len(cm["labels"])]
    lines += [
        f"| {label} | " + " | ".join(str(v) for v in row) + " |" for label, row in zip(cm["labels"], cm["matrix"])
    ]
    return lines


def plot_confusion(cm: dict, path: Path, title: str) -> None:
    """Row-normalized confusion matrix heat map with counts (``title``: say what is counted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    matrix = np.array(cm["matrix"], dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    n = len(cm["labels"])
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * n, 0.8 + 0.6 * n), dpi=120)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), cm["labels"], rotation=45, ha="right")
    ax.set_yticks(range(n), cm["labels"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=9)
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(
                    j,
                    i,
                    int(matrix[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if share[i, j] > 0.5 else "black",
                )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

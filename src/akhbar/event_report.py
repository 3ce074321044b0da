"""Evaluate an event classifier on annotated articles; write the same report files as NER.

``eval_report.json`` (headline at ``macro.f1``), ``eval_report.md``, ``confusion_matrix.png``
(single-label) and one precision-recall curve per label (``pr_curve_<label>.png``). Scores come from
scikit-learn's metrics on the article-level probabilities that :class:`akhbar.inference.EventClassifier`
produces, so the report measures the model as users run it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
)

from .events import decide
from .report import CONFUSION_PNG, REPORT_JSON, REPORT_MD, engine_text, pct, plot_confusion


def classification_scores(
    probs: np.ndarray, gold: np.ndarray, labels: Sequence[str], multi_label: bool, thresholds: dict | None
) -> dict:
    """Accuracy, micro/macro and per-label P/R/F1/support; single-label: confusion matrix; multi-label:
    subset accuracy. ``gold``: label indices (single) or multi-hot rows (multi)."""
    n = len(labels)
    if multi_label:
        cut = np.array([(thresholds or {}).get(label, 0.5) for label in labels])
        pred = (probs >= cut).astype(int)
        gold = gold.astype(int)
        everything = None
    else:
        pred = probs.argmax(axis=-1)
        everything = list(range(n))
    out: dict = {"accuracy": float(accuracy_score(gold, pred))}
    if multi_label:
        out["subset_accuracy"] = out["accuracy"]  # every label of the article right
    for average in ("micro", "macro"):
        p, r, f, _ = precision_recall_fscore_support(gold, pred, labels=everything, average=average, zero_division=0)
        out[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=everything, average=None, zero_division=0)
    out["per_label"] = {
        label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, label in enumerate(labels)
    }
    if not multi_label:
        out["confusion_matrix"] = {
            "labels": list(labels),
            "matrix": confusion_matrix(gold, pred, labels=everything).tolist(),
            "note": "articles; rows gold, columns predicted",
        }
    return out


def gold_matrix(articles: Sequence[dict], labels: Sequence[str], multi_label: bool) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    if multi_label:
        gold = np.zeros((len(articles), len(labels)))
        for row, article in enumerate(articles):
            for event in article["events"]:
                gold[row, index[event]] = 1
        return gold
    return np.array([index[a["events"][0]] for a in articles])


def evaluate_events(
    classifier, articles: Sequence[dict], data_name: str = "data", show_progress: bool = False, max_errors: int = 200
) -> dict:
    """Score an :class:`~akhbar.inference.EventClassifier` on ``articles`` (their ``events`` field)."""
    settings = classifier.settings
    labels, multi = settings.event_labels, settings.multi_label
    probs = classifier.scores([a["text"] for a in articles], show_progress=show_progress)
    gold = gold_matrix(articles, labels, multi)
    scores = classification_scores(probs, gold, labels, multi, settings.thresholds)
    decided = decide(probs, labels, multi, settings.thresholds)
    errors = []
    for article, predicted in zip(articles, decided):
        names = sorted(p["label"] for p in predicted)
        if names != sorted(article["events"]):
            errors.append(
                {
                    "article": article["id"],
                    "gold": sorted(article["events"]),
                    "predicted": predicted,
                    "text": article["text"][:200],
                }
            )
    curves = {}
    for j, label in enumerate(labels):
        positives = gold[:, j] if multi else (gold == j).astype(int)
        if positives.any():
            precision, recall, _ = precision_recall_curve(positives, probs[:, j])
            curves[label] = {
                "average_precision": float(average_precision_score(positives, probs[:, j])),
                "base_rate": float(positives.mean()),
                "precision": [round(float(x), 4) for x in precision],
                "recall": [round(float(x), 4) for x in recall],
            }
    return {
        "task": "events",
        "mode": "multi-label" if multi else "single-label",
        "pooling": settings.pooling,
        "thresholds": settings.thresholds,
        "data": {
            "name": data_name,
            "articles": len(articles),
            "events_by_label": {
                label: int((gold[:, j] if multi else gold == j).sum()) for j, label in enumerate(labels)
            },
            "articles_without_event": int((gold.sum(axis=1) == 0).sum()) if multi else 0,
        },
        **scores,
        "precision_recall": curves,
        "errors_total": len(errors),
        "errors": errors[:max_errors],
    }


def score_table(report: dict) -> str:
    rows = ["| label | precision | recall | F1 | support | avg. precision |", "|---|---:|---:|---:|---:|---:|"]
    for label, s in report["per_label"].items():
        ap = report["precision_recall"].get(label, {}).get("average_precision")
        rows.append(
            f"| {label} | {pct(s['precision'])} | {pct(s['recall'])} | {pct(s['f1'])} | {s['support']} | "
            f"{'—' if ap is None else pct(ap)} |"
        )
    for average in ("micro", "macro"):
        s = report[average]
        rows.append(f"| **{average}** | {pct(s['precision'])} | {pct(s['recall'])} | {pct(s['f1'])} | | |")
    return "\n".join(rows)


def _file_label(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label) or "label"


def write_event_report(report: dict, directory: str | Path, title: str) -> None:
    """Write ``eval_report.json``/``.md``, the confusion matrix (single-label) and PR curves."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / REPORT_JSON).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    lines = [
        f"# Evaluation: {title}",
        "",
        f"Data: `{report['data']['name']}`: {report['data']['articles']} articles; {report['mode']} "
        f"({report['pooling']} pooling over windows). Run with: {engine_text(report)}.",
        "",
        f"**Macro F1: {pct(report['macro']['f1'])}** · micro F1: {pct(report['micro']['f1'])} · "
        + (
            f"subset accuracy: {pct(report['subset_accuracy'])}"
            if "subset_accuracy" in report
            else f"accuracy: {pct(report['accuracy'])}"
        ),
        "",
        score_table(report),
        "",
    ]
    if report["thresholds"]:
        lines += [
            "Decision thresholds (tuned on validation): "
            + ", ".join(f"{k} {v:.3f}" for k, v in report["thresholds"].items()),
            "",
        ]
    if "confusion_matrix" in report:
        cm = report["confusion_matrix"]
        lines += [
            "## Confusion matrix (articles, rows gold, columns predicted)",
            "",
            "| gold \\ pred | " + " | ".join(cm["labels"]) + " |",
            "|---|" + "---:|" * len(cm["labels"]),
        ]
        lines += [
            f"| {label} | " + " | ".join(str(v) for v in row) + " |" for label, row in zip(cm["labels"], cm["matrix"])
        ]
        lines += ["", f"![confusion matrix]({CONFUSION_PNG})", ""]
        plot_confusion(cm, directory / CONFUSION_PNG, title)
    lines += ["## Precision-recall curves", ""]
    for label, curve in report["precision_recall"].items():
        name = f"pr_curve_{_file_label(label)}.png"
        _plot_pr(curve, directory / name, f"{title}: {label}")
        lines.append(f"![{label}]({name})")
    lines += ["", f"## Errors ({report['errors_total']} articles)", ""]
    for e in report["errors"][:30]:
        predicted = ", ".join(f"{p['label']} {p['score']:.2f}" for p in e["predicted"]) or "none"
        text = e["text"].replace("|", "\\|").replace("\n", " ")
        lines.append(f"- `{e['article']}` gold: {', '.join(e['gold']) or 'none'}; predicted: {predicted}. {text}")
    (directory / REPORT_MD).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _plot_pr(curve: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4), dpi=110)
    ax.step(curve["recall"], curve["precision"], where="post")
    ax.axhline(curve["base_rate"], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(
        f"{title}\naverage precision {curve['average_precision']:.3f}, base rate {curve['base_rate']:.3f}", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

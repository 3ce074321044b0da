"""Evaluate a packaged NER model on annotated articles and write the report a person reads.

``eval_report.json`` (headline at ``strict.micro.f1``), ``eval_report.md`` and ``confusion_matrix.png``.
Predictions come from :class:`akhbar.inference.NerTagger`, so the report measures the model exactly as
users run it (same preprocessing, windows and merge).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from .inference import NerTagger
from .metrics import entity_sets, ner_scores
from .windows import AlignmentStats, word_tags

logger = logging.getLogger(__name__)

REPORT_JSON = "eval_report.json"
REPORT_MD = "eval_report.md"
CONFUSION_PNG = "confusion_matrix.png"


def _classify(error: tuple[int, int, str], others: set[tuple[int, int, str]]) -> str:
    """Name an unmatched entity by its nearest counterpart on the other side."""
    a, b, label = error
    overlapping = [o for o in others if o[0] < b and a < o[1]]
    if any((o[0], o[1]) == (a, b) for o in overlapping):
        return "wrong type"
    if any(o[2] == label for o in overlapping):
        return "wrong boundary"
    if overlapping:
        return "wrong type and boundary"
    return "no overlap"


def evaluate_ner(
    tagger: NerTagger,
    articles: Sequence[dict],
    data_name: str = "data",
    context_chars: int = 40,
    max_errors: int = 200,
    show_progress: bool = False,
) -> dict:
    """Score ``tagger`` on ``articles`` (gold spans in the native format) and collect its errors.

    Returns:
        The report dict written to ``eval_report.json``.
    """
    tagged = tagger.tag([a["text"] for a in articles], show_progress=show_progress)
    stats = AlignmentStats()
    y_true, y_pred = [], []
    errors: list[dict] = []
    lenient_only = 0
    for article, result in zip(articles, tagged):
        gold = word_tags(result.words, article["entities"], stats)
        y_true.append(gold)
        y_pred.append(result.tags)
        gold_set, pred_set = entity_sets(gold, strict=True), entity_sets(result.tags, strict=True)
        lenient_only += len(entity_sets(result.tags, strict=False) - pred_set)
        spans = result.words.original_spans
        text = article["text"]
        for side, own, other in (("false negative", gold_set, pred_set), ("false positive", pred_set, gold_set)):
            for ent in sorted(own - other):
                start, end = spans[ent[0]][0], spans[ent[1] - 1][1]
                kind = _classify(ent, other)
                if kind == "no overlap":
                    kind = "missed" if side == "false negative" else "spurious"
                errors.append(
                    {
                        "article": article["id"],
                        "kind": side,
                        "error": kind,
                        "label": ent[2],
                        "start": start,
                        "end": end,
                        "text": text[start:end],
                        "context": text[max(0, start - context_chars) : end + context_chars],
                    }
                )
    labels = list(tagger.id2label[i] for i in sorted(tagger.id2label))
    confusion = Counter((t, p) for ts, ps in zip(y_true, y_pred) for t, p in zip(ts, ps))
    scores = ner_scores(y_true, y_pred)
    error_kinds = Counter(f"{e['kind']}: {e['error']}" for e in errors)
    report = {
        "task": "ner",
        "data": {
            "name": data_name,
            "articles": len(articles),
            "words": sum(len(t) for t in y_true),
            "gold_entities": stats.entities,
            "gold_entities_by_type": dict(Counter(e["label"] for a in articles for e in a["entities"])),
            "spans_extended_to_whole_words": stats.extended_to_word,
            "gold_entities_unrepresentable": stats.lost,
            "words_without_token": sum(r.missing_words for r in tagged),
        },
        "strict": scores["strict"],
        "lenient": scores["lenient"],
        "lenient_only_predictions": lenient_only,
        "confusion_matrix": {
            "labels": labels,
            "matrix": [[confusion[(t, p)] for p in labels] for t in labels],
            "note": "word level (first sub-token of each word); rows gold, columns predicted",
        },
        "error_counts": dict(sorted(error_kinds.items())),
        "errors": errors[:max_errors],
        "errors_total": len(errors),
    }
    if stats.lost:
        logger.warning(
            "%d gold entities cover no word after preprocessing (e.g. %s) and are not scored; check the "
            "annotation or the preprocessing settings",
            stats.lost,
            stats.examples[:2],
        )
    return report


def write_report(report: dict, directory: str | Path, title: str) -> None:
    """Write ``eval_report.json``, ``eval_report.md`` and ``confusion_matrix.png`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / REPORT_JSON).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (directory / REPORT_MD).write_text(render_markdown(report, title), encoding="utf-8")
    plot_confusion(report["confusion_matrix"], directory / CONFUSION_PNG, title)


def _cell(text: str) -> str:
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
    return f"{engine['backend']}{onnx}, {engine['precision']}"


def lenient_note(report: dict) -> str | None:
    """Why lenient F1 is below strict F1, when it is (readers expect lenient >= strict)."""
    strict, lenient = report["strict"]["micro"]["f1"], report["lenient"]["micro"]["f1"]
    if lenient >= strict:
        return None
    extra = report.get("lenient_only_predictions", 0)
    return (
        f"Lenient F1 is below strict here: the lenient (conlleval) reading counts {extra} predicted fragments "
        "that strict IOB2 discards (an I- tag with no B- before it, or after another type) as entities, and most "
        "of them are wrong, so lenient precision falls."
    )


def score_table(report: dict) -> str:
    """Markdown table of strict and lenient scores: micro, macro and per type."""
    rows = [
        "| | strict P | strict R | strict F1 | lenient P | lenient R | lenient F1 | support |",
        "|---|" + "---:|" * 7,
    ]
    names = [("**micro**", "micro"), ("**macro**", "macro")]
    names += [(t, t) for t in sorted(report["strict"]["per_type"])]
    for shown, key in names:
        s = report["strict"]["per_type"].get(key) if key not in ("micro", "macro") else report["strict"][key]
        le = report["lenient"]["per_type"].get(key) if key not in ("micro", "macro") else report["lenient"][key]
        le = le or {"precision": 0.0, "recall": 0.0, "f1": 0.0}
        rows.append(
            f"| {shown} | {pct(s['precision'])} | {pct(s['recall'])} | {pct(s['f1'])} | {pct(le['precision'])} "
            f"| {pct(le['recall'])} | {pct(le['f1'])} | {s['support']} |"
        )
    return "\n".join(rows)


def render_markdown(report: dict, title: str) -> str:
    data = report["data"]
    cm = report["confusion_matrix"]
    lines = [
        f"# Evaluation: {title}",
        "",
        f"Data: `{data['name']}`: {data['articles']} articles, {data['words']} words, {data['gold_entities']} gold "
        f"entities. Run with: {engine_text(report)}.",
        "",
        f"**Strict entity F1 (seqeval, IOB2): {pct(report['strict']['micro']['f1'])}** · lenient F1: "
        f"{pct(report['lenient']['micro']['f1'])}",
        "",
        score_table(report),
        "",
        "Scores are percentages; `eval_report.json` has them as fractions.",
        "",
    ]
    if note := lenient_note(report):
        lines += [note, ""]
    if data["spans_extended_to_whole_words"] or data["gold_entities_unrepresentable"]:
        lines += [
            f"Alignment: {data['spans_extended_to_whole_words']} gold spans started or ended inside a word and were "
            f"scored as whole words (clitics stay attached); {data['gold_entities_unrepresentable']} gold "
            "entities covered no word after preprocessing and could not be scored.",
            "",
        ]
    lines += ["## Confusion matrix (words, rows gold, columns predicted)", ""]
    lines.append("| gold \\ pred | " + " | ".join(cm["labels"]) + " |")
    lines.append("|---|" + "---:|" * len(cm["labels"]))
    for label, row in zip(cm["labels"], cm["matrix"]):
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    lines += ["", f"![confusion matrix]({CONFUSION_PNG})", "", "## Errors (strict)", ""]
    if report["error_counts"]:
        lines += [f"- {kind}: {n}" for kind, n in report["error_counts"].items()]
        shown = report["errors"][:50]
        lines += [
            "",
            f"First {len(shown)} of {report['errors_total']} (all {len(report['errors'])} kept in {REPORT_JSON}):",
            "",
            "| article | kind | label | text | context |",
            "|---|---|---|---|---|",
        ]
        for e in shown:
            context = _cell(e["context"])
            lines.append(
                f"| {e['article']} | {e['kind']} ({e['error']}) | {e['label']} | {_cell(e['text'])} | {context} |"
            )
    else:
        lines.append("No errors.")
    return "\n".join(lines) + "\n"


def plot_confusion(cm: dict, path: Path, title: str) -> None:
    """Row-normalized confusion matrix heat map with counts."""
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
    ax.set_title(f"{title}\n(word level, row-normalized; numbers are counts)", fontsize=9)
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

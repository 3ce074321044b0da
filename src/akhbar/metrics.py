"""Scores, offline: entity-level NER scores with seqeval (strict IOB2 and default/lenient), and label scores
of article classifiers with scikit-learn.

``evaluate.load("seqeval")`` fetches its script from the hub; seqeval itself is a plain package, so it is
called directly.

Strict mode (``mode="strict", scheme=IOB2``) counts an entity only when its ``B-``/``I-`` tags form a valid
IOB2 chunk with the right type and both boundaries; it is the headline. The default mode is the lenient
conlleval reading (an ``I-X`` after ``O`` starts an entity).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from seqeval.metrics import classification_report
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOB2, Entities
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


def _report(y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]], strict: bool) -> dict:
    kwargs = {"mode": "strict", "scheme": IOB2} if strict else {}
    raw = classification_report(
        [list(s) for s in y_true], [list(s) for s in y_pred], output_dict=True, zero_division=0, **kwargs
    )
    out: dict = {"micro": {}, "macro": {}, "per_type": {}}
    for name, row in raw.items():
        scores = {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "support": int(row["support"]),
        }
        if name == "micro avg":
            out["micro"] = scores
        elif name == "macro avg":
            out["macro"] = scores
        elif name != "weighted avg":
            out["per_type"][name] = scores
    if not out["micro"]:  # seqeval leaves the averages out when there is no entity at all
        zero = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
        out["micro"], out["macro"] = dict(zero), dict(zero)
    return out


def ner_scores(y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]]) -> dict:
    """``{"strict": {...}, "lenient": {...}}``, each with micro, macro and per-type P/R/F1/support."""
    return {"strict": _report(y_true, y_pred, strict=True), "lenient": _report(y_true, y_pred, strict=False)}


def trainer_metrics(scores: dict) -> dict[str, float]:
    """The flat NER numbers the Trainer logs and selects checkpoints on."""
    return {
        "strict_f1": scores["strict"]["micro"]["f1"],
        "strict_precision": scores["strict"]["micro"]["precision"],
        "strict_recall": scores["strict"]["micro"]["recall"],
        "strict_macro_f1": scores["strict"]["macro"]["f1"],
        "lenient_f1": scores["lenient"]["micro"]["f1"],
    }


def entity_sets(tags: Sequence[str], strict: bool) -> set[tuple[int, int, str]]:
    """Entities of one tag sequence as ``(first, end_exclusive, type)``, read as the scores read them."""
    if strict:
        return {(e.start, e.end, e.tag) for e in Entities([list(tags)], IOB2).entities[0]}
    return {(a, b + 1, t) for t, a, b in get_entities(list(tags))}


def classification_scores(
    probs: np.ndarray, gold: np.ndarray, labels: Sequence[str], multi_label: bool, thresholds: dict | None
) -> dict:
    """Accuracy, micro/macro and per-label P/R/F1/support; single-label: confusion matrix; multi-label:
    subset accuracy. ``gold``: label indices (single) or multi-hot rows (multi), where ``-1`` marks a label
    the article was not judged for: such a cell is scored neither way (see :func:`masked_multi_label`)."""
    n = len(labels)
    if multi_label:
        cut = np.array([(thresholds or {}).get(label, 0.5) for label in labels])
        pred = (probs >= cut).astype(int)
        gold = np.asarray(gold).astype(int)
        if (gold < 0).any():
            return masked_multi_label(pred, gold, labels)
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


def masked_multi_label(pred: np.ndarray, gold: np.ndarray, labels: Sequence[str]) -> dict:
    """Multi-label scores over judged cells only (``gold`` ``-1``: not judged). Per label: the articles judged
    for it; micro: every judged cell; macro: the mean of the labels' F1; subset accuracy: articles whose
    judged labels are all right. With every cell judged these are sklearn's multi-label figures."""
    judged = gold >= 0

    def prf(p: np.ndarray, g: np.ndarray) -> tuple[float, float, float]:
        tp, fp, fn = int((p & g).sum()), int((p & ~g).sum()), int((~p & g).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    p_all, g_all = pred.astype(bool), gold == 1
    per_label = {}
    for j, label in enumerate(labels):
        rows = judged[:, j]
        precision, recall, f1 = prf(p_all[rows, j], g_all[rows, j])
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1, "support": int(g_all[rows, j].sum())}
    micro = prf(p_all[judged], g_all[judged])
    exact = float(np.mean([(p_all[i] == g_all[i])[judged[i]].all() for i in range(len(gold))])) if len(gold) else 0.0
    return {
        "accuracy": exact,
        "subset_accuracy": exact,
        "micro": dict(zip(("precision", "recall", "f1"), micro)),
        "macro": {k: float(np.mean([s[k] for s in per_label.values()])) for k in ("precision", "recall", "f1")},
        "per_label": per_label,
        "judged_cells": int(judged.sum()),
        "cells": int(judged.size),
    }

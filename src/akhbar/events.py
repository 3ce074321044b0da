"""Article-level event labels from window logits: pooling, probabilities, thresholds.

Shared by training (loss and validation metrics), evaluation and inference, so an article is scored the
same way everywhere: its windows' logits are pooled (mean or max per label) into one vector, then turned
into probabilities (softmax for single-label models, sigmoid for multi-label ones) and decided (the top
label, or every label whose probability reaches its threshold).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

POOLING = ("mean", "max")


def check_events(
    articles: Sequence[dict], source: str, labels: Sequence[str], multi_label: bool, hint: str = ""
) -> None:
    """Check every article's ``events`` against the label schema and the mode.

    Raises:
        ValueError: a label outside the schema, or (single-label) not exactly one label; names ``source``
            and the article, and ends with ``hint`` for the single-label case.
    """
    for article in articles:
        judged = article.get("judged")
        if judged is not None:
            outside = [e for e in judged if e not in labels]
            if outside:
                raise ValueError(
                    f"{source} (article {article['id']!r}): judged label(s) {outside} not in the schema {list(labels)}"
                )
            if not multi_label and set(judged) != set(labels):
                raise ValueError(
                    f"{source} (article {article['id']!r}): judged for {judged} only; a single-label model needs "
                    f"every article judged for all of {list(labels)} (or set multi_label: true)"
                )
        unknown = [e for e in article["events"] if e not in labels]
        if unknown:
            raise ValueError(
                f"{source} (article {article['id']!r}): event label(s) {unknown} not in the schema {list(labels)}"
            )
        if not multi_label and len(article["events"]) != 1:
            raise ValueError(
                f"{source} (article {article['id']!r}): has {len(article['events'])} event labels "
                f"{article['events']}, but single-label mode needs exactly one{hint}"
            )


def pool_logits(logits, window_article, num_articles: int, pooling: str):
    """Pool window logits ``(windows, labels)`` into article logits ``(articles, labels)`` (torch tensors).

    ``window_article[w]`` is the article (row of the result) window ``w`` belongs to; every article has at
    least one window.
    """
    import torch  # here: the rest of this module is numpy, and report rendering imports it

    index = window_article.to(logits.device).unsqueeze(-1).expand_as(logits)
    if pooling == "mean":
        total = torch.zeros(num_articles, logits.shape[-1], dtype=logits.dtype, device=logits.device)
        total = total.scatter_add(0, index, logits)
        counts = torch.bincount(window_article.to(logits.device), minlength=num_articles).clamp(min=1)
        return total / counts.unsqueeze(-1).to(logits.dtype)
    if pooling == "max":
        init = torch.full((num_articles, logits.shape[-1]), float("-inf"), dtype=logits.dtype, device=logits.device)
        return init.scatter_reduce(0, index, logits, reduce="amax", include_self=True)
    raise ValueError(f"unknown pooling {pooling!r}: expected one of {POOLING}")


def probabilities(article_logits: np.ndarray, multi_label: bool) -> np.ndarray:
    """Softmax (single-label) or sigmoid (multi-label) of pooled logits, in float64."""
    logits = np.asarray(article_logits, dtype=np.float64)
    if multi_label:
        return 1.0 / (1.0 + np.exp(-logits))
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def decide(
    probs: np.ndarray, labels: Sequence[str], multi_label: bool, thresholds: dict[str, float] | None
) -> list[list[dict]]:
    """``[{"label", "score"}]`` per article: the top label, or every label at or above its threshold."""
    out = []
    for row in np.atleast_2d(probs):
        if multi_label:
            chosen = [i for i, p in enumerate(row) if p >= (thresholds or {}).get(labels[i], 0.5)]
        else:
            chosen = [int(np.argmax(row))]
        chosen.sort(key=lambda i: -row[i])
        out.append([{"label": labels[i], "score": round(float(row[i]), 4)} for i in chosen])
    return out


def tune_thresholds(probs: np.ndarray, gold: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """Per label, the decision threshold that maximizes F1 on ``gold`` (multi-hot), ties to the higher one.

    Labels without a positive example keep 0.5: there is nothing to tune on. A ``gold`` cell of ``-1`` (the
    article was not judged for the label) is left out of that label's tuning.
    """
    thresholds = {}
    for j, label in enumerate(labels):
        judged = gold[:, j] >= 0
        positives = gold[judged, j] > 0.5
        if not positives.any():
            thresholds[label] = 0.5
            continue
        best_f1, best_t = -1.0, 0.5
        column = probs[judged, j]
        # Candidates rounded *down* to 4 decimals (readable in reports, and never above the probability they
        # come from: a threshold rounded up would exclude the very sentences it was chosen to include).
        for t in np.unique(np.floor(column * 10_000) / 10_000):
            predicted = column >= t
            tp = float((predicted & positives).sum())
            f1 = 2 * tp / (predicted.sum() + positives.sum())
            if f1 >= best_f1:
                best_f1, best_t = f1, float(t)
        thresholds[label] = best_t
    return thresholds

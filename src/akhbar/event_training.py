"""Training pieces for article event classification (``task: events``).

One training example is one *article*: its windows go through the encoder together and their logits are
pooled (:func:`akhbar.events.pool_logits`) into the article's logits, on which the loss is computed. So a
long article is learned and scored as a whole, the same way evaluation and inference read it, rather than
each window inheriting labels it may not mention.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import datasets
import numpy as np
import torch
from transformers import Trainer

from .event_report import classification_scores
from .events import check_events, pool_logits, probabilities, tune_thresholds
from .preprocessing import PreprocessingConfig
from .trainers import OrderedEvalTrainer
from .windows import encode_article

logger = logging.getLogger("akhbar")


def check_event_labels(splits: dict, event_labels: Sequence[str] | None, multi_label: bool) -> list[str]:
    """The event schema, after checking every article's ``events`` against it and against the mode.

    Raises:
        ValueError: an article with a label outside the schema, or (single-label) not exactly one label;
            the message names the file and the article.
    """
    train = splits["train"].articles
    if event_labels is None:
        counts = Counter(e for a in train for e in a["events"])
        event_labels = sorted(counts, key=lambda k: (-counts[k], k))
    if len(event_labels) < (1 if multi_label else 2):
        raise ValueError(
            f"{splits['train'].file}: found event labels {list(event_labels)}; a classifier needs at least "
            f"{'one label' if multi_label else 'two labels (add one for articles with no event, e.g. NONE)'}"
        )
    for split in splits.values():
        check_events(
            split.articles,
            split.file,
            event_labels,
            multi_label,
            "; set multi_label: true for zero or more labels per article",
        )
    return list(event_labels)


def encode_event_split(
    split,
    tokenizer,
    preprocessing: PreprocessingConfig,
    max_length: int,
    stride: int,
    labels: Sequence[str],
    multi_label: bool,
) -> datasets.Dataset:
    """One row per article: its windows' token ids and its label(s) (index, or multi-hot vector)."""
    index = {label: i for i, label in enumerate(labels)}
    rows: dict[str, list] = {"windows": [], "labels": [], "length": []}
    for article in split.articles:
        _, enc = encode_article(tokenizer, article["text"], preprocessing, max_length, stride)
        rows["windows"].append(enc.input_ids)
        rows["length"].append(sum(len(w) for w in enc.input_ids))
        if multi_label:
            target = [0.0] * len(labels)
            for event in article["events"]:
                target[index[event]] = 1.0
            rows["labels"].append(target)
        else:
            rows["labels"].append(index[article["events"][0]])
    long_articles = sum(len(w) > 1 for w in rows["windows"])
    logger.info(
        "%s: %d articles -> %d windows (%d articles longer than max_length=%d read in overlapping windows)",
        split.name,
        len(rows["windows"]),
        sum(len(w) for w in rows["windows"]),
        long_articles,
        max_length,
    )
    return datasets.Dataset.from_dict(rows)


@dataclass
class EventCollator:
    """Flatten a batch of articles into padded windows, remembering which article each window is from."""

    tokenizer: object
    multi_label: bool
    pad_to_multiple_of: int | None = None

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        windows = [w for f in features for w in f["windows"]]
        batch = self.tokenizer.pad(
            {"input_ids": windows}, return_tensors="pt", pad_to_multiple_of=self.pad_to_multiple_of
        )
        batch["window_article"] = torch.tensor([i for i, f in enumerate(features) for _ in f["windows"]])
        dtype = torch.float32 if self.multi_label else torch.long
        batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=dtype)
        return batch


def class_weights(dataset: datasets.Dataset, num_labels: int, multi_label: bool) -> torch.Tensor:
    """Multi-label: BCE ``pos_weight`` = negatives / positives per label. Single-label: inverse frequency,
    normalized to mean 1 over the labels present. Labels absent from train get weight 1."""
    labels = np.asarray(dataset["labels"])
    if multi_label:
        positives = labels.sum(axis=0)
        negatives = len(labels) - positives
        weights = np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0)
    else:
        counts = np.bincount(labels, minlength=num_labels).astype(float)
        present = counts > 0
        weights = np.ones(num_labels)
        weights[present] = counts[present].sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


class EventTrainer(OrderedEvalTrainer):
    """A Trainer whose examples are articles: windows in, pooled article logits out.

    It forces what it depends on: the dataset's ``windows`` column must reach the collator (so unused
    columns are kept), the loss is the article-level loss computed here, and evaluation reads articles in
    dataset order (the metrics pair predictions with their labels either way, but threshold tuning and
    reports should not depend on a sampler).
    """

    def __init__(self, *args, pooling: str, multi_label: bool, weights: torch.Tensor | None, **kwargs):
        kwargs["args"].remove_unused_columns = False
        super().__init__(*args, **kwargs)
        self.pooling = pooling
        self.multi_label = multi_label
        self.weights = weights
        # The loss below is a per-batch mean: let the Trainer divide it by the accumulation steps, and do not
        # rescale it as if it were a sum over the step's items (see akhbar.training.token_loss).
        self.model_accepts_loss_kwargs = False

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs["labels"]
        window_article = inputs["window_article"]
        outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        pooled = pool_logits(outputs.logits.float(), window_article, labels.shape[0], self.pooling)
        weights = None if self.weights is None else self.weights.to(pooled.device)
        if self.multi_label:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(pooled, labels.float(), pos_weight=weights)
        else:
            loss = torch.nn.functional.cross_entropy(pooled, labels, weight=weights)
        return (loss, {"logits": pooled}) if return_outputs else loss


class EventMetrics:
    """``compute_metrics`` on pooled article logits: accuracy and micro/macro F1 (threshold 0.5 if multi)."""

    def __init__(self, labels: Sequence[str], multi_label: bool):
        self.labels = list(labels)
        self.multi_label = multi_label

    def __call__(self, eval_pred) -> dict[str, float]:
        probs = probabilities(eval_pred.predictions, self.multi_label)
        scores = classification_scores(probs, np.asarray(eval_pred.label_ids), self.labels, self.multi_label, None)
        return {
            "accuracy": scores["accuracy"],
            "micro_f1": scores["micro"]["f1"],
            "macro_f1": scores["macro"]["f1"],
        }


def tuned_thresholds(trainer: Trainer, validation: datasets.Dataset, labels: Sequence[str]) -> dict[str, float]:
    """Per-label thresholds that maximize F1 on the validation articles (multi-label models)."""
    output = trainer.predict(validation, metric_key_prefix="thresholds")
    probs = probabilities(output.predictions, multi_label=True)
    thresholds = tune_thresholds(probs, np.asarray(output.label_ids), labels)
    logger.info("decision thresholds tuned on validation: %s", thresholds)
    return thresholds

"""Article events: a sequence classifier whose windows are pooled into the article's logits.

One training example is one *article*: its windows go through the encoder together and their logits are
pooled (:func:`akhbar.events.pool_logits`) into the article's logits, on which the loss is computed. So a
long article is learned and scored as a whole, the same way evaluation and inference read it, rather than
each window inheriting labels it may not mention. Single-label models take exactly one label per article
(softmax); multi-label ones zero or more (sigmoid, with per-label thresholds tuned on validation).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve

from ..events import check_events, decide, probabilities, tune_thresholds
from ..metrics import classification_scores
from ..model_card import base_model_text
from ..preprocessing import PreprocessingConfig
from ..report import CONFUSION_PNG, REPORT_MD, cell, confusion_table, engine_text, pct, plot_confusion, write_json
from ..settings import PackageSettings
from ..windows import encode_article
from . import register
from .base import Split, Task, card_opening

logger = logging.getLogger("akhbar")


@register
class EventTask(Task):
    """Event classification of articles (``task: events``): the schema is the event labels."""

    name = "events"
    best_metric = "macro_f1"
    prediction_unit = "windows"
    pipeline_tag = "text-classification"
    card_tags = ["event-classification"]
    model_index_task = ("text-classification", "Event classification")
    card_metric_names = ["f1"]
    example_config = "configs/events-sample.yaml"
    hf_head = "ForSequenceClassification"

    def schema(self, train: Split, data_args) -> list[str]:
        labels = data_args.event_labels
        if labels is None:
            counts = Counter(e for a in train.articles for e in a["events"])
            labels = sorted(counts, key=lambda k: (-counts[k], k))
        if len(labels) < (1 if data_args.multi_label else 2):
            need = (
                "one label" if data_args.multi_label else "two labels (add one for articles with no event, e.g. NONE)"
            )
            raise ValueError(f"{train.file}: found event labels {list(labels)}; a classifier needs at least {need}")
        return list(labels)

    def check_split(self, split: Split, schema: list[str], data_args) -> None:
        check_events(
            split.articles,
            split.file,
            schema,
            data_args.multi_label,
            "; set multi_label: true for zero or more labels per article",
        )

    def model_labels(self, schema: Sequence[str]) -> list[str]:
        return list(schema)

    def schema_of(self, settings) -> list[str]:
        return list(settings.event_labels)

    def model_config(self, data_args) -> dict:
        return {
            "problem_type": "multi_label_classification" if data_args.multi_label else "single_label_classification"
        }

    def settings_fields(self, schema: list[str], data_args) -> dict:
        return {
            "entity_labels": [],
            "event_labels": schema,
            "multi_label": data_args.multi_label,
            "pooling": data_args.pooling,
        }

    def renamed(self, settings, label_map: dict[str, str]):
        thresholds = settings.thresholds and {label_map.get(k, k): v for k, v in settings.thresholds.items()}
        labels = [label_map.get(label, label) for label in settings.event_labels]
        return dataclasses.replace(settings, event_labels=labels, thresholds=thresholds)

    def published_fields(self, labels: list[str], config, label_map: dict[str, str] | None) -> dict:
        return {
            "entity_labels": [],
            "event_labels": [(label_map or {}).get(label, label) for label in labels],
            "multi_label": getattr(config, "problem_type", None) == "multi_label_classification",
            "pooling": "mean",
            "thresholds": None,
        }

    def without_validation(self, data_args) -> str:
        return "no threshold tuning" if data_args.multi_label else ""

    def build_trainer(self, *, model, tokenizer, training_args, data_args, splits, schema, preprocessing, callbacks):
        from ..trainers import AkhbarTrainer

        multi = data_args.multi_label
        encoded = {
            name: encode_event_split(
                splits[name], tokenizer, preprocessing, data_args.max_length, data_args.stride, schema, multi
            )
            for name in ("train", "validation")
            if name in splits
        }
        if data_args.oversample_positives > 1:
            encoded["train"] = oversampled(encoded["train"], data_args.oversample_positives)
        weights = class_weights(encoded["train"], len(schema), multi) if data_args.class_weights else None
        if weights is not None:
            logger.info("class weights: %s", dict(zip(schema, [round(w, 3) for w in weights.tolist()])))
        if data_args.event_loss == "focal":
            logger.info("loss: focal, gamma %g", data_args.focal_gamma)
        pad = 8 if (training_args.fp16 or training_args.bf16) else None
        has_validation = "validation" in encoded
        trainer = AkhbarTrainer(
            model=model,
            args=training_args,
            train_dataset=encoded["train"],
            eval_dataset=encoded.get("validation"),
            processing_class=tokenizer,
            data_collator=EventCollator(tokenizer, multi, pad_to_multiple_of=pad),
            compute_metrics=EventMetrics(schema, multi) if has_validation else None,
            callbacks=callbacks,
            batch_loss=ArticleLoss(
                data_args.pooling, multi, weights, data_args.focal_gamma if data_args.event_loss == "focal" else None
            ),
        )

        def tuned() -> dict:
            if multi and has_validation:
                return {"thresholds": tuned_thresholds(trainer, encoded["validation"], schema)}
            return {"thresholds": None}

        return trainer, tuned

    def predictor_class(self) -> type:
        from ..inference import EventClassifier

        return EventClassifier

    def check_articles(self, articles: list[dict], source: str, settings) -> None:
        check_events(articles, source, settings.event_labels, settings.multi_label, " (this model is single-label)")

    def evaluate(self, predictor, articles: Sequence[dict], data_name: str, show_progress: bool) -> dict:
        return evaluate_events(predictor, articles, data_name=data_name, show_progress=show_progress)

    def write_report(self, report: dict, directory: Path, title: str) -> None:
        write_event_report(report, directory, title)

    def headline(self, report: dict) -> str:
        macro, micro = report["macro"]["f1"], report["micro"]["f1"]
        return f"macro F1 {pct(macro)}  micro F1 {pct(micro)}  accuracy {pct(report['accuracy'])}"

    def summary(self, report: dict) -> dict:
        return {"macro_f1": report["macro"]["f1"], "micro_f1": report["micro"]["f1"], "accuracy": report["accuracy"]}

    def compare_figures(self, report: dict) -> dict:
        per_label = {f"{label} F1": s["f1"] for label, s in report["per_label"].items()}
        return {"macro F1": report["macro"]["f1"], "micro F1": report["micro"]["f1"], **per_label}

    def describe(self, settings) -> str:
        mode = "multi-label" if settings.multi_label else "single-label"
        return f"labels: {', '.join(settings.event_labels)} (events, {mode}, {settings.pooling} pooling)"

    def card_metrics(self, report: dict) -> list[dict]:
        return [
            {"type": "f1", "value": round(report["macro"]["f1"], 4), "name": "macro F1"},
            {"type": "f1", "value": round(report["micro"]["f1"], 4), "name": "micro F1"},
            {
                "type": "accuracy",
                "value": round(report["accuracy"], 4),
                "name": "subset accuracy" if "subset_accuracy" in report else "accuracy",
            },
        ]

    def card_intro(self, name: str, settings, report: dict | None) -> list[str]:
        return _event_intro(name, settings, report)

    def card_use(self, settings) -> tuple[str, str]:
        return (
            "Flagging the events Modern Standard Arabic news articles report, for analysts who review the output.",
            "Articles longer than the window are scored by pooling window logits; an event mentioned once in a "
            "long article weighs less under mean pooling.",
        )


# --- training ----------------------------------------------------------------------------------------------


def encode_event_split(
    split,
    tokenizer,
    preprocessing: PreprocessingConfig,
    max_length: int,
    stride: int,
    labels: Sequence[str],
    multi_label: bool,
):
    """One row per article: its windows' token ids and its label(s): an index, or a multi-hot vector in which
    ``-1`` marks a label the article was not judged for (``"judged"``), left out of the loss and the scores."""
    import datasets

    index = {label: i for i, label in enumerate(labels)}
    rows: dict[str, list] = {"windows": [], "labels": [], "length": []}
    for article in split.articles:
        _, enc = encode_article(tokenizer, article["text"], preprocessing, max_length, stride)
        rows["windows"].append(enc.input_ids)
        rows["length"].append(sum(len(w) for w in enc.input_ids))
        if multi_label:
            rows["labels"].append(multi_hot(article, labels, index))
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

    def __call__(self, features: list[dict]) -> dict:
        import torch

        windows = [w for f in features for w in f["windows"]]
        batch = self.tokenizer.pad(
            {"input_ids": windows}, return_tensors="pt", pad_to_multiple_of=self.pad_to_multiple_of
        )
        batch["window_article"] = torch.tensor([i for i, f in enumerate(features) for _ in f["windows"]])
        dtype = torch.float32 if self.multi_label else torch.long
        batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=dtype)
        return batch


def class_weights(dataset, num_labels: int, multi_label: bool):
    """Multi-label: BCE ``pos_weight`` = negatives / positives per label. Single-label: inverse frequency,
    normalized to mean 1 over the labels present. Labels absent from train get weight 1."""
    import torch

    labels = np.asarray(dataset["labels"])
    if multi_label:  # over judged cells only (-1: not judged)
        positives = (labels == 1).sum(axis=0)
        negatives = (labels == 0).sum(axis=0)
        weights = np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0)
    else:
        counts = np.bincount(labels, minlength=num_labels).astype(float)
        present = counts > 0
        weights = np.ones(num_labels)
        weights[present] = counts[present].sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


def oversampled(dataset, times: int):
    """The training rows with every article that has a positive label repeated ``times`` times in all (the
    originals stay where they are, the copies follow them at the end; the Trainer shuffles each epoch).
    Unjudged cells (-1) are not positives."""
    positives = [i for i, row in enumerate(dataset["labels"]) if any(v == 1 for v in row)]
    if not positives:
        logger.warning("oversample_positives: no training article has an event label; nothing repeated")
        return dataset
    import datasets

    copies = dataset.select([i for _ in range(times - 1) for i in positives])
    logger.info(
        "oversample_positives: %d articles with an event label repeated %d times: %d training rows instead of %d",
        len(positives),
        times,
        len(dataset) + len(copies),
        len(dataset),
    )
    return datasets.concatenate_datasets([dataset, copies])


@dataclass
class ArticleLoss:
    """The loss on pooled article logits (:class:`~akhbar.trainers.AkhbarTrainer`'s ``batch_loss``): the
    windows of each article of the batch go through the model, their logits are pooled into the article's,
    and binary (multi-label) or categorical cross-entropy is taken there, with class weights if given.

    ``focal_gamma`` (not None) makes it the focal loss of Lin et al. (2017): each term scaled by
    ``(1 - p_true) ** gamma``, where ``p_true`` is the probability the model gives the right answer, so
    examples it already gets right count less and the rare hard ones more. Class weights still apply
    (as ``pos_weight`` for multi-label, the paper's alpha per label). Written here because torch has no focal
    loss, and torchvision's ``sigmoid_focal_loss`` (a new dependency for a few lines) takes one alpha for
    every label rather than a ``pos_weight`` per label, and has no softmax form."""

    pooling: str
    multi_label: bool
    weights: object = None  # a torch.Tensor of per-label weights, or None
    focal_gamma: float | None = None

    def __call__(self, model, inputs):
        import torch

        from ..events import pool_logits

        labels = inputs["labels"]
        outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        pooled = pool_logits(outputs.logits.float(), inputs["window_article"], labels.shape[0], self.pooling)
        weights = None if self.weights is None else self.weights.to(pooled.device)
        if self.multi_label:
            # Labels an article was not judged for (-1) add nothing to the loss: unknown, not negative.
            judged = (labels >= 0).float()
            target = labels.clamp(min=0).float()
            cells = torch.nn.functional.binary_cross_entropy_with_logits(
                pooled, target, pos_weight=weights, reduction="none"
            )
            if self.focal_gamma is not None:
                p = torch.sigmoid(pooled)
                cells = cells * (1 - (p * target + (1 - p) * (1 - target))) ** self.focal_gamma
            loss = (cells * judged).sum() / judged.sum().clamp(min=1)
        elif self.focal_gamma is not None:
            terms = torch.nn.functional.cross_entropy(pooled, labels, weight=weights, reduction="none")
            p_true = torch.softmax(pooled, dim=-1).gather(1, labels[:, None])[:, 0]
            # Normalized like cross_entropy's weighted mean, so gamma 0 gives exactly the same loss.
            norm = weights[labels].sum() if weights is not None else torch.tensor(float(len(labels)))
            loss = ((1 - p_true) ** self.focal_gamma * terms).sum() / norm
        else:
            loss = torch.nn.functional.cross_entropy(pooled, labels, weight=weights)
        return loss, {"logits": pooled}


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


def tuned_thresholds(trainer, validation, labels: Sequence[str]) -> dict[str, float]:
    """Per-label thresholds that maximize F1 on the validation articles (multi-label models)."""
    output = trainer.predict(validation, metric_key_prefix="thresholds")
    probs = probabilities(output.predictions, multi_label=True)
    thresholds = tune_thresholds(probs, np.asarray(output.label_ids), labels)
    logger.info("decision thresholds tuned on validation: %s", thresholds)
    return thresholds


# --- evaluation and report ---------------------------------------------------------------------------------


def multi_hot(article: dict, labels: Sequence[str], index: dict[str, int]) -> list[float]:
    """1 for the article's events, 0 for the other labels it was judged for, -1 for labels it was not."""
    judged = article.get("judged")
    target = [0.0 if judged is None or label in judged else -1.0 for label in labels]
    for event in article["events"]:
        target[index[event]] = 1.0
    return target


def gold_matrix(articles: Sequence[dict], labels: Sequence[str], multi_label: bool) -> np.ndarray:
    """Gold labels: indices (single-label) or multi-hot rows with -1 where not judged (multi-label)."""
    index = {label: i for i, label in enumerate(labels)}
    if multi_label:
        return np.array([multi_hot(a, labels, index) for a in articles]).reshape(len(articles), len(labels))
    return np.array([index[a["events"][0]] for a in articles])


def evaluate_events(
    classifier,
    articles: Sequence[dict],
    data_name: str = "data",
    show_progress: bool = False,
    max_errors: int = 200,
    probs: np.ndarray | None = None,
) -> dict:
    """Score an :class:`~akhbar.inference.EventClassifier` on ``articles`` (their ``events`` field).

    ``probs``: the classifier's probabilities for ``articles`` when the caller has them already (a sentence
    event model computes them with its evidence); by default ``classifier.scores`` of the texts.
    """
    settings = classifier.settings
    labels, multi = settings.event_labels, settings.multi_label
    if probs is None:
        probs = classifier.scores([a["text"] for a in articles], show_progress=show_progress)
    gold = gold_matrix(articles, labels, multi)
    scores = classification_scores(probs, gold, labels, multi, settings.thresholds)
    decided = decide(probs, labels, multi, settings.thresholds)
    errors = []
    for article, predicted in zip(articles, decided):
        # An error is judged labels that differ; a predicted label the article was not judged for is no error.
        judged = article.get("judged")
        names = sorted(p["label"] for p in predicted if judged is None or p["label"] in judged)
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
        rows = gold[:, j] >= 0 if multi else np.ones(len(gold), dtype=bool)  # the articles judged for the label
        positives = (gold[rows, j] if multi else (gold == j)).astype(int)
        if positives.any():
            precision, recall, _ = precision_recall_curve(positives, probs[rows, j])
            curves[label] = {
                "average_precision": float(average_precision_score(positives, probs[rows, j])),
                "base_rate": float(positives.mean()),
                "precision": [round(float(x), 4) for x in precision],
                "recall": [round(float(x), 4) for x in recall],
            }
    return {
        "task": EventTask.name,
        "mode": "multi-label" if multi else "single-label",
        "pooling": settings.pooling,
        "thresholds": settings.thresholds,
        "data": {
            "name": data_name,
            "articles": len(articles),
            "events_by_label": {
                label: int((gold[:, j] == 1 if multi else gold == j).sum()) for j, label in enumerate(labels)
            },
            "articles_without_event": int(((gold == 1).sum(axis=1) == 0).sum()) if multi else 0,
            **(
                {"judged_by_label": {label: int((gold[:, j] >= 0).sum()) for j, label in enumerate(labels)}}
                if multi and (gold < 0).any()
                else {}
            ),
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
    directory = write_json(report, directory)
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
        lines += ["## Confusion matrix (articles, rows gold, columns predicted)", "", *confusion_table(cm)]
        lines += ["", f"![confusion matrix]({CONFUSION_PNG})", ""]
        plot_confusion(cm, directory / CONFUSION_PNG, f"{title}\n(articles, row-normalized; numbers are counts)")
    lines += ["## Precision-recall curves", ""]
    for label, curve in report["precision_recall"].items():
        name = f"pr_curve_{_file_label(label)}.png"
        _plot_pr(curve, directory / name, f"{title}: {label}")
        lines.append(f"![{label}]({name})")
    lines += ["", f"## Errors ({report['errors_total']} articles)", ""]
    for e in report["errors"][:30]:
        predicted = ", ".join(f"{p['label']} {p['score']:.2f}" for p in e["predicted"]) or "none"
        text = cell(e["text"])
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


def _event_intro(name: str, settings: PackageSettings, report: dict | None) -> list[str]:
    mode = "multi-label, sigmoid with tuned thresholds" if settings.multi_label else "single-label, softmax"

    def results(report: dict) -> list[str]:
        lines = []
        if settings.thresholds:
            lines += ["Thresholds: " + ", ".join(f"{k} {v:.3f}" for k, v in settings.thresholds.items()), ""]
        return lines + [
            f"On `{report['data']['name']}` ({report['data']['articles']} articles): **macro F1 "
            f"{pct(report['macro']['f1'])}**, micro F1 {pct(report['micro']['f1'])} (the YAML above has them as "
            "fractions).",
            "",
            score_table(report),
            "",
            f"Full report with per-label curves and errors: [{REPORT_MD}]({REPORT_MD}).",
            "",
        ]

    return card_opening(
        f"Arabic news event classification ({', '.join(settings.event_labels)}; {mode}) fine-tuned with akhbar "
        f"from {base_model_text(settings)}. Long articles are read as overlapping windows whose logits are "
        f"{settings.pooling}-pooled.",
        [
            "from akhbar import EventClassifier  # saved preprocessing, windows, pooling and thresholds",
            f'classifier = EventClassifier.from_pretrained("models/{name}")',
            'classifier.predict(["تظاهر مئات الطلاب أمام الوزارة."])  # [[{"label", "score"}]]',
            "",
            "# plain transformers also works (one window, no pooling, no tuned thresholds):",
            "from transformers import pipeline",
            f'clf = pipeline("text-classification", model="models/{name}", top_k=None)',
        ],
        report,
        results,
    )

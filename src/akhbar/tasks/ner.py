"""Named entities: a token classifier over the words of an article, scored with seqeval.

Training labels each word's first sub-token with its IOB2 tag (:mod:`akhbar.windows`), reads long articles as
overlapping windows, and uses a token loss that counts every labelled token of the step once, across
processes and accumulation steps (:func:`token_loss`). Validation merges the windows' predictions back into
words per article (:class:`NerMetrics`); a packaged model is scored by :class:`~akhbar.inference.NerTagger`,
the way users run it (:func:`evaluate_ner`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..labels import bio_labels, detect_scheme, to_iob
from ..metrics import entity_sets, ner_scores, trainer_metrics
from ..model_card import base_model_text
from ..preprocessing import PreprocessingConfig
from ..report import (
    CONFUSION_PNG,
    REPORT_JSON,
    REPORT_MD,
    cell,
    confusion_table,
    engine_text,
    pct,
    plot_confusion,
    write_json,
)
from ..settings import PackageSettings
from ..windows import IGNORE, AlignmentStats, encode_article, merge_entities, missing_words, window_labels, word_tags
from . import register
from .base import Split, Task, card_opening

logger = logging.getLogger("akhbar")


@register
class NerTask(Task):
    """Named-entity recognition (``task: ner``): the schema is entity types, the model tags words in IOB2."""

    name = "ner"
    best_metric = "strict_f1"
    prediction_unit = "tokens"
    pipeline_tag = "token-classification"
    card_tags = ["named-entity-recognition"]
    model_index_task = ("token-classification", "Named Entity Recognition")
    card_metric_names = ["seqeval"]
    example_config = "configs/ner-sample.yaml"
    hf_head = "ForTokenClassification"

    def schema(self, train: Split, data_args) -> list[str]:
        from ..articles import infer_entity_labels

        schema = data_args.entity_labels or infer_entity_labels(train.articles)
        if not schema:
            raise ValueError(f"{train.file}: no entity in the training data, nothing to learn")
        return list(schema)

    def entity_labels_for_reading(self, schema: list[str], data_args) -> list[str]:
        return schema

    def model_labels(self, schema: Sequence[str]) -> list[str]:
        return bio_labels(schema)

    def schema_of(self, settings) -> list[str]:
        return list(settings.entity_labels)

    def settings_fields(self, schema: list[str], data_args) -> dict:
        return {"entity_labels": schema}

    def renamed(self, settings, label_map: dict[str, str]):
        return dataclasses.replace(settings, entity_labels=[label_map.get(t, t) for t in settings.entity_labels])

    def published_fields(self, labels: list[str], config, label_map: dict[str, str] | None) -> dict:
        scheme = detect_scheme(labels)
        types = dict.fromkeys(to_iob(label, scheme, label_map)[2:] for label in labels if label != "O")
        return {"entity_labels": list(types)}

    def build_trainer(self, *, model, tokenizer, training_args, data_args, splits, schema, preprocessing, callbacks):
        from transformers import DataCollatorForTokenClassification

        from ..trainers import AkhbarTrainer

        label2id = {label: i for i, label in enumerate(self.model_labels(schema))}
        encoded = {
            name: encode_split(
                splits[name],
                tokenizer,
                preprocessing,
                data_args.max_length,
                data_args.stride,
                label2id,
                data_args.label_all_tokens,
                self.markers(splits[name], tokenizer),
            )
            for name in ("train", "validation")
            if name in splits
        }
        validation = encoded["validation"].longest_first() if "validation" in encoded else None
        pad = 8 if (training_args.fp16 or training_args.bf16) else None
        trainer = AkhbarTrainer(
            model=model,
            args=training_args,
            train_dataset=encoded["train"].windows,
            eval_dataset=validation.windows if validation else None,
            processing_class=tokenizer,
            data_collator=DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=pad),
            compute_metrics=NerMetrics(validation, model.config.id2label) if validation else None,
            preprocess_logits_for_metrics=argmax_logits,
            compute_loss_func=token_loss,
            callbacks=callbacks,
        )
        return trainer, dict  # nothing only training can tell: no late settings fields

    def markers(self, split: Split, tokenizer) -> list[list[int]] | None:
        """Per article, the token ids its windows carry before its words (``None``: none; see
        :func:`akhbar.windows.encode_words`)."""
        return None

    def predictor_class(self) -> type:
        from ..inference import NerTagger

        return NerTagger

    def evaluate(self, predictor, articles: Sequence[dict], data_name: str, show_progress: bool) -> dict:
        return evaluate_ner(predictor, articles, data_name=data_name, show_progress=show_progress)

    def write_report(self, report: dict, directory: Path, title: str) -> None:
        write_report(report, directory, title)

    def headline(self, report: dict) -> str:
        strict, lenient = report["strict"]["micro"]["f1"], report["lenient"]["micro"]["f1"]
        return f"strict F1 {pct(strict)}  lenient F1 {pct(lenient)}"

    def summary(self, report: dict) -> dict:
        strict, lenient = report["strict"]["micro"], report["lenient"]["micro"]
        return {
            "strict_f1": strict["f1"],
            "strict_precision": strict["precision"],
            "strict_recall": strict["recall"],
            "lenient_f1": lenient["f1"],
        }

    def compare_figures(self, report: dict) -> dict:
        per_type = {f"{t} F1": s["f1"] for t, s in sorted(report["strict"]["per_type"].items())}
        return {
            "strict F1": report["strict"]["micro"]["f1"],
            "lenient F1": report["lenient"]["micro"]["f1"],
            **per_type,
        }

    def describe(self, settings) -> str:
        return f"labels: {', '.join(settings.entity_labels)} (entity types)"

    def card_metrics(self, report: dict) -> list[dict]:
        strict, lenient = report["strict"]["micro"], report["lenient"]["micro"]
        return [
            {"type": "f1", "value": round(strict["f1"], 4), "name": "strict micro F1 (seqeval IOB2)"},
            {"type": "precision", "value": round(strict["precision"], 4), "name": "strict micro precision"},
            {"type": "recall", "value": round(strict["recall"], 4), "name": "strict micro recall"},
            {"type": "f1", "value": round(lenient["f1"], 4), "name": "lenient micro F1 (seqeval default)"},
        ]

    def card_intro(self, name: str, settings, report: dict | None) -> list[str]:
        return _ner_intro(name, settings, report)

    def card_use(self, settings) -> tuple[str, str]:
        return (
            "Finding people, places, organisations and other named entities in Modern Standard Arabic news "
            "text, for analysts and NLP pipelines that review the output.",
            "Clitics stay attached to their word (ANERcorp convention): `وبيروت` is returned whole as LOC.",
        )


# --- training ----------------------------------------------------------------------------------------------


@dataclass
class Encoded:
    """Windows of a split as a ``datasets.Dataset`` plus what the metric needs to merge them back."""

    windows: object  # a datasets.Dataset
    rows: list[list[int]]  # per article: its window rows in ``windows``
    gold: list[list[str]]  # per article: word tags
    stats: AlignmentStats

    def longest_first(self) -> Encoded:
        """The same windows stored longest first, ``rows`` pointing at their new positions.

        Evaluation reads the dataset in order (:class:`akhbar.trainers.AkhbarTrainer`); sorted windows
        make its batches hold windows of similar length, the padding saving that length grouping gave.
        """
        lengths = self.windows["length"]
        order = sorted(range(len(lengths)), key=lambda r: -lengths[r])  # stable: ties keep dataset order
        position = {old: new for new, old in enumerate(order)}
        rows = [[position[r] for r in article_rows] for article_rows in self.rows]
        return Encoded(self.windows.select(order), rows, self.gold, self.stats)


def encode_split(
    split: Split,
    tokenizer,
    preprocessing: PreprocessingConfig,
    max_length: int,
    stride: int,
    label2id: dict,
    label_all_tokens: bool = False,
    markers: Sequence[Sequence[int]] | None = None,
) -> Encoded:
    """Normalize, window and label every article of a split (see :func:`akhbar.windows.window_labels`).

    ``markers``: per article, the token ids each of its windows carries before its words (see
    :func:`akhbar.windows.encode_words`).
    """
    import datasets

    columns: dict[str, list] = {
        k: [] for k in ("input_ids", "labels", "word_index", "cut_left", "cut_right", "num_words", "length")
    }
    rows, gold, stats = [], [], AlignmentStats()
    for i, article in enumerate(split.articles):
        marker = markers[i] if markers is not None else ()
        words, enc = encode_article(tokenizer, article["text"], preprocessing, max_length, stride, marker)
        tags = word_tags(words, article["entities"], stats)
        stats.words_without_token += len(missing_words(enc))
        labels = window_labels(enc, tags, label2id, label_all_tokens)
        start = len(columns["input_ids"])
        for k, ids in enumerate(enc.input_ids):
            columns["input_ids"].append(ids)
            columns["labels"].append(labels[k])
            columns["word_index"].append(enc.word_index[k])
            columns["cut_left"].append(enc.cut_left[k])
            columns["cut_right"].append(enc.cut_right[k])
            columns["num_words"].append(enc.num_words)
            columns["length"].append(len(ids))
        rows.append(list(range(start, len(columns["input_ids"]))))
        gold.append(tags)
    long_articles = sum(len(r) > 1 for r in rows)
    logger.info(
        "%s: %d articles -> %d windows (%d articles longer than max_length=%d read in overlapping windows)",
        split.name,
        len(rows),
        len(columns["input_ids"]),
        long_articles,
        max_length,
    )
    if stats.extended_to_word:
        logger.info(
            "%s: %d entity spans started/ended inside a word and label the whole word",
            split.name,
            stats.extended_to_word,
        )
    if stats.lost or stats.words_without_token:
        logger.warning(
            "%s: %d of %d entities cover no word after preprocessing or share their words with another "
            "(e.g. %s); %d words got no token from the tokenizer",
            split.name,
            stats.lost,
            stats.entities,
            stats.examples[:2],
            stats.words_without_token,
        )
    return Encoded(datasets.Dataset.from_dict(columns), rows, gold, stats)


class NerMetrics:
    """``compute_metrics`` for the Trainer: merge window predictions per article, then seqeval.

    Predictions arrive as a label id and its probability per window token (see :func:`argmax_logits`), the
    windows of an article are merged as NerTagger merges them (:func:`akhbar.windows.merge_entities`), in dataset order
    (:class:`akhbar.trainers.AkhbarTrainer`); the gold label ids that come with them are checked
    against the dataset's, so predictions in any other order stop the run instead of being scored against
    the wrong articles.
    """

    def __init__(self, encoded: Encoded, id2label: dict[int, str]):
        self.encoded = encoded
        self.id2label = id2label
        self.word_index = encoded.windows["word_index"]
        self.cut_left = encoded.windows["cut_left"]
        self.cut_right = encoded.windows["cut_right"]
        self.labels = encoded.windows["labels"]

    def check_order(self, label_ids) -> None:
        """Raise if the evaluation rows are not the dataset's rows in dataset order."""
        if len(label_ids) != len(self.labels):
            raise RuntimeError(f"evaluation returned {len(label_ids)} windows for {len(self.labels)} in the dataset")
        for r, gold in enumerate(self.labels):
            row = label_ids[r]
            if list(row[: len(gold)]) != gold or any(x != IGNORE for x in row[len(gold) :]):
                raise RuntimeError(
                    f"evaluation window {r} carries the labels of another window: the predictions are not in "
                    "dataset order (an evaluation sampler that reorders rows?), so they cannot be scored"
                )

    def __call__(self, eval_pred) -> dict[str, float]:
        predictions = eval_pred.predictions
        self.check_order(eval_pred.label_ids)
        y_pred = []
        for rows, gold in zip(self.encoded.rows, self.encoded.gold):
            tags, _ = merge_entities(
                [self.word_index[r] for r in rows],
                [[self.id2label[int(y)] for y in predictions[r, : len(self.word_index[r]), 0]] for r in rows],
                [predictions[r, : len(self.word_index[r]), 1] for r in rows],
                [self.cut_left[r] for r in rows],
                [self.cut_right[r] for r in rows],
                len(gold),
            )
            y_pred.append(tags)
        return trainer_metrics(ner_scores(self.encoded.gold, y_pred))


def token_loss(outputs, labels, num_items_in_batch=None):
    """Cross-entropy summed over labelled tokens, divided by the labelled tokens of the whole step.

    The Trainer counts ``num_items_in_batch`` over all gradient-accumulation micro-batches and all
    processes, and multiplies a loss computed this way by the number of processes before DDP averages the
    gradients. The models' own token-classification loss is a plain per-batch mean that ignores that
    count, so in transformers 5 an N-process run got N times the gradient (and N times the logged loss)
    of a one-process run with the same global batch. With this loss both match, and gradient accumulation
    weighs every token equally. Evaluation passes no count: then it is the batch mean.
    """
    import torch

    logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
    flat = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(),
        labels.reshape(-1).to(logits.device),
        ignore_index=IGNORE,
        reduction="sum",
    )
    if num_items_in_batch is None:
        return flat / (labels != IGNORE).sum().clamp(min=1)
    return flat / num_items_in_batch


def argmax_logits(logits, labels):
    """Keep each token's label id and its probability, not the logits, between evaluation steps (memory: windows
    x tokens x 2 instead of x labels): ``(windows, tokens, 2)``, ``[..., 0]`` the id, ``[..., 1]`` its softmax
    probability, what :func:`akhbar.windows.merge_entities` reads (as NerTagger computes them)."""
    import torch

    probability, label = torch.softmax(logits.float(), dim=-1).max(dim=-1)
    return torch.stack([label.float(), probability], dim=-1)


# --- evaluation and report ---------------------------------------------------------------------------------


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
    tagger,
    articles: Sequence[dict],
    data_name: str = "data",
    context_chars: int = 40,
    max_errors: int = 200,
    show_progress: bool = False,
    tagged: Sequence | None = None,
) -> dict:
    """Score ``tagger`` (a :class:`~akhbar.inference.NerTagger`: its ``tag`` gives words, tags and scores) on
    ``articles`` (gold spans in the native format) and collect its errors.

    ``tagged``: the tagger's output for ``articles`` when it needs more than the texts (the event type an
    argument tagger reads); by default ``tagger.tag`` of the texts.

    Returns:
        The report dict written to ``eval_report.json``.
    """
    if tagged is None:
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
    # The model's tags (a published model's converted ones can repeat), then gold tags it does not have.
    labels = list(dict.fromkeys(tagger.id2label[i] for i in sorted(tagger.id2label)))
    labels += sorted({t for ts in y_true for t in ts} - set(labels))
    confusion = Counter((t, p) for ts, ps in zip(y_true, y_pred) for t, p in zip(ts, ps))
    scores = ner_scores(y_true, y_pred)
    error_kinds = Counter(f"{e['kind']}: {e['error']}" for e in errors)
    report = {
        "task": NerTask.name,
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
    directory = write_json(report, directory)
    (directory / REPORT_MD).write_text(render_markdown(report, title), encoding="utf-8")
    plot_confusion(
        report["confusion_matrix"],
        directory / CONFUSION_PNG,
        f"{title}\n(word level, row-normalized; numbers are counts)",
    )


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
    lines += ["## Confusion matrix (words, rows gold, columns predicted)", "", *confusion_table(cm)]
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
            context = cell(e["context"])
            lines.append(
                f"| {e['article']} | {e['kind']} ({e['error']}) | {e['label']} | {cell(e['text'])} | {context} |"
            )
    else:
        lines.append("No errors.")
    return "\n".join(lines) + "\n"


def _ner_intro(name: str, settings: PackageSettings, report: dict | None) -> list[str]:
    def results(report: dict) -> list[str]:
        return [
            f"On `{report['data']['name']}` ({report['data']['articles']} articles, {report['data']['gold_entities']} "
            f"entities): **strict micro F1 {pct(report['strict']['micro']['f1'])}**, lenient "
            f"{pct(report['lenient']['micro']['f1'])} (seqeval, entity level; the YAML above has them as fractions).",
            "",
            score_table(report),
            "",
            *([lenient_note(report), ""] if lenient_note(report) else []),
            f"Full report with confusion matrix and errors: [{REPORT_MD}]({REPORT_MD}).",
            "",
        ]

    return card_opening(
        f"Arabic named-entity recognition ({', '.join(settings.entity_labels)}) fine-tuned with "
        f"akhbar from {base_model_text(settings)}.",
        [
            "from akhbar import NerTagger  # applies the saved preprocessing and reads long texts in windows",
            f'tagger = NerTagger.from_pretrained("models/{name}")  # this folder, or its hub id',
            'tagger.predict(["زار وزير الخارجية عمّان أمس."])  # [[{"start", "end", "label", "text", "score"}]]',
            "",
            "# plain transformers also works (no Arabic normalization, no windows beyond max length):",
            "from transformers import pipeline",
            '# ("first" tags each word by its first sub-token, as akhbar trained it; see akhbar\'s BENCHMARKS.md)',
            f'ner = pipeline("token-classification", model="models/{name}", aggregation_strategy="first")',
        ],
        report,
        results,
    )

"""The packaged model's README.md: YAML front matter (model-index) and a card filled from the real run."""

from __future__ import annotations

from pathlib import Path

import yaml

from .event_report import score_table as event_score_table
from .report import REPORT_MD, lenient_note, pct, score_table
from .settings import PackageSettings

HYPERPARAMETERS = (
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "world_size",
    "warmup_steps",
    "weight_decay",
    "seed",
    "bf16",
    "fp16",
    "freeze_embeddings",
    "early_stopping_patience",
)


def _metrics(report: dict) -> list[dict]:
    if report["task"] == "events":
        return [
            {"type": "f1", "value": round(report["macro"]["f1"], 4), "name": "macro F1"},
            {"type": "f1", "value": round(report["micro"]["f1"], 4), "name": "micro F1"},
            {
                "type": "accuracy",
                "value": round(report["accuracy"], 4),
                "name": "subset accuracy" if "subset_accuracy" in report else "accuracy",
            },
        ]
    strict, lenient = report["strict"]["micro"], report["lenient"]["micro"]
    return [
        {"type": "f1", "value": round(strict["f1"], 4), "name": "strict micro F1 (seqeval IOB2)"},
        {"type": "precision", "value": round(strict["precision"], 4), "name": "strict micro precision"},
        {"type": "recall", "value": round(strict["recall"], 4), "name": "strict micro recall"},
        {"type": "f1", "value": round(lenient["f1"], 4), "name": "lenient micro F1 (seqeval default)"},
    ]


def _front_matter(name: str, settings: PackageSettings, report: dict | None) -> str:
    events = settings.task == "events"
    meta: dict = {
        "language": ["ar"],
        "library_name": "transformers",
        "pipeline_tag": "text-classification" if events else "token-classification",
        "tags": ["akhbar", "event-classification" if events else "named-entity-recognition", "arabic", "news"],
    }
    if not Path(settings.base_model).exists() and settings.base_model.count("/") == 1:
        meta["base_model"] = settings.base_model  # a hub id; local paths mean nothing to readers
    if report is not None:
        task = (
            ("text-classification", "Event classification")
            if events
            else ("token-classification", "Named Entity Recognition")
        )
        meta["metrics"] = ["f1"] if events else ["seqeval"]
        meta["model-index"] = [
            {
                "name": name,
                "results": [
                    {
                        "task": {"type": task[0], "name": task[1]},
                        "dataset": {
                            "name": report["data"]["name"],
                            "type": "custom",
                            "split": report["data"].get("split", "test"),
                        },
                        "metrics": _metrics(report),
                    }
                ],
            }
        ]
    units = "# metric values are fractions in [0, 1]; the tables below show percentages\n" if report else ""
    return "---\n" + units + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n"


def base_model_text(settings: PackageSettings) -> str:
    """The base model as a reader can use it: a hub id, or a local folder's name (its path means nothing to
    someone on another machine)."""
    if Path(settings.base_model).exists() or settings.base_model.count("/") != 1:
        return f"`{Path(settings.base_model).name}` (a local folder)"
    return f"`{settings.base_model}`"


def render_card(name: str, settings: PackageSettings, run: dict, report: dict | None) -> str:
    """The model card text.

    Args:
        name: the packaged model's name.
        settings: its saved settings.
        run: ``run_config.json`` of the training run (data files and counts, hyperparameters, timing).
        report: the evaluation report, or ``None`` when no test/validation data was given.
    """
    data = run.get("data", {})
    hp = run.get("hyperparameters", {})
    steps = [k for k, v in settings.preprocessing.to_dict().items() if v is True]
    lines = [_front_matter(name, settings, report), f"# {name}", ""]
    lines += _event_intro(name, settings, report) if settings.task == "events" else _ner_intro(name, settings, report)
    lines += ["## Training", "", "| data | file | articles |", "|---|---|---:|"]
    for split in ("train", "validation", "test"):
        if split in data:
            lines.append(f"| {split} | `{data[split]['file']}` | {data[split]['articles']} |")
    lines += ["", "| hyperparameter | value |", "|---|---|"]
    lines += [f"| {k} | {hp[k]} |" for k in HYPERPARAMETERS if k in hp]
    lines += [
        f"| max_length / stride | {settings.max_length} / {settings.stride} |",
    ]
    if settings.join_sentences:
        lines.append(
            f"| join_sentences (CoNLL sentences joined into articles of up to N words) | {settings.join_sentences} |"
        )
    lines.append("")
    if run.get("stopped_early"):
        lines += [
            f"Early stopping ended training after {run['trained_steps']} of {run['planned_steps']} steps "
            f"({run.get('train_epochs', '?')} epochs; `num_train_epochs`/`max_steps` above are what was configured).",
            "",
        ]
    elif run.get("train_epochs") is not None:
        lines += [f"Trained for {run['train_epochs']} epochs ({run.get('trained_steps', '?')} steps).", ""]
    if run.get("train_tokens_per_s"):
        lines += [
            f"Training read {run['train_tokens_per_s']:.0f} non-padding tokens/s "
            f"({100 * (run.get('train_padding_share') or 0):.1f}% of batch positions were padding).",
            "",
        ]
    if run.get("best_validation"):
        best = run["best_validation"]
        metric = best.get("metric_name", "strict_f1").replace("_", " ")
        lines += [f"Best validation {metric} {pct(best['metric'])} at step {best['step']}.", ""]
    if run.get("train_runtime_s") is not None:
        lines += [f"Training took {run['train_runtime_s']:.0f} s ({run.get('device', 'unknown device')}).", ""]
    lines += [
        f"Preprocessing (`{settings.preprocessing.preset}`, applied identically at inference): "
        f"{', '.join(steps) or 'none'}.",
        "",
        "## Intended use",
        "",
        (
            "Flagging the events Modern Standard Arabic news articles report, for analysts who review the output."
            if settings.task == "events"
            else "Finding people, places, organisations and other named entities in Modern Standard Arabic news "
            "text, for analysts and NLP pipelines that review the output."
        ),
        "",
        "## Limitations",
        "",
        "- Trained on the data above only: expect lower scores on other genres, dialects, social media and on "
        "entity types the training data rarely shows (see the per-type table).",
        (
            "- Articles longer than the window are scored by pooling window logits; an event mentioned once in a "
            "long article weighs less under mean pooling."
            if settings.task == "events"
            else "- Clitics stay attached to their word (ANERcorp convention): `وبيروت` is returned whole as LOC."
        ),
        "- Scores are on one test set; they are not a guarantee for your data. Check the error list.",
        "",
        f"Made with akhbar {settings.akhbar_version}.",
    ]
    return "\n".join(lines) + "\n"


def _ner_intro(name: str, settings: PackageSettings, report: dict | None) -> list[str]:
    lines = [
        f"Arabic named-entity recognition ({', '.join(settings.entity_labels)}) fine-tuned with "
        f"akhbar from {base_model_text(settings)}.",
        "",
        "## How to load",
        "",
        "```python",
        "from akhbar import NerTagger  # applies the saved preprocessing and reads long texts in windows",
        f'tagger = NerTagger.from_pretrained("models/{name}")  # this folder, or its hub id',
        'tagger.predict(["زار وزير الخارجية عمّان أمس."])  # [[{"start", "end", "label", "text", "score"}]]',
        "",
        "# plain transformers also works (no Arabic normalization, no windows beyond max length):",
        "from transformers import pipeline",
        '# ("first" tags each word by its first sub-token, as akhbar trained it; see akhbar\'s BENCHMARKS.md)',
        f'ner = pipeline("token-classification", model="models/{name}", aggregation_strategy="first")',
        "```",
        "",
        "## Results",
        "",
    ]
    if report is None:
        return lines + ["Not evaluated: the run had no test or validation data.", ""]
    return lines + [
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


def _event_intro(name: str, settings: PackageSettings, report: dict | None) -> list[str]:
    mode = "multi-label, sigmoid with tuned thresholds" if settings.multi_label else "single-label, softmax"
    lines = [
        f"Arabic news event classification ({', '.join(settings.event_labels)}; {mode}) fine-tuned with akhbar "
        f"from {base_model_text(settings)}. Long articles are read as overlapping windows whose logits are "
        f"{settings.pooling}-pooled.",
        "",
        "## How to load",
        "",
        "```python",
        "from akhbar import EventClassifier  # saved preprocessing, windows, pooling and thresholds",
        f'classifier = EventClassifier.from_pretrained("models/{name}")',
        'classifier.predict(["تظاهر مئات الطلاب أمام الوزارة."])  # [[{"label", "score"}]]',
        "",
        "# plain transformers also works (one window, no pooling, no tuned thresholds):",
        "from transformers import pipeline",
        f'clf = pipeline("text-classification", model="models/{name}", top_k=None)',
        "```",
        "",
        "## Results",
        "",
    ]
    if report is None:
        return lines + ["Not evaluated: the run had no test or validation data.", ""]
    if settings.thresholds:
        lines += ["Thresholds: " + ", ".join(f"{k} {v:.3f}" for k, v in settings.thresholds.items()), ""]
    return lines + [
        f"On `{report['data']['name']}` ({report['data']['articles']} articles): **macro F1 "
        f"{pct(report['macro']['f1'])}**, micro F1 {pct(report['micro']['f1'])} (the YAML above has them as "
        "fractions).",
        "",
        event_score_table(report),
        "",
        f"Full report with per-label curves and errors: [{REPORT_MD}]({REPORT_MD}).",
        "",
    ]

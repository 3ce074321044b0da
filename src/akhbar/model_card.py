"""The packaged model's README.md: YAML front matter (model-index) and a card filled from the real run."""

from __future__ import annotations

from pathlib import Path

import yaml

from .report import REPORT_MD, score_table
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


def _front_matter(name: str, settings: PackageSettings, report: dict | None) -> str:
    meta: dict = {
        "language": ["ar"],
        "library_name": "transformers",
        "pipeline_tag": "token-classification",
        "tags": ["akhbar", "named-entity-recognition", "arabic", "news"],
    }
    if not Path(settings.base_model).exists() and settings.base_model.count("/") == 1:
        meta["base_model"] = settings.base_model  # a hub id; local paths mean nothing to readers
    if report is not None:
        strict, lenient = report["strict"]["micro"], report["lenient"]["micro"]
        meta["metrics"] = ["seqeval"]
        meta["model-index"] = [
            {
                "name": name,
                "results": [
                    {
                        "task": {"type": "token-classification", "name": "Named Entity Recognition"},
                        "dataset": {"name": report["data"]["name"], "type": "custom", "split": "test"},
                        "metrics": [
                            {"type": "f1", "value": round(strict["f1"], 4), "name": "strict micro F1 (seqeval IOB2)"},
                            {
                                "type": "precision",
                                "value": round(strict["precision"], 4),
                                "name": "strict micro precision",
                            },
                            {"type": "recall", "value": round(strict["recall"], 4), "name": "strict micro recall"},
                            {
                                "type": "f1",
                                "value": round(lenient["f1"], 4),
                                "name": "lenient micro F1 (seqeval default)",
                            },
                        ],
                    }
                ],
            }
        ]
    return "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n"


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
    lines = [
        _front_matter(name, settings, report),
        f"# {name}",
        "",
        f"Arabic named-entity recognition ({', '.join(settings.entity_labels)}) fine-tuned with "
        f"akhbar from `{settings.base_model}`.",
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
        f'ner = pipeline("token-classification", model="models/{name}", aggregation_strategy="simple")',
        "```",
        "",
        "## Results",
        "",
    ]
    if report is None:
        lines += ["Not evaluated: the run had no test or validation data.", ""]
    else:
        lines += [
            f"On `{report['data']['name']}` ({report['data']['articles']} articles, {report['data']['gold_entities']} "
            f"entities): **strict micro F1 {100 * report['strict']['micro']['f1']:.1f}**, lenient "
            f"{100 * report['lenient']['micro']['f1']:.1f} (seqeval, entity level).",
            "",
            score_table(report),
            "",
            f"Full report with confusion matrix and errors: [{REPORT_MD}]({REPORT_MD}).",
            "",
        ]
    lines += ["## Training", "", "| data | file | articles |", "|---|---|---:|"]
    for split in ("train", "validation", "test"):
        if split in data:
            lines.append(f"| {split} | `{data[split]['file']}` | {data[split]['articles']} |")
    lines += ["", "| hyperparameter | value |", "|---|---|"]
    lines += [f"| {k} | {hp[k]} |" for k in HYPERPARAMETERS if k in hp]
    lines += [
        f"| max_length / stride | {settings.max_length} / {settings.stride} |",
        "",
    ]
    if run.get("best_validation"):
        best = run["best_validation"]
        lines += [f"Best validation strict F1 {100 * best['metric']:.1f} at step {best['step']}.", ""]
    if run.get("train_runtime_s") is not None:
        lines += [f"Training took {run['train_runtime_s']:.0f} s ({run.get('device', 'unknown device')}).", ""]
    lines += [
        f"Preprocessing (`{settings.preprocessing.preset}`, applied identically at inference): "
        f"{', '.join(steps) or 'none'}.",
        "",
        "## Intended use",
        "",
        "Finding people, places, organisations and other named entities in Modern Standard Arabic news text, "
        "for analysts and NLP pipelines that review the output.",
        "",
        "## Limitations",
        "",
        "- Trained on the data above only: expect lower scores on other genres, dialects, social media and on "
        "entity types the training data rarely shows (see the per-type table).",
        "- Clitics stay attached to their word (ANERcorp convention): `وبيروت` is returned whole as LOC.",
        "- Scores are on one test set; they are not a guarantee for your data. Check the error list.",
        "",
        f"Made with akhbar {settings.akhbar_version}.",
    ]
    return "\n".join(lines) + "\n"

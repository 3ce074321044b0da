"""The packaged model's README.md: YAML front matter (model-index) and a card filled from the real run.

The task of the package (:mod:`akhbar.tasks`) gives its metadata, metrics, opening and results; the rest
(training data, hyperparameters, timing, preprocessing, limitations) is the same for every task. No torch
is imported here.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .report import pct
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


def _front_matter(name: str, settings: PackageSettings, report: dict | None, task) -> str:
    meta: dict = {
        "language": ["ar"],
        "library_name": "transformers",
        "pipeline_tag": task.pipeline_tag,
        "tags": ["akhbar", *task.card_tags, "arabic", "news"],
    }
    if not Path(settings.base_model).exists() and settings.base_model.count("/") == 1:
        meta["base_model"] = settings.base_model  # a hub id; local paths mean nothing to readers
    if report is not None:
        meta["metrics"] = list(task.card_metric_names)
        meta["model-index"] = [
            {
                "name": name,
                "results": [
                    {
                        "task": {"type": task.model_index_task[0], "name": task.model_index_task[1]},
                        "dataset": {
                            "name": report["data"]["name"],
                            "type": "custom",
                            "split": report["data"].get("split", "test"),
                        },
                        "metrics": task.card_metrics(report),
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
    from .tasks import get_task  # here: task modules import this module's helpers

    task = get_task(settings.task)
    use, limitation = task.card_use(settings)
    data = run.get("data", {})
    hp = run.get("hyperparameters", {})
    steps = [k for k, v in settings.preprocessing.to_dict().items() if v is True]
    lines = [_front_matter(name, settings, report, task), f"# {name}", ""]
    lines += task.card_intro(name, settings, report)
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
        use,
        "",
        "## Limitations",
        "",
        "- Trained on the data above only: expect lower scores on other genres, dialects, social media and on "
        "entity types the training data rarely shows (see the per-type table).",
        f"- {limitation}",
        "- Scores are on one test set; they are not a guarantee for your data. Check the error list.",
        "",
        f"Made with akhbar {settings.akhbar_version}.",
    ]
    return "\n".join(lines) + "\n"

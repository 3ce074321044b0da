"""Fine-tune an encoder for any registered task with transformers' Trainer, evaluate, package.

``train.py`` calls :func:`main`, which reads top to bottom: parse the config, read the splits, load the base
model, build the task's Trainer, train, package. Nothing here depends on which task it is: the task
(:mod:`akhbar.tasks`) gives the schema, the model, the encoding, the Trainer and the report. Every step is a
named function so that tests and other entry points can reuse them.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import torch
import transformers
from transformers import AutoTokenizer, set_seed

from . import __version__
from .articles import from_dataset, read_articles, to_dataset
from .config import AkhbarTrainingArguments, DataArguments, ModelArguments, parse_config
from .inference import encoder_max_length
from .inference.hub import OFFLINE_HINT, hub_problem, near_miss, offline
from .model_card import HYPERPARAMETERS
from .packaging import RUN_CONFIG, check_destination, package_run
from .settings import PackageSettings
from .tasks import Split, Task, get_task
from .trainers import EarlyStopping

logger = logging.getLogger("akhbar")


def setup_logging(training_args: AkhbarTrainingArguments) -> None:
    """One readable log format; replicas log warnings only (``log_level_replica``)."""
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    explicit = training_args.log_level != "passive"
    level = (
        training_args.get_process_log_level()
        if explicit
        else (logging.INFO if training_args.should_log else logging.WARNING)
    )
    logging.getLogger("akhbar").setLevel(level)
    # Libraries stay at WARNING unless log_level asks for more: their INFO lines bury ours.
    library_level = level if explicit else max(level, logging.WARNING)
    datasets.utils.logging.set_verbosity(library_level)
    transformers.utils.logging.set_verbosity(library_level)


def load_base(model_args: ModelArguments, task: Task, schema: Sequence[str], data_args: DataArguments):
    """The tokenizer and the task's model (its labels on top of the base encoder).

    Raises:
        FileNotFoundError: the model is neither a local folder nor reachable on the hub; says how to fix it.
        ValueError: a slow tokenizer, or windows of ``max_length`` tokens longer than the encoder can read.
    """
    name = model_args.model_name_or_path
    fetch = (
        f"Download it where you have network (`hf download {name} --local-dir DIR`) and pass --model_name_or_path DIR"
    )

    def nearest() -> str:  # a mistyped local folder: the name that is there (looked up only when loading fails)
        hint = near_miss(name)
        return f" ({hint})" if hint else ""

    if not Path(name).is_dir() and (problem := hub_problem(name)):
        raise FileNotFoundError(f"cannot load the base model: {problem}{nearest()}. {fetch}; {OFFLINE_HINT}")
    id2label = dict(enumerate(task.model_labels(schema)))
    max_length = data_args.max_length
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = task.model_class().from_pretrained(
            name,
            num_labels=len(id2label),
            id2label=id2label,
            label2id={v: k for k, v in id2label.items()},
            **task.model_config(data_args),
        )
    except OSError as err:
        if Path(name).is_dir():
            raise FileNotFoundError(f"{name}: not a loadable Hugging Face model folder ({err})") from None
        where = (
            "HF_HUB_OFFLINE is set and it is not in the local hub cache"
            if offline()
            else "the Hugging Face hub could not be reached or has no such model"
        )
        raise FileNotFoundError(
            f"cannot load the base model {name!r}: it is not a local folder and {where}{nearest()}. {fetch}; "
            f"{OFFLINE_HINT}"
        ) from None
    if not tokenizer.is_fast:
        raise ValueError(f"{name}: akhbar needs a fast tokenizer (offset mapping); this model only has a slow one")
    limit = encoder_max_length(model.config, tokenizer)
    if limit is not None and max_length > limit:
        raise ValueError(
            f"max_length {max_length} is longer than {name} can read ({limit} tokens: its position embeddings); "
            f"set max_length to at most {limit} (long articles are read in overlapping windows either way)"
        )
    if model_args.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    return tokenizer, model


def load_splits(data_args: DataArguments, seed: int, task: Task) -> tuple[dict[str, Split], list[str]]:
    """Read and validate train/validation/test; hold out validation from train when asked.

    Returns:
        The splits by name and the task's schema (entity types, event labels, ...).
    """
    if not data_args.train_file:
        raise ValueError("no train_file: set it in the config or pass --train_file FILE")
    join = data_args.join_sentences
    options = data_args.read_options()
    train, report = read_articles(data_args.train_file, data_args.entity_labels, data_args.skip_invalid, join, options)
    splits = {"train": Split("train", data_args.train_file, train, len(report.skipped))}
    schema = task.schema(splits["train"], data_args)
    reading = task.entity_labels_for_reading(schema, data_args)
    for name in ("validation", "test"):
        path = getattr(data_args, f"{name}_file")
        if path:
            articles, report = read_articles(path, reading, data_args.skip_invalid, join, options)
            splits[name] = Split(name, path, articles, len(report.skipped))
    if data_args.validation_split and "validation" in splits:
        raise ValueError("set either validation_file or validation_split, not both")
    if data_args.validation_split:
        parts = to_dataset(train).train_test_split(test_size=data_args.validation_split, seed=seed)
        splits["train"] = Split("train", data_args.train_file, from_dataset(parts["train"]), splits["train"].skipped)
        splits["validation"] = Split(
            "validation",
            f"{data_args.train_file} (held out {data_args.validation_split:.0%}, seed {seed})",
            from_dataset(parts["test"]),
            held_out=True,
        )
    for split in splits.values():
        task.check_split(split, schema, data_args)
        logger.info(
            "%s: %d articles, %d entities, %d event labels (%s)",
            split.name,
            len(split.articles),
            sum(len(a["entities"]) for a in split.articles),
            sum(len(a["events"]) for a in split.articles),
            split.file,
        )
    return splits, schema


def last_complete_checkpoint(out: Path) -> str | None:
    """The newest ``checkpoint-N`` whose save finished (the Trainer writes ``trainer_state.json`` last).

    A run killed while saving leaves a partial folder; resuming from it would fail or, worse, load
    half-written state, so it is skipped with a warning.
    """
    if not out.is_dir():
        return None
    found = [p for p in out.iterdir() if p.is_dir() and re.fullmatch(r"checkpoint-\d+", p.name)]
    for folder in sorted(found, key=lambda p: -int(p.name.split("-")[1])):
        if (folder / "trainer_state.json").is_file():
            return str(folder)
        logger.warning("%s is incomplete (no trainer_state.json: the run stopped while saving); skipping it", folder)
    return None


# What a training run writes into its output_dir (the Trainer's checkpoints, model, tokenizer and state files,
# akhbar's settings and record). With overwrite_output_dir a folder holding only these is replaced; a folder
# holding anything else is refused, so a run never deletes what no run wrote (data files, notes, ...).
RUN_FOLDERS = re.compile(r"checkpoint-\d+|runs")
RUN_FILES = re.compile(
    r"model(-\d+-of-\d+)?\.safetensors|model\.safetensors\.index\.json|config\.json|generation_config\.json|"
    r"tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|added_tokens\.json|chat_template\.jinja|"
    r"vocab\.txt|vocab\.json|merges\.txt|sentencepiece\.bpe\.model|spiece\.model|"
    r"training_args\.bin|trainer_state\.json|(train|eval|test|all)_results\.json|akhbar\.json|run_config\.json"
)


def foreign_entries(out: Path) -> list[str]:
    """Entries of ``out`` that no training run writes (so an overwrite must not delete them)."""
    return sorted(
        p.name
        for p in out.iterdir()
        if not (RUN_FOLDERS.fullmatch(p.name) and p.is_dir() or RUN_FILES.fullmatch(p.name) and p.is_file())
    )


@dataclass
class OutputDir:
    """Where the run writes, whether it resumes, and the previous run it replaces (moved aside when training
    starts, deleted only when the new run has been packaged)."""

    path: Path
    resume: str | None = None
    replaces: bool = False
    aside: Path | None = None

    def make_room(self, is_main: bool) -> None:
        """Move the previous run aside (called after everything that can fail on user input has been checked)."""
        if not self.replaces:
            return
        self.aside = self.path.with_name(f".{self.path.name}.previous-{time.strftime('%Y%m%d-%H%M%S')}")
        if is_main:
            os.replace(self.path, self.aside)
            logger.info("moved the previous run in %s aside to %s until this run is packaged", self.path, self.aside)

    def finish(self, is_main: bool) -> None:
        """The new run is complete: delete the previous one."""
        if self.aside is not None and is_main and self.aside.exists():
            shutil.rmtree(self.aside)


def check_writable(folder: Path, key: str) -> None:
    """Refuse, before training, a destination that cannot be created or written (found after training otherwise).

    Raises:
        FileExistsError: part of the path is a file.
        PermissionError: the nearest existing folder is not writable.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise FileExistsError(f"{key} {folder}: {existing} is a file, not a folder; choose another --{key}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"{key} {folder}: {existing} is not writable; choose another --{key}")


def prepare_output_dir(training_args: AkhbarTrainingArguments) -> OutputDir:
    """Check ``output_dir`` before anything is loaded: refuse to clobber, resolve ``resume_from_checkpoint``.

    Nothing on disk changes here. With ``overwrite_output_dir`` a previous run's folder is moved aside when
    training starts (:meth:`OutputDir.make_room`) and deleted after packaging; if the new run fails, the old
    one is still there under ``.<name>.previous-<time>``.

    Raises:
        FileNotFoundError: ``resume_from_checkpoint`` names nothing to resume from.
        FileExistsError: ``output_dir`` is not empty and may not be replaced, or holds files no run writes.
    """
    out = Path(training_args.output_dir)
    resume = training_args.resume_from_checkpoint
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"output_dir {out} is a file, not a folder; choose another --output_dir")
    if resume in ("last", "true", "True"):
        resume = last_complete_checkpoint(out)
        if resume is None:
            raise FileNotFoundError(f"resume_from_checkpoint=last, but {out} holds no complete checkpoint-* folder")
    elif resume and not Path(resume).is_dir():
        raise FileNotFoundError(f"resume_from_checkpoint: {resume} is not a checkpoint folder")
    if resume is not None:
        logger.info("resuming from %s", resume)
        return OutputDir(out, resume=resume)
    if not (out.is_dir() and any(out.iterdir())):
        return OutputDir(out)
    if not training_args.overwrite_output_dir:
        raise FileExistsError(
            f"output_dir {out} exists and is not empty; pass --overwrite_output_dir true to replace it or "
            "--resume_from_checkpoint last to continue its run"
        )
    foreign = foreign_entries(out)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise FileExistsError(
            f"output_dir {out} holds files a training run does not write ({shown}); --overwrite_output_dir "
            "replaces only a previous run, so move them out or choose another --output_dir"
        )
    return OutputDir(out, replaces=True)


def configure_validation(training_args: AkhbarTrainingArguments, data_args: DataArguments, splits, task: Task):
    """Evaluation, best-model selection and early stopping when there is validation data; the callbacks."""
    if "validation" not in splits:
        lost = ", ".join(
            filter(None, ["no best-model selection", "no early stopping", task.without_validation(data_args)])
        )
        logger.warning("no validation data: the last checkpoint is packaged (%s)", lost)
        training_args.eval_strategy = "no"
        training_args.load_best_model_at_end = False
        return []
    if training_args.eval_strategy == "no":  # asked for: no scoring during training, hence no early stopping
        if training_args.early_stopping_patience:
            logger.warning(
                "eval_strategy no: validation is not scored during training, so early_stopping_patience %d "
                "has nothing to count and no early stopping runs",
                training_args.early_stopping_patience,
            )
        return []
    if training_args.early_stopping_patience:
        return [EarlyStopping(early_stopping_patience=training_args.early_stopping_patience)]
    return []


@dataclass
class Trained:
    """What training gave: the trainer (at its best model), the task's late settings and the run's figures."""

    trainer: object
    settings_fields: dict
    figures: dict


def train(trainer, output: OutputDir, training_args: AkhbarTrainingArguments, late_settings) -> Trained:
    """Train (resuming if asked), save the best model and the Trainer's state, and measure the run."""
    # Everything that user input can break has been checked: the previous run (if replaced) goes aside now.
    output.make_room(trainer.is_world_process_zero())
    trainer.accelerator.wait_for_everyone()
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=output.resume)
    runtime = time.perf_counter() - started
    state = trainer.state
    stopped_early = state.global_step < state.max_steps
    if stopped_early:
        logger.info(
            "early stopping: no better %s in %d evaluations; stopped at step %d of %d (epoch %.2f); best %.4f at "
            "step %s",
            training_args.metric_for_best_model,
            training_args.early_stopping_patience,
            state.global_step,
            state.max_steps,
            state.epoch or 0,
            state.best_metric or 0,
            state.best_global_step,
        )
    trainer.save_model()  # the best checkpoint when load_best_model_at_end
    trainer.save_metrics("train", result.metrics)
    trainer.save_state()
    fields = late_settings()  # every process: threshold tuning runs a distributed prediction
    figures = {
        "train_runtime_s": round(runtime, 1),
        "stopped_early": stopped_early,
        "trained_steps": state.global_step,
        "planned_steps": state.max_steps,
        **throughput(trainer, runtime),
    }
    if state.best_metric is not None:
        figures["best_validation"] = {
            "metric_name": training_args.metric_for_best_model,
            "metric": state.best_metric,
            "step": state.best_global_step,
            "checkpoint": state.best_model_checkpoint,
        }
    return Trained(trainer, fields, figures)


def throughput(trainer, runtime: float) -> dict:
    """Training tokens per second and the share of padding in the batches (this process's).

    Tokens are the non-padding tokens of the training dataset (its ``length`` column) times the epochs
    trained; the padding share is what :class:`~akhbar.trainers.AkhbarTrainer` counted while training. Logged,
    and recorded in ``run_config.json`` (the benchmark reads it).
    """
    dataset = trainer.train_dataset
    if "length" not in getattr(dataset, "column_names", ()):
        return {}
    tokens = int(sum(dataset["length"]))
    epochs = trainer.state.epoch or 0.0
    figures = {
        "train_windows": len(dataset),
        "train_tokens_per_epoch": tokens,
        "train_epochs": round(epochs, 3),
        "train_tokens_per_s": round(tokens * epochs / runtime, 1) if runtime > 0 else None,
        "train_padding_share": trainer.padding_share(),
    }
    logger.info(
        "training: %s non-padding tokens/s over %.2f epochs of %d tokens; padding %.1f%% of batch positions",
        figures["train_tokens_per_s"],
        epochs,
        tokens,
        100 * (figures["train_padding_share"] or 0),
    )
    return figures


def run_record(
    model_args, data_args, training_args, splits: dict[str, Split], config_path: Path, figures: dict
) -> dict:
    """What the model card and a later ``akhbar package`` need to know about this run (``run_config.json``)."""
    # The card's hyperparameter table: TrainingArguments fields, plus the model switch.
    hp = {k: getattr(training_args, k) for k in HYPERPARAMETERS if hasattr(training_args, k)}
    hp["freeze_embeddings"] = model_args.freeze_embeddings
    splits_record = {
        name: {
            "file": s.file,
            "articles": len(s.articles),
            "skipped": s.skipped,
            **({"held_out": True} if s.held_out else {}),
        }
        for name, s in splits.items()
    }
    return {
        "config": str(config_path),
        "base_model": model_args.model_name_or_path,
        "data": {
            "skip_invalid": data_args.skip_invalid,
            "read_options": vars(data_args.read_options()),
            **splits_record,
        },
        "hyperparameters": hp,
        "versions": {
            "akhbar": __version__,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "datasets": datasets.__version__,
            "python": platform.python_version(),
        },
        "device": str(training_args.device) + (f" x{training_args.world_size}" if training_args.world_size > 1 else ""),
        **figures,
    }


def main(argv: list[str] | None = None) -> None:
    model_args, data_args, prep_args, training_args, config_path = parse_config(argv)
    setup_logging(training_args)
    task = get_task(model_args.task)
    preprocessing = prep_args.to_config()
    package_dest = Path(model_args.package_dir) / model_args.model_name
    check_destination(
        package_dest,
        training_args.overwrite_output_dir,
        "pass --overwrite_output_dir true to replace it, or choose another --model_name",
    )
    check_writable(package_dest.parent, "package_dir")
    # push_to_hub uploads the packaged folder at the end, not the Trainer's raw checkpoints.
    push_repo = training_args.hub_model_id if training_args.push_to_hub else None
    if training_args.push_to_hub and not push_repo:
        raise ValueError("push_to_hub needs hub_model_id: the hub repository (user/name) to upload the package to")
    training_args.push_to_hub = False
    # All data is read and validated before anything on disk changes: a bad record leaves no trace.
    splits, schema = load_splits(data_args, training_args.seed, task)
    output = prepare_output_dir(training_args)
    check_writable(output.path, "output_dir")
    set_seed(training_args.seed)
    tokenizer, model = load_base(model_args, task, schema, data_args)
    callbacks = configure_validation(training_args, data_args, splits, task)
    trainer, late_settings = task.build_trainer(
        model=model,
        tokenizer=tokenizer,
        training_args=training_args,
        data_args=data_args,
        splits=splits,
        schema=schema,
        preprocessing=preprocessing,
        callbacks=callbacks,
    )
    trained = train(trainer, output, training_args, late_settings)
    if trainer.is_world_process_zero():
        settings = PackageSettings(
            task=task.name,
            preprocessing=preprocessing,
            max_length=data_args.max_length,
            stride=data_args.stride,
            join_sentences=data_args.join_sentences,
            base_model=model_args.model_name_or_path,
            akhbar_version=__version__,
            **task.settings_fields(schema, data_args),
            **trained.settings_fields,
        )
        settings.save(training_args.output_dir)
        record = run_record(model_args, data_args, training_args, splits, config_path, trained.figures)
        (Path(training_args.output_dir) / RUN_CONFIG).write_text(
            json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        dest = package_run(
            training_args.output_dir,
            package_dest,
            overwrite=training_args.overwrite_output_dir,
            evaluation=splits.get("test") or splits.get("validation"),
            push_to_hub=push_repo,
            show_progress=not training_args.disable_tqdm,
        )
        runtime = trained.figures["train_runtime_s"]
        report = dest / "eval_report.md"  # none without test or validation data: the log must not point at it
        where = f"report: {report}" if report.is_file() else "not evaluated: no test or validation data"
        logger.info("packaged model: %s (training %.0f s; %s)", dest, runtime, where)
    output.finish(trainer.is_world_process_zero())
    trainer.accelerator.wait_for_everyone()

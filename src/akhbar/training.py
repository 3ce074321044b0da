"""Fine-tune an encoder (NER or event classification) with transformers' Trainer, evaluate, package.

``train.py`` calls :func:`main`; every step is a named function here so that tests and other entry points
can reuse them.
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
from transformers import (
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    EarlyStoppingCallback,
    Trainer,
    set_seed,
)

from . import __version__
from .articles import infer_entity_labels, read_articles, to_dataset
from .config import AkhbarTrainingArguments, DataArguments, ModelArguments, parse_config
from .event_training import (
    EventCollator,
    EventMetrics,
    EventTrainer,
    check_event_labels,
    class_weights,
    encode_event_split,
    tuned_thresholds,
)
from .hub import OFFLINE_HINT, hub_problem, offline
from .inference import encoder_max_length
from .labels import bio_labels
from .metrics import headline, ner_scores
from .model_card import HYPERPARAMETERS
from .packaging import RUN_CONFIG, check_destination, package_run
from .preprocessing import PreprocessingConfig
from .settings import PackageSettings
from .trainers import OrderedEvalTrainer
from .windows import IGNORE, AlignmentStats, encode_article, merge_windows, missing_words, window_labels, word_tags

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


def load_base(
    model_args: ModelArguments,
    labels: Sequence[str],
    max_length: int,
    model_class=AutoModelForTokenClassification,
    **config,
):
    """The tokenizer and a classification model (``model_class``) with ``labels`` on top of the base encoder.

    Raises:
        FileNotFoundError: the model is neither a local folder nor reachable on the hub; says how to fix it.
        ValueError: a slow tokenizer, or windows of ``max_length`` tokens longer than the encoder can read.
    """
    name = model_args.model_name_or_path
    fetch = (
        f"Download it where you have network (`hf download {name} --local-dir DIR`) and pass --model_name_or_path DIR"
    )
    if not Path(name).is_dir() and (problem := hub_problem(name)):
        raise FileNotFoundError(f"cannot load the base model: {problem}. {fetch}; {OFFLINE_HINT}")
    id2label = dict(enumerate(labels))
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = model_class.from_pretrained(
            name, num_labels=len(labels), id2label=id2label, label2id={v: k for k, v in id2label.items()}, **config
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
            f"cannot load the base model {name!r}: it is not a local folder and {where}. {fetch}; {OFFLINE_HINT}"
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


@dataclass
class Split:
    """One data split: its articles, how reading went, and its windows once encoded."""

    name: str
    file: str
    articles: list[dict]
    skipped: int = 0


def load_splits(data_args: DataArguments, seed: int, task: str = "ner") -> tuple[dict[str, Split], list[str]]:
    """Read and validate train/validation/test; hold out validation from train when asked.

    Returns:
        The splits by name and the schema: entity types (``ner``) or event labels (``events``).
    """
    if not data_args.train_file:
        raise ValueError("no train_file: set it in the config or pass --train_file FILE")
    schema = data_args.entity_labels
    join = data_args.join_sentences
    options = data_args.read_options()
    train, report = read_articles(data_args.train_file, schema, data_args.skip_invalid, join, options)
    if task == "ner":
        schema = schema or infer_entity_labels(train)
        if not schema:
            raise ValueError(f"{data_args.train_file}: no entity in the training data, nothing to learn")
    splits = {"train": Split("train", data_args.train_file, train, len(report.skipped))}
    for name in ("validation", "test"):
        path = getattr(data_args, f"{name}_file")
        if path:
            articles, report = read_articles(path, schema, data_args.skip_invalid, join, options)
            splits[name] = Split(name, path, articles, len(report.skipped))
    if data_args.validation_split and "validation" in splits:
        raise ValueError("set either validation_file or validation_split, not both")
    if data_args.validation_split:
        parts = to_dataset(train).train_test_split(test_size=data_args.validation_split, seed=seed)
        splits["train"] = Split("train", data_args.train_file, parts["train"].to_list(), splits["train"].skipped)
        splits["validation"] = Split(
            "validation",
            f"{data_args.train_file} (held out {data_args.validation_split:.0%}, seed {seed})",
            parts["test"].to_list(),
        )
    for split in splits.values():
        logger.info(
            "%s: %d articles, %d entities, %d event labels (%s)",
            split.name,
            len(split.articles),
            sum(len(a["entities"]) for a in split.articles),
            sum(len(a["events"]) for a in split.articles),
            split.file,
        )
    if task == "events":
        return splits, check_event_labels(splits, data_args.event_labels, data_args.multi_label)
    return splits, list(schema)


@dataclass
class Encoded:
    """Windows of a split as a ``datasets.Dataset`` plus what the metric needs to merge them back."""

    windows: datasets.Dataset
    rows: list[list[int]]  # per article: its window rows in ``windows``
    gold: list[list[str]]  # per article: word tags
    stats: AlignmentStats

    def longest_first(self) -> Encoded:
        """The same windows stored longest first, ``rows`` pointing at their new positions.

        Evaluation reads the dataset in order (:class:`akhbar.trainers.OrderedEvalTrainer`); sorted windows
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
) -> Encoded:
    """Normalize, window and label every article of a split (see :func:`akhbar.windows.window_labels`)."""
    columns: dict[str, list] = {
        k: [] for k in ("input_ids", "labels", "word_index", "cut_left", "cut_right", "num_words", "length")
    }
    rows, gold, stats = [], [], AlignmentStats()
    for article in split.articles:
        words, enc = encode_article(tokenizer, article["text"], preprocessing, max_length, stride)
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

    Predictions arrive as label ids per window token (see :func:`argmax_logits`), in dataset order
    (:class:`akhbar.trainers.OrderedEvalTrainer`); the gold label ids that come with them are checked
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
            picks = merge_windows(
                [self.word_index[r] for r in rows],
                [self.cut_left[r] for r in rows],
                [self.cut_right[r] for r in rows],
                len(gold),
            )
            y_pred.append(
                ["O" if pick is None else self.id2label[int(predictions[rows[pick[0]], pick[1]])] for pick in picks]
            )
        return headline(ner_scores(self.encoded.gold, y_pred))


def token_loss(outputs, labels: torch.Tensor, num_items_in_batch: torch.Tensor | int | None = None) -> torch.Tensor:
    """Cross-entropy summed over labelled tokens, divided by the labelled tokens of the whole step.

    The Trainer counts ``num_items_in_batch`` over all gradient-accumulation micro-batches and all
    processes, and multiplies a loss computed this way by the number of processes before DDP averages the
    gradients. The models' own token-classification loss is a plain per-batch mean that ignores that
    count, so in transformers 5 an N-process run got N times the gradient (and N times the logged loss)
    of a one-process run with the same global batch. With this loss both match, and gradient accumulation
    weighs every token equally. Evaluation passes no count: then it is the batch mean.
    """
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


def argmax_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Keep label ids, not logits, between evaluation steps (memory: windows x tokens x labels)."""
    return logits.argmax(dim=-1)


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


def run_record(model_args, data_args, training_args, splits: dict[str, Split], config_path: Path) -> dict:
    """What the model card and a later ``akhbar package`` need to know about this run."""
    # The card's hyperparameter table: TrainingArguments fields, plus the model switch.
    hp = {k: getattr(training_args, k) for k in HYPERPARAMETERS if hasattr(training_args, k)}
    hp["freeze_embeddings"] = model_args.freeze_embeddings
    return {
        "config": str(config_path),
        "base_model": model_args.model_name_or_path,
        "data": {
            "skip_invalid": data_args.skip_invalid,
            "read_options": vars(data_args.read_options()),
            **{name: {"file": s.file, "articles": len(s.articles), "skipped": s.skipped} for name, s in splits.items()},
        },
        "hyperparameters": hp,
        "versions": {
            "akhbar": __version__,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "datasets": datasets.__version__,
            "python": platform.python_version(),
        },
    }


def throughput(trainer: Trainer, train_runtime: float) -> dict:
    """Training tokens per second and the share of padding in the batches (this process's batches).

    Tokens are the non-padding tokens of the training windows, counted once per epoch trained; the padding
    share replays one epoch of the training dataloader (same sampler) and compares attention masks with
    batch shapes. Logged, and recorded in ``run_config.json`` (the benchmark reads it).
    """
    dataset = trainer.train_dataset
    if "length" not in getattr(dataset, "column_names", ()):
        return {}
    tokens = int(sum(dataset["length"]))
    real = padded = 0
    for batch in trainer.get_train_dataloader():
        real += int(batch["attention_mask"].sum()) if "attention_mask" in batch else int(batch["input_ids"].numel())
        padded += int(batch["input_ids"].numel())
    epochs = trainer.state.epoch or 0.0
    figures = {
        "train_windows": len(dataset),
        "train_tokens_per_epoch": tokens,
        "train_epochs": round(epochs, 3),
        "train_tokens_per_s": round(tokens * epochs / train_runtime, 1) if train_runtime > 0 else None,
        "train_padding_share": round(1 - real / padded, 4) if padded else None,
    }
    logger.info(
        "training: %s non-padding tokens/s over %.2f epochs of %d tokens; padding %.1f%% of batch positions",
        figures["train_tokens_per_s"],
        epochs,
        tokens,
        100 * (figures["train_padding_share"] or 0),
    )
    return figures


def build_trainer(model_args, data_args, training_args, splits, schema, tokenizer, model, preprocessing, callbacks):
    """The Trainer for the task, and a function giving the task's extra package settings after training."""
    pad = 8 if (training_args.fp16 or training_args.bf16) else None
    has_validation = "validation" in splits
    if model_args.task == "ner":
        label2id = {label: i for i, label in enumerate(bio_labels(schema))}
        encoded = {
            name: encode_split(
                split,
                tokenizer,
                preprocessing,
                data_args.max_length,
                data_args.stride,
                label2id,
                data_args.label_all_tokens,
            )
            for name, split in splits.items()
        }
        validation = encoded["validation"].longest_first() if has_validation else None
        trainer = OrderedEvalTrainer(
            model=model,
            args=training_args,
            train_dataset=encoded["train"].windows,
            eval_dataset=validation.windows if has_validation else None,
            processing_class=tokenizer,
            data_collator=DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=pad),
            compute_metrics=NerMetrics(validation, model.config.id2label) if has_validation else None,
            preprocess_logits_for_metrics=argmax_logits,
            compute_loss_func=token_loss,
            callbacks=callbacks,
        )
        return trainer, lambda: {"entity_labels": schema}
    multi = data_args.multi_label
    encoded = {
        name: encode_event_split(split, tokenizer, preprocessing, data_args.max_length, data_args.stride, schema, multi)
        for name, split in splits.items()
    }
    weights = class_weights(encoded["train"], len(schema), multi) if data_args.class_weights else None
    if weights is not None:
        logger.info("class weights: %s", dict(zip(schema, [round(w, 3) for w in weights.tolist()])))
    trainer = EventTrainer(
        model=model,
        args=training_args,
        train_dataset=encoded["train"],
        eval_dataset=encoded.get("validation"),
        processing_class=tokenizer,
        data_collator=EventCollator(tokenizer, multi, pad_to_multiple_of=pad),
        compute_metrics=EventMetrics(schema, multi) if has_validation else None,
        callbacks=callbacks,
        pooling=data_args.pooling,
        multi_label=multi,
        weights=weights,
    )

    def extra() -> dict:
        thresholds = None
        if multi and has_validation:
            thresholds = tuned_thresholds(trainer, encoded["validation"], schema)
        return {
            "entity_labels": [],
            "event_labels": schema,
            "multi_label": multi,
            "pooling": data_args.pooling,
            "thresholds": thresholds,
        }

    return trainer, extra


def main(argv: list[str] | None = None) -> None:
    model_args, data_args, prep_args, training_args, config_path = parse_config(argv)
    setup_logging(training_args)
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
    splits, schema = load_splits(data_args, training_args.seed, model_args.task)
    output = prepare_output_dir(training_args)
    check_writable(output.path, "output_dir")
    set_seed(training_args.seed)
    if model_args.task == "ner":
        tokenizer, model = load_base(model_args, bio_labels(schema), data_args.max_length)
    else:
        problem = "multi_label_classification" if data_args.multi_label else "single_label_classification"
        tokenizer, model = load_base(
            model_args, schema, data_args.max_length, AutoModelForSequenceClassification, problem_type=problem
        )
    if "validation" not in splits:
        logger.warning(
            "no validation data: the last checkpoint is packaged (no best-model selection, no early stopping%s)",
            ", no threshold tuning" if data_args.multi_label and model_args.task == "events" else "",
        )
        training_args.eval_strategy = "no"
        training_args.load_best_model_at_end = False
    callbacks = []
    if "validation" in splits and training_args.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=training_args.early_stopping_patience))
    trainer, task_settings = build_trainer(
        model_args, data_args, training_args, splits, schema, tokenizer, model, preprocessing, callbacks
    )
    # Everything that user input can break has been checked: the previous run (if replaced) goes aside now.
    output.make_room(trainer.is_world_process_zero())
    trainer.accelerator.wait_for_everyone()
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=output.resume)
    train_runtime = time.perf_counter() - started
    stopped_early = trainer.state.global_step < trainer.state.max_steps
    if stopped_early:
        logger.info(
            "early stopping: no better %s in %d evaluations; stopped at step %d of %d (epoch %.2f); best %.4f at "
            "step %s",
            training_args.metric_for_best_model,
            training_args.early_stopping_patience,
            trainer.state.global_step,
            trainer.state.max_steps,
            trainer.state.epoch or 0,
            trainer.state.best_metric or 0,
            trainer.state.best_global_step,
        )
    trainer.save_model()  # the best checkpoint when load_best_model_at_end
    trainer.save_metrics("train", result.metrics)
    trainer.save_state()
    extra = task_settings()  # every process: threshold tuning runs a distributed prediction
    # Every process: replaying the training dataloader may synchronize RNG state across processes.
    speed = throughput(trainer, train_runtime)

    if trainer.is_world_process_zero():
        settings = PackageSettings(
            task=model_args.task,
            preprocessing=preprocessing,
            max_length=data_args.max_length,
            stride=data_args.stride,
            join_sentences=data_args.join_sentences,
            base_model=model_args.model_name_or_path,
            akhbar_version=__version__,
            **extra,
        )
        settings.save(training_args.output_dir)
        record = run_record(model_args, data_args, training_args, splits, config_path)
        record["train_runtime_s"] = round(train_runtime, 1)
        record["stopped_early"] = stopped_early
        record["trained_steps"] = trainer.state.global_step
        record["planned_steps"] = trainer.state.max_steps
        record.update(speed)
        record["device"] = str(training_args.device) + (
            f" x{training_args.world_size}" if training_args.world_size > 1 else ""
        )
        if trainer.state.best_metric is not None:
            record["best_validation"] = {
                "metric_name": training_args.metric_for_best_model,
                "metric": trainer.state.best_metric,
                "step": trainer.state.best_global_step,
                "checkpoint": trainer.state.best_model_checkpoint,
            }
        (Path(training_args.output_dir) / RUN_CONFIG).write_text(
            json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        dest = package_run(
            training_args.output_dir,
            package_dest,
            overwrite=training_args.overwrite_output_dir,
            push_to_hub=push_repo,
            show_progress=not training_args.disable_tqdm,
        )
        logger.info("packaged model: %s (training %.0f s; report: %s)", dest, train_runtime, dest / "eval_report.md")
    output.finish(trainer.is_world_process_zero())
    trainer.accelerator.wait_for_everyone()

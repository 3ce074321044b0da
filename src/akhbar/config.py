"""Run configuration: argument dataclasses, YAML loading with line-numbered errors, command-line overrides.

A config file is a flat YAML mapping whose keys are the fields of the dataclasses below plus transformers'
``TrainingArguments``. ``train.py --config FILE --key value ...`` reads the file, then applies the
overrides; both go through ``HfArgumentParser`` so a value typed in YAML and on the command line is
converted and checked the same way. Unknown keys and values of the wrong type are errors that name the
file and line.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from transformers import HfArgumentParser, TrainingArguments

from .articles import ReadOptions
from .formats import get_format
from .labels import label_fault
from .preprocessing import PreprocessingConfig
from .tasks import get_task, task_names

DEFAULT_CONFIG = "configs/ner-sample.yaml"
DEFAULT_MODEL = "aubmindlab/bert-base-arabertv02"


class ConfigError(ValueError):
    """A bad configuration value; the message names the file, line and key."""


@dataclass
class ModelArguments:
    task: str = field(
        default="ner",
        metadata={
            "help": f"What to train: one of {', '.join(task_names())} (the README says what each learns).",
            "choices": task_names(),
        },
    )
    model_name_or_path: str = field(
        default=DEFAULT_MODEL,
        metadata={"help": "Base encoder: a Hugging Face hub id or a local folder (offline: a local folder)."},
    )
    model_name: str | None = field(
        default=None,
        metadata={"help": "Name of the packaged model folder under package_dir; default: the config file's name."},
    )
    package_dir: str = field(default="models", metadata={"help": "Where packaged models are written."})
    freeze_embeddings: bool = field(
        default=False,
        metadata={"help": "Freeze the word-embedding table (large multilingual vocabularies train much faster)."},
    )

    def __post_init__(self) -> None:
        if self.model_name is not None and (not self.model_name or "/" in self.model_name or self.model_name in ".."):
            raise ConfigError(f"model_name must be a plain folder name, found {self.model_name!r}")


@dataclass
class DataArguments:
    train_file: str | None = field(
        default=None, metadata={"help": "Training articles: akhbar JSONL, CoNLL or an annotation tool's export."}
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "Validation articles; picks the best checkpoint (strict entity F1)."}
    )
    test_file: str | None = field(default=None, metadata={"help": "Test articles; the packaged report's figures."})
    validation_split: float = field(
        default=0.0,
        metadata={"help": "Without validation_file: hold out this fraction of train (seeded) for validation."},
    )
    entity_labels: list[str] | None = field(
        default=None,
        metadata={"help": "Entity schema (e.g. PERS LOC ORG MISC); default: the types found in train_file."},
    )
    event_labels: list[str] | None = field(
        default=None,
        metadata={"help": "Event schema (task: events); default: the labels found in train_file."},
    )
    multi_label: bool = field(
        default=False,
        metadata={"help": "task: events: zero or more labels per article (sigmoid, tuned thresholds) instead of one."},
    )
    pooling: str = field(
        default="mean",
        metadata={
            "help": "task: events: pool window logits into the article's by 'mean' or 'max'.",
            "choices": ["mean", "max"],
        },
    )
    aggregation: str = field(
        default="max",
        metadata={
            "help": "task: sentence_events: how an article's sentence probabilities become its event probability: "
            "'max' (the most confident sentence) or 'noisy_or' (1 - product of (1 - p), several weak mentions add up).",
            "choices": ["max", "noisy_or"],
        },
    )
    class_weights: bool = field(
        default=True,
        metadata={"help": "task: events: weigh the loss against class imbalance (inverse label frequency)."},
    )
    event_loss: str = field(
        default="cross_entropy",
        metadata={
            "help": "task: events: the loss on article logits: 'cross_entropy' (binary for multi-label) or 'focal' "
            "(cross-entropy scaled by (1 - p_true)^focal_gamma, so confident easy examples count less).",
            "choices": ["cross_entropy", "focal"],
        },
    )
    focal_gamma: float = field(
        default=2.0, metadata={"help": "task: events, event_loss: focal: the focusing exponent (0 = cross-entropy)."}
    )
    oversample_positives: int = field(
        default=1,
        metadata={
            "help": "task: events, multi_label: repeat each training article that has an event label N times per "
            "epoch (1: off), an alternative to class_weights for rare labels; validation and test are untouched."
        },
    )
    join_sentences: int = field(
        default=0,
        metadata={
            "help": "CoNLL files: join consecutive sentences of a document into articles of up to N words, so "
            "each sentence is read with its neighbours as context (0: one article per sentence)."
        },
    )
    label_all_tokens: bool = field(
        default=False,
        metadata={
            "help": "task: ner: train every sub-token of a word on its tag (B- becomes I- after the first), not "
            "only the first; inference still reads first sub-tokens, but plain pipelines with "
            "aggregation_strategy='simple' then read trained positions."
        },
    )
    max_length: int = field(default=256, metadata={"help": "Tokens per window, special tokens included."})
    stride: int = field(default=64, metadata={"help": "Tokens shared by consecutive windows of a long article."})
    skip_invalid: bool = field(
        default=False,
        metadata={"help": "Skip bad records (counted and reported) instead of stopping at the first one."},
    )
    data_format: str | None = field(
        default=None,
        metadata={
            "help": "Format of the data files: jsonl, conll, label-studio, doccano, brat, webanno-tsv, prodigy; "
            "default: detected from each file's content."
        },
    )
    text_field: str = field(default="text", metadata={"help": "Label Studio: the task data field holding the text."})
    annotator_policy: str = field(
        default="first",
        metadata={
            "help": "Records with several annotations: first, latest, majority, or annotator:NAME (cancelled and "
            "rejected annotations are always left out)."
        },
    )
    offset_unit: str = field(
        default="auto",
        metadata={
            "help": "Unit of the tools' span offsets: auto (checked against the span text, converted only when "
            "that makes every span match), codepoint, utf16 or grapheme."
        },
    )
    choices_name: str = field(
        default="event", metadata={"help": "Label Studio JSON-MIN: the name of the Choices control (events)."}
    )
    skip_unrepresentable: bool = field(
        default=False,
        metadata={
            "help": "Skip (and count) what akhbar cannot hold: discontinuous, overlapping or nested spans, "
            "relations, attributes, other layers; default: an error."
        },
    )

    def read_options(self) -> ReadOptions:
        """The options :func:`akhbar.articles.read_articles` takes from these arguments."""
        return ReadOptions(
            data_format=self.data_format,
            text_field=self.text_field,
            annotator_policy=self.annotator_policy,
            offset_unit=self.offset_unit,
            choices_name=self.choices_name,
            skip_unrepresentable=self.skip_unrepresentable,
        )

    def __post_init__(self) -> None:
        try:
            self.read_options()
            if self.data_format is not None:
                get_format(self.data_format)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        if self.max_length < 8:
            raise ConfigError(f"max_length must be at least 8 tokens, found {self.max_length}")
        if self.stride < 0 or self.stride >= self.max_length // 2:
            raise ConfigError(
                f"stride must be between 0 and max_length/2 (= {self.max_length // 2 - 1}), found {self.stride}"
            )
        if self.focal_gamma < 0 or math.isnan(self.focal_gamma):
            raise ConfigError(f"focal_gamma must be 0 or more, found {self.focal_gamma}")
        if self.oversample_positives < 1:
            raise ConfigError(f"oversample_positives must be 1 (off) or more, found {self.oversample_positives}")
        if self.oversample_positives > 1 and not self.multi_label:
            raise ConfigError(
                "oversample_positives needs multi_label: true (single-label articles all have a label; "
                "class_weights weighs their classes)"
            )
        if self.join_sentences < 0:
            raise ConfigError(f"join_sentences must be 0 (off) or a number of words, found {self.join_sentences}")
        if not 0.0 <= self.validation_split < 1.0 or math.isnan(self.validation_split):
            raise ConfigError(f"validation_split must be in [0, 1), found {self.validation_split}")
        if self.entity_labels is not None:
            if not self.entity_labels:
                raise ConfigError("entity_labels is empty: give the entity types, e.g. [PERS, LOC, ORG, MISC]")
            bad = [label for label in self.entity_labels if label_fault(label)]
            if bad or len(set(self.entity_labels)) != len(self.entity_labels):
                raise ConfigError(
                    f"entity_labels must be distinct plain types such as PERS LOC, found {self.entity_labels}"
                )


@dataclass
class PreprocessingArguments:
    preprocessing: str = field(
        default="arabertv02",
        metadata={"help": "Normalization preset: 'arabertv02' (as AraBERT was pretrained) or 'none'."},
    )
    html_unescape: bool | None = field(default=None, metadata={"help": "Decode HTML entities (&amp; &amp …)."})
    remove_invisible: bool | None = field(
        default=None,
        metadata={
            "help": "Delete LRM/RLM/ALM, zero-width chars, soft hyphens (akhbar addition: the reference makes them "
            "spaces and splits the word)."
        },
    )
    strip_tashkeel: bool | None = field(default=None, metadata={"help": "Remove Arabic diacritics."})
    strip_tatweel: bool | None = field(default=None, metadata={"help": "Remove tatweel (ـ)."})
    replace_urls_emails_mentions: bool | None = field(
        default=None, metadata={"help": "URLs, e-mails, @mentions become [رابط] [بريد] [مستخدم]."}
    )
    remove_html_markup: bool | None = field(default=None, metadata={"help": "Drop HTML tags (anything in <…>)."})
    map_indic_digits: bool | None = field(default=None, metadata={"help": "Map Arabic-Indic digits ٠-٩ to 0-9."})
    map_persian_digits: bool | None = field(
        default=None,
        metadata={"help": "Map Persian digits ۰-۹ to 0-9 (akhbar addition: the reference drops them)."},
    )
    remove_repetition: bool | None = field(default=None, metadata={"help": "Cut runs of 3+ equal characters to 2."})
    insert_white_spaces: bool | None = field(
        default=None, metadata={"help": "Space out punctuation and split letter/digit runs."}
    )
    replace_slash_with_dash: bool | None = field(default=None, metadata={"help": "'/' becomes '-'."})
    remove_rejected_chars: bool | None = field(
        default=None, metadata={"help": "Characters outside AraBERT's alphabet become spaces."}
    )

    def to_config(self) -> PreprocessingConfig:
        overrides = {k: v for k, v in vars(self).items() if k != "preprocessing"}
        try:
            return PreprocessingConfig.from_preset(self.preprocessing, **overrides)
        except ValueError as err:
            raise ConfigError(str(err)) from None


@dataclass
class AkhbarTrainingArguments(TrainingArguments):
    """``TrainingArguments`` with the defaults akhbar's training depends on, plus its own switches."""

    output_dir: str | None = field(default="runs/ner", metadata={"help": "Run folder: checkpoints and logs."})
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate on validation."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to save a checkpoint."})
    logging_steps: float = field(default=50, metadata={"help": "Log every N steps."})
    save_total_limit: int | None = field(
        default=2,
        metadata={
            "help": "Checkpoints kept (the best is always kept); each holds the optimizer state too, about twice "
            "the trainable weights' size (940 MB for a 117M-parameter encoder)"
        },
    )
    load_best_model_at_end: bool = field(default=True, metadata={"help": "Package the best validation checkpoint."})
    metric_for_best_model: str | None = field(
        default="auto", metadata={"help": "Validation metric to select on; auto: the task's (strict_f1, macro_f1)."}
    )
    early_stopping_patience: int | None = field(
        default=3, metadata={"help": "Stop after N evaluations without improvement (null: never)."}
    )
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "Allow replacing an existing output_dir and packaged model folder."}
    )


CONFIG_CLASSES = (ModelArguments, DataArguments, PreprocessingArguments, AkhbarTrainingArguments)
NULL = "null"  # the YAML spelling of "no value", accepted on the command line too


def _nullable_keys() -> set[str]:
    """Config keys whose field accepts ``None``: typed ``X | None``, or None by default."""
    keys = set()
    for cls in CONFIG_CLASSES:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            hint = hints.get(f.name)
            union = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
            if f.default is None or (union and type(None) in typing.get_args(hint)):
                keys.add(f.name)
    return keys


MAX_CONFIG_CHARS = 1_000_000
MAX_CONFIG_VALUES = 100_000


def _expanded_size(root: yaml.Node) -> int:
    """How many nodes the YAML document holds once aliases are expanded (stops counting past the limit).

    An alias is the node it names, shared: a few lines of anchors that each repeat the previous one ten
    times ("billion laughs") expand to billions of values when the config is turned into arguments. The
    composed document is a graph of shared nodes, so the expanded size is counted over that graph, children
    before parents, without expanding anything.
    """
    size: dict[int, int] = {}
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in size:
            continue
        if isinstance(node, yaml.ScalarNode):
            size[id(node)] = 1
            continue
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else node.value
        if children_done:
            size[id(node)] = min(1 + sum(size[id(c)] for c in children), MAX_CONFIG_VALUES + 1)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in size)
    return size[id(root)]


class _Parser(HfArgumentParser):
    """``HfArgumentParser`` whose errors are one line (a ``ConfigError``), not 130 lines of usage."""

    def error(self, message: str):
        raise ConfigError(f"command line: {message}; `python train.py --help` lists the keys")


HELP = f"""usage: train.py [--config FILE] [--key value ...]
       accelerate launch train.py [--config FILE] [--key value ...]

Fine-tune -> evaluate -> package, configured by a YAML file (default: {DEFAULT_CONFIG}); any config key can be
given on the command line as --key value (and --key null for "no value"), overriding the file.

  --config FILE   the YAML config (configs/ holds the shipped ones)
"""


def _short_help() -> str:
    """akhbar's own keys with their help, then a pointer to the TrainingArguments keys (hundreds of them)."""
    lines = [HELP]
    inherited = {f.name for f in dataclasses.fields(TrainingArguments)}
    for cls in CONFIG_CLASSES:
        # AkhbarTrainingArguments: only the fields its own class body declares (new keys, or new defaults).
        declared = [f for f in dataclasses.fields(cls) if f.name in vars(cls).get("__annotations__", {})]
        fields = [f for f in declared if f.name not in inherited]
        defaults = [f for f in declared if f.name in inherited]
        if fields:
            lines.append(f"{cls.__name__}:")
            lines += [f"  --{f.name} (default {f.default!r}): {f.metadata.get('help', '')}" for f in fields]
        if defaults:
            lines.append("TrainingArguments fields whose default akhbar changes:")
            lines += [f"  --{f.name} (default {f.default!r}): {f.metadata.get('help', '')}" for f in defaults]
    lines.append(
        "\nEvery other transformers TrainingArguments field is a key too (num_train_epochs, learning_rate, "
        "per_device_train_batch_size, seed, bf16, ...): `python train.py --help-all` lists them all, and "
        "https://huggingface.co/docs/transformers/main_classes/trainer#transformers.TrainingArguments explains them."
    )
    return "\n".join(lines) + "\n"


def _yaml_items(path: Path) -> list[tuple[str, object, int]]:
    """``(key, value, line)`` for each top-level key of a YAML mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if len(text) > MAX_CONFIG_CHARS:
        raise ConfigError(
            f"{path}: {len(text):,} characters; a config is a short list of keys (at most {MAX_CONFIG_CHARS:,})"
        )
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None and _expanded_size(node) > MAX_CONFIG_VALUES:
            raise ConfigError(
                f"{path}: the config expands to more than {MAX_CONFIG_VALUES:,} values: YAML aliases (*name) "
                "repeat what they point to; write the values out"
            )
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(err, 'problem', err)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: values nested too deeply to read; a config is a flat list of keys") from None
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values, found {type(data).__name__}")
    lines: dict[str, int] = {}
    for key, _ in node.value:
        line = key.start_mark.line + 1
        if key.value in lines:  # YAML keeps the last silently: a run would not be what the file seems to say
            raise ConfigError(f"{path}:{line}: {key.value} is given twice (first on line {lines[key.value]}); keep one")
        lines[key.value] = line
    return [(str(k), v, lines.get(str(k), 1)) for k, v in data.items()]


def _to_argv(parser: HfArgumentParser, key: str, value: object, where: str) -> list[str]:
    """Turn one YAML entry into command-line words, checking key and type on the way."""
    action = parser._option_string_actions.get(f"--{key}")
    if action is None or key in ("config", "help"):
        known = [a.dest for a in parser._actions]
        guess = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        raise ConfigError(f"{where}: unknown key {key!r}{hint}")
    if value is None:
        raise ConfigError(f"{where}: {key} cannot be null (default: {action.default!r})")
    if isinstance(value, list):
        if action.nargs not in ("+", "*"):
            raise ConfigError(f"{where}: {key} takes a single value, found a list {value!r}")
        words = [str(v) for v in value]
    elif isinstance(value, dict):
        words = [json.dumps(value)]
    elif isinstance(value, bool):
        words = ["true" if value else "false"]
    else:
        words = [str(value)]
    if action.nargs in ("+", "*") and not isinstance(value, list):
        words = [str(value)]
    for word in words:
        if action.type is not None:
            try:
                converted = action.type(word)
            except (ValueError, TypeError, argparse.ArgumentTypeError):
                kind = getattr(action.type, "__name__", "value").replace("string_to_bool", "bool")
                raise ConfigError(f"{where}: {key} expects a {kind}, found {value!r}") from None
        else:
            converted = word
        if action.choices is not None and converted not in action.choices:
            raise ConfigError(f"{where}: {key} must be one of {list(action.choices)}, found {value!r}")
    return [f"--{key}", *words]


def parse_config(argv: list[str] | None = None):
    """Parse ``[--config FILE] [--key value ...]`` into the four argument dataclasses.

    Returns:
        ``(ModelArguments, DataArguments, PreprocessingArguments, AkhbarTrainingArguments, config_path)``.

    Raises:
        ConfigError: unknown key, wrong type or invalid value, naming file and line.
        FileNotFoundError: the config file does not exist.
    """
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default=DEFAULT_CONFIG)
    pre.add_argument("-h", "--help", action="store_true")
    pre.add_argument("--help-all", "--help_all", action="store_true")
    known, rest = pre.parse_known_args(argv)
    if known.help or known.help_all:
        text = _short_help()
        if known.help_all:
            text += "\n" + _Parser(CONFIG_CLASSES, prog="train.py").format_help()
        print(text, end="")
        raise SystemExit(0)
    config_path = Path(known.config)
    if config_path.is_dir():  # "not found" sent a user looking for a file that is there, as a folder
        raise IsADirectoryError(f"{config_path}: a folder; --config takes a YAML file such as configs/ner-sample.yaml")
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path}: config file not found (configs/ holds the shipped ones)")
    parser = _Parser(CONFIG_CLASSES, prog="train.py")
    parser.allow_abbrev = False  # a misspelt --learning_rat must not silently mean --learning_rate
    # ``key: null`` in the file or ``--key null`` on the command line means "no value" for a key that takes
    # one (``validation_file``, ``early_stopping_patience``, ...): argparse has no spelling for None, so such
    # keys are left out of the parse and set to None after it.
    nullable = _nullable_keys()
    by_key: dict[str, list[str]] = {}
    nulls: set[str] = set()
    for key, value, line in _yaml_items(config_path):
        if value is None and key in nullable:
            nulls.add(key)
            continue
        by_key[key] = _to_argv(parser, key, value, f"{config_path}:{line}")
    cli: list[str] = []
    i = 0
    while i < len(rest):
        word = rest[i]
        if word.startswith("--") and i + 1 < len(rest) and rest[i + 1] == NULL:
            key = word[2:]
            if key not in nullable:
                raise ConfigError(f"--{key} cannot be null: it needs a value")
            nulls.add(key)
            by_key.pop(key, None)
            i += 2
            continue
        if word.startswith("--"):
            nulls.discard(word[2:])
        cli.append(word)
        i += 1
    words = [w for argv in by_key.values() for w in argv]
    try:
        *parsed, unknown = parser.parse_args_into_dataclasses(args=words + cli, return_remaining_strings=True)
    except ConfigError:
        raise
    except ValueError as err:  # ours and TrainingArguments' own checks of value combinations
        raise ConfigError(f"{config_path}: {err}") from None
    if unknown:
        flags = [w for w in unknown if w.startswith("--")]
        guess = difflib.get_close_matches(flags[0][2:], [a.dest for a in parser._actions], n=1) if flags else []
        hint = f" (did you mean --{guess[0]}?)" if guess else ""
        raise ConfigError(
            f"unknown command-line argument(s) {unknown}{hint}; every config key can be given as --key value"
        )
    model_args, data_args, prep_args, training_args = parsed
    for key in nulls:
        for args in parsed:
            if hasattr(args, key):
                setattr(args, key, None)
    patience = training_args.early_stopping_patience
    # Checked here rather than by torch when training starts (after the output folder has been prepared).
    for key, ok, expected in (
        ("learning_rate", math.isfinite(training_args.learning_rate) and training_args.learning_rate >= 0, ">= 0"),
        ("weight_decay", math.isfinite(training_args.weight_decay) and training_args.weight_decay >= 0, ">= 0"),
        ("per_device_train_batch_size", training_args.per_device_train_batch_size >= 1, "at least 1"),
        ("per_device_eval_batch_size", training_args.per_device_eval_batch_size >= 1, "at least 1"),
        ("gradient_accumulation_steps", training_args.gradient_accumulation_steps >= 1, "at least 1"),
        # transformers' callback stops a run at its first evaluation under a patience below 1.
        ("early_stopping_patience", patience is None or patience >= 1, "at least 1 (null: never)"),
    ):
        if not ok:
            raise ConfigError(f"{config_path}: {key} must be {expected}, found {getattr(training_args, key)}")
    epochs = training_args.num_train_epochs
    if training_args.max_steps <= 0 and not (math.isfinite(epochs) and epochs > 0):
        raise ConfigError(
            f"{config_path}: num_train_epochs must be a positive number (or set max_steps), found {epochs}: the run "
            "would train nothing and package random weights"
        )
    if training_args.metric_for_best_model == "auto":
        training_args.metric_for_best_model = get_task(model_args.task).best_metric
    if model_args.model_name is None:
        model_args.model_name = config_path.stem
    return model_args, data_args, prep_args, training_args, config_path

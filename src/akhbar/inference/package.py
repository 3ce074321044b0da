"""A verified package and what every predictor shares: its model, tokenizer, settings and how it runs."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
from safetensors import SafetensorError
from transformers import AutoTokenizer

from ..manifest import MANIFEST_FILE, verify_manifest
from ..onnx.runtime import OnnxModel
from ..preprocessing import PreprocessingConfig
from ..settings import SETTINGS_FILE, PackageSettings
from ..tasks import get_task, tasks
from .hub import first_line, resolve_model_dir
from .options import LoadOptions, resolve_device, resolve_precision, torch_dtype

logger = logging.getLogger(__name__)


def load_package(name_or_path: str | Path, predictor: type | None = None, revision: str | None = None):
    """Resolve, verify (manifest) and read the settings of a packaged model.

    Args:
        predictor: the predictor class that will run it; a package of another task is refused.

    Returns:
        ``(directory, settings)``.
    """
    return _verified(resolve_model_dir(name_or_path, revision), predictor)


def _verified(directory: Path, predictor: type | None):
    verify_manifest(directory)
    settings = PackageSettings.load(directory)
    task = get_task(settings.task)
    if predictor is not None and task.predictor_class() is not predictor:
        raise ValueError(
            f"{directory} holds a model of task {task.name!r} (run it with {task.predictor_class().__name__}), "
            f"not one for {predictor.__name__}"
        )
    return directory, settings


@dataclass
class Loaded:
    """A model folder ready to load: its settings, and whether it is a verified akhbar package."""

    directory: Path
    settings: PackageSettings
    verified: bool


def load_model(
    name_or_path: str | Path,
    predictor: type | None = None,
    options: LoadOptions | None = None,
    revision: str | None = None,
) -> Loaded:
    """An akhbar package (verified against its manifest), or a published checkpoint that is not one: a
    transformers token- or sequence-classification folder (or hub id) with safetensors weights.

    A published checkpoint has no settings: its task comes from its architecture, its labels from
    ``config.id2label`` (tagging scheme detected, see :func:`akhbar.labels.detect_scheme`), its window
    length from its position embeddings, its preprocessing from ``options.preprocessing`` (default
    ``none``). It is not verified (there is no manifest to check it against); a warning says so.
    """
    options = options or LoadOptions()
    directory = resolve_model_dir(name_or_path, revision)
    if (directory / MANIFEST_FILE).exists() or (directory / SETTINGS_FILE).exists():
        if options.preprocessing is not None:
            raise ValueError(
                f"{directory} is an akhbar package: it carries its own preprocessing; --preprocessing is for "
                "checkpoints that are not akhbar packages"
            )
        directory, settings = _verified(directory, predictor)
        if options.label_map:
            settings = get_task(settings.task).renamed(settings, options.label_map)
        return Loaded(directory, settings, True)
    return Loaded(directory, published_settings(directory, str(name_or_path), predictor, options), False)


def load_predictor(name_or_path: str | Path, options: LoadOptions | None = None, revision: str | None = None, **fields):
    """The predictor of whatever task the model holds (:class:`~akhbar.inference.NerTagger`, an event
    classifier, ...), loaded with ``options``."""
    options = LoadOptions.of(options, **fields)
    loaded = load_model(name_or_path, None, options, revision)
    predictor = get_task(loaded.settings.task).predictor_class()
    return predictor.from_verified(loaded.directory, loaded.settings, options, loaded.verified)


# Encoders as pretrained, before any fine-tuning: they give hidden states, not labels.
BASE_ENCODER_ENDINGS = ("Model", "ForMaskedLM", "ForPreTraining")
PICKLED_WEIGHTS = ("pytorch_model.bin", "tf_model.h5", "model.ckpt.index", "flax_model.msgpack")


def published_settings(directory: Path, name: str, predictor: type | None, options: LoadOptions) -> PackageSettings:
    """The settings a published checkpoint would have had, read from its config (see :func:`load_model`).

    Raises:
        ValueError: no config, custom code (``auto_map``), no safetensors weights (pickled ones are refused),
            an architecture no task reads, or another task than ``predictor`` runs.
    """
    from transformers import AutoConfig

    if not (directory / "config.json").is_file():
        raise ValueError(
            f"{directory}: neither an akhbar package (no manifest.json, no akhbar.json) nor a transformers model "
            "folder (no config.json)"
        )
    try:
        config = AutoConfig.from_pretrained(directory)
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{directory}: config.json does not load: {first_line(err)}") from None
    if getattr(config, "auto_map", None):
        raise ValueError(
            f"{directory}: the model needs its own code (config.json has auto_map); akhbar never runs code from a "
            "checkpoint (trust_remote_code)"
        )
    if not any(directory.glob("*.safetensors")):
        pickled = sorted(
            p.name for p in directory.iterdir() if p.name in PICKLED_WEIGHTS or p.suffix in (".bin", ".pt")
        )
        if pickled:
            raise ValueError(
                f"{directory}: its weights are pickled ({', '.join(pickled)}), which can run code when loaded; akhbar "
                "loads safetensors only. Convert them where you trust the file: "
                "`AutoModelFor….from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True)`"
            )
        raise ValueError(
            f"{directory}: no safetensors weights to load (from the hub, pickled weights are not downloaded: akhbar "
            "loads safetensors only)"
        )
    architecture = (getattr(config, "architectures", None) or [""])[0]
    task = next((t for t in tasks().values() if t.hf_head and architecture.endswith(t.hf_head)), None)
    if task is None:
        heads = ", ".join(f"*{t.hf_head} ({t.name})" for t in tasks().values() if t.hf_head)
        if architecture.endswith(BASE_ENCODER_ENDINGS):  # what `akhbar tiny-model` or a hub encoder gives
            raise ValueError(
                f"{directory}: a base encoder ({architecture}) with no task head, not a fine-tuned model: fine-tune it "
                f"first (python train.py --model_name_or_path {directory}), then use the package it writes"
            )
        raise ValueError(f"{directory}: architecture {architecture or 'unknown'!r} is none akhbar reads: {heads}")
    if predictor is not None and task.predictor_class() is not predictor:
        raise ValueError(
            f"{directory} holds a {architecture} ({task.name!r}): run it with {task.predictor_class().__name__}"
        )
    labels = [config.id2label[i] for i in sorted(config.id2label)]
    declared = None
    tokenizer_config = directory / "tokenizer_config.json"
    if tokenizer_config.is_file():
        declared = json.loads(tokenizer_config.read_text(encoding="utf-8")).get("model_max_length")
    limit = encoder_max_length(config, SimpleNamespace(model_max_length=declared)) or 512
    preset = options.preprocessing or "none"
    settings = PackageSettings(
        task=task.name,
        preprocessing=PreprocessingConfig.from_preset(preset),
        max_length=limit,
        stride=limit // 8,
        base_model=name,
        akhbar_version="none (not an akhbar package)",
        **task.published_fields(labels, config, options.label_map),
    )
    logger.warning(
        "%s is not an akhbar package: its files are not verified (no manifest); read as a %s model with labels %s, "
        "windows of %d tokens, preprocessing %r%s",
        directory,
        task.name,
        labels,
        limit,
        preset,
        "" if options.preprocessing else " (the default; --preprocessing arabertv02 for AraBERT v0.2 models)",
    )
    return settings


def encoder_max_length(config, tokenizer) -> int | None:
    """Tokens per window the encoder can read: its position embeddings, or less if its tokenizer says so.

    RoBERTa-style encoders number positions from ``padding_idx + 1`` (514 embeddings, 512 usable); their
    tokenizers' ``model_max_length`` gives the usable figure, hence the minimum of both.
    """
    limits = []
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions)
    declared = getattr(tokenizer, "model_max_length", None)
    if isinstance(declared, int) and 0 < declared < 1_000_000:  # unset is a huge sentinel (VERY_LARGE_INTEGER)
        limits.append(declared)
    return min(limits) if limits else None


class PackagedModel:
    """What every predictor shares: a verified package's model, tokenizer and settings, and how it runs.

    Args:
        model: the classification model (``config.id2label`` is its label list), or an :class:`OnnxModel`.
        tokenizer: its fast tokenizer (offsets and windows need one).
        settings: the checkpoint's saved preprocessing, window and label settings.
        options: device, precision and batching (:class:`LoadOptions`; the backend follows the model).
    """

    model_class = None  # the transformers Auto class of the task's model

    def __init__(self, model, tokenizer, settings: PackageSettings, options: LoadOptions | None = None):
        options = options or LoadOptions()
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(f"{type(self).__name__} needs a fast tokenizer (offset mapping); this one is slow")
        if isinstance(model, OnnxModel):
            options = LoadOptions.of(options, backend="onnx", onnx_file=model.path.name, precision="float32")
            self.device = model.device
            self.model = model
        else:
            self.device = resolve_device(options.device)
            if options.precision == "auto":
                options = LoadOptions.of(options, precision=resolve_precision("auto", self.device))
            options = LoadOptions.of(options, backend="torch")
            if options.precision == "bfloat16" and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
                raise ValueError(
                    f"precision='bfloat16': this GPU ({torch.cuda.get_device_name(self.device)}) has no bfloat16"
                )
            # bfloat16 weights (what from_pretrained(dtype=torch.bfloat16) loads), not autocast: no float32 <->
            # bfloat16 casts between layers: 1.3-1.7x faster than autocast on an AMX CPU (bench/precision_forward.py).
            self.model = model.to(device=self.device, dtype=torch_dtype(options.precision)).eval()
        limit = encoder_max_length(model.config, tokenizer)
        if limit is not None and settings.max_length > limit:
            raise ValueError(
                f"the package's max_length {settings.max_length} is longer than its encoder can read ({limit} "
                "tokens: its position embeddings); re-train it with max_length <= the limit"
            )
        self.options = options
        self.backend = options.backend
        self.precision = options.precision
        self.tokenizer = tokenizer
        self.settings = settings
        self.batch_size, self.batch_tokens = options.batching(self.device)
        self.verified = True  # from_verified says otherwise for a published checkpoint
        ids = sorted(int(k) for k in model.config.id2label)
        raw = {int(k): v for k, v in model.config.id2label.items()}
        self.id2label = dict(zip(ids, self.read_labels([raw[i] for i in ids])))

    def read_labels(self, labels: list[str]) -> list[str]:
        """The model's labels as predictions carry them: renamed by ``options.label_map``."""
        rename = self.options.label_map or {}
        return [rename.get(label, label) for label in labels]

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path, options: LoadOptions | None = None, *, revision: str | None = None, **fields
    ):
        """Load a packaged folder (or a hub id of one), or a published checkpoint (see :func:`load_model`).

        A package is checked against its ``manifest.json`` first (sha256 of every file, no pickles); weights
        load from safetensors only and no remote code is ever run.

        Args:
            options: how to read and run it (:class:`LoadOptions`); ``fields`` (``backend=``, ``precision=``,
                ``device=``, ``batch_size=``, ``batch_tokens=``, ``onnx_file=``, ``preprocessing=``,
                ``label_map=``) change single ones.
        """
        options = LoadOptions.of(options, **fields)
        loaded = load_model(name_or_path, cls, options, revision)
        return cls.from_verified(loaded.directory, loaded.settings, options, verified=loaded.verified)

    @classmethod
    def from_verified(
        cls, directory: Path, settings: PackageSettings, options: LoadOptions | None = None, verified: bool = True
    ):
        """Load weights (safetensors only, or the ONNX export) and tokenizer of a folder :func:`load_model`
        already checked; a verified package's labels must be the ones its settings imply."""
        options = options or LoadOptions()
        # auto resolved once, here, so that the weights load in the dtype they will run in
        options = LoadOptions.of(
            options, precision=resolve_precision(options.precision, resolve_device(options.device), options.backend)
        )
        if options.backend == "onnx":
            model = OnnxModel.from_package(directory, options.onnx_file)
        else:
            # The manifest says the files are the ones packaged, not that they load: a package re-hashed over a
            # truncated or edited file fails here, as one error naming the folder.
            try:
                model = cls.model_class.from_pretrained(
                    directory, use_safetensors=True, dtype=torch_dtype(options.precision)
                )
            except (OSError, RuntimeError, ValueError, SafetensorError) as err:
                raise ValueError(f"{directory}: the model does not load: {first_line(err)}") from None
        try:
            tokenizer = AutoTokenizer.from_pretrained(directory)
        except Exception as err:  # a malformed tokenizer.json raises the tokenizers library's plain Exception
            raise ValueError(f"{directory}: the tokenizer does not load: {first_line(err)}") from None
        predictor = cls(model, tokenizer, settings, options)
        predictor.verified = verified
        if verified:
            task = get_task(settings.task)
            expected = task.model_labels(task.schema_of(settings))
            found = [predictor.id2label[i] for i in sorted(predictor.id2label)]
            if found != expected:
                raise ValueError(
                    f"{directory}: config.json's id2label {found} does not match the labels akhbar.json implies "
                    f"{expected}; the package is inconsistent"
                )
        return predictor

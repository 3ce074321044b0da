"""A verified package and what every predictor shares: its model, tokenizer, settings and how it runs."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoTokenizer

from ..manifest import verify_manifest
from ..onnx.runtime import OnnxModel
from ..settings import PackageSettings
from ..tasks import get_task
from .hub import first_line, resolve_model_dir
from .options import LoadOptions, resolve_device, torch_dtype


def load_package(name_or_path: str | Path, predictor: type | None = None, revision: str | None = None):
    """Resolve, verify (manifest) and read the settings of a packaged model.

    Args:
        predictor: the predictor class that will run it; a package of another task is refused.

    Returns:
        ``(directory, settings)``.
    """
    directory = resolve_model_dir(name_or_path, revision)
    verify_manifest(directory)
    settings = PackageSettings.load(directory)
    task = get_task(settings.task)
    if predictor is not None and task.predictor_class() is not predictor:
        raise ValueError(
            f"{directory} holds a {task.name!r} model (run it with {task.predictor_class().__name__}), "
            f"not one for {predictor.__name__}"
        )
    return directory, settings


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
            options = LoadOptions.of(options, backend="onnx", onnx_file=model.path.name)
            self.device = model.device
            self.model = model
        else:
            options = LoadOptions.of(options, backend="torch")
            self.device = resolve_device(options.device)
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
        self.id2label = {int(k): v for k, v in model.config.id2label.items()}

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path, options: LoadOptions | None = None, *, revision: str | None = None, **fields
    ):
        """Load a packaged folder (or a hub id of one).

        The folder is checked against its ``manifest.json`` first (sha256 of every file, no pickles); weights
        load from safetensors only and no remote code is ever run.

        Args:
            options: how to run it (:class:`LoadOptions`); ``fields`` (``backend=``, ``precision=``,
                ``device=``, ``batch_size=``, ``batch_tokens=``, ``onnx_file=``) change single ones.
        """
        options = LoadOptions.of(options, **fields)
        directory, settings = load_package(name_or_path, cls, revision)
        return cls.from_verified(directory, settings, options)

    @classmethod
    def from_verified(cls, directory: Path, settings: PackageSettings, options: LoadOptions | None = None):
        """Load weights (safetensors only, or the ONNX export) and tokenizer of a folder :func:`load_package`
        already checked."""
        options = options or LoadOptions()
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
        task = get_task(settings.task)
        expected = task.model_labels(task.schema_of(settings))
        found = [model.config.id2label[i] for i in sorted(model.config.id2label)]
        if found != expected:
            raise ValueError(
                f"{directory}: config.json's id2label {found} does not match the labels akhbar.json implies "
                f"{expected}; the package is inconsistent"
            )
        return cls(model, tokenizer, settings, options)

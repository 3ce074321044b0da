"""Load a packaged akhbar model and tag text of any length.

    from akhbar import NerTagger
    tagger = NerTagger.from_pretrained("models/ner-anercorp")
    tagger.predict(["زار الرئيس عمّان أمس."])
    # [[{"start": 11, "end": 16, "label": "LOC", "text": "عمّان", "score": 0.98}]]

Inference applies the preprocessing saved with the checkpoint, reads long texts as overlapping windows
and merges them (:mod:`akhbar.windows`), and returns offsets into the original text. This module never
imports training code.

``backend="onnx"`` runs the package's ONNX export (``akhbar export-onnx PACKAGE`` writes it under
``onnx/``) with ONNX Runtime on CPU instead of PyTorch; everything else (preprocessing, windows, merging,
pooling) is the same code. onnxruntime is imported only when that backend is asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar

import numpy as np
import torch
from safetensors import SafetensorError
from tqdm.auto import tqdm
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

from .events import decide, pool_logits, probabilities
from .hub import hub_problem
from .labels import bio_labels, tags_to_spans
from .manifest import verify_manifest
from .preprocessing import Words, split_words
from .settings import PackageSettings
from .windows import encode_words, merge_windows

logger = logging.getLogger(__name__)
T = TypeVar("T")

BACKENDS = ("torch", "onnx")
ONNX_DIR = "onnx"  # inside a package: model.onnx, and model.int8.onnx when exported with --quantize int8
INSTALL_ONNX = 'pip install "akhbar[onnx]"'


class MissingDependency(ImportError, ValueError):
    """An optional dependency is not installed. Also a ValueError, so the CLI prints it as one line."""


def import_onnxruntime():
    """``onnxruntime``, or a :class:`MissingDependency` that says how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependency(f"the onnx backend needs onnxruntime, which is not installed: {INSTALL_ONNX}") from None
    return onnxruntime


class OnnxModel:
    """A package's ONNX export run by ONNX Runtime (CPUExecutionProvider), called like the transformers model
    it stands in for: ``model(input_ids=..., attention_mask=...).logits`` is a CPU float tensor.

    Inputs the graph has but the caller leaves out get the transformers defaults: ``attention_mask`` all
    ones, ``token_type_ids`` all zeros. Intra-op threads are ONNX Runtime's default (one per physical core).
    """

    device = torch.device("cpu")

    def __init__(self, path: str | Path, config):
        ort = import_onnxruntime()
        self.path = Path(path)
        self.config = config
        self.session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    @classmethod
    def from_package(cls, directory: str | Path, onnx_file: str = "model.onnx") -> OnnxModel:
        """Open ``<directory>/onnx/<onnx_file>`` (a file the package's manifest lists, once verified).

        Raises:
            ValueError: ``onnx_file`` is a path rather than a file name.
            FileNotFoundError: the package has no such export; says how to write it.
        """
        directory = Path(directory)
        if not onnx_file or Path(onnx_file).name != onnx_file:
            raise ValueError(
                f"onnx_file must be a file name in {directory / ONNX_DIR} (e.g. model.onnx), not {onnx_file!r}"
            )
        path = directory / ONNX_DIR / onnx_file
        if not path.is_file():
            quantize = " --quantize int8" if ".int8." in onnx_file else ""
            raise FileNotFoundError(
                f"{path}: not found; the package has no ONNX export {onnx_file!r} yet: run `akhbar export-onnx "
                f"{directory}{quantize}` first (or use the torch backend)"
            )
        import_onnxruntime()  # the install hint before any transformers work
        return cls(path, AutoConfig.from_pretrained(directory))

    def __call__(self, **inputs) -> SimpleNamespace:
        ids = inputs["input_ids"]
        feed = {}
        for name in self.input_names:
            value = inputs.get(name)
            if value is None and name == "attention_mask":
                value = torch.ones_like(torch.as_tensor(ids))
            elif value is None and name == "token_type_ids":
                value = torch.zeros_like(torch.as_tensor(ids))
            elif value is None:
                raise ValueError(f"{self.path}: the graph needs an input {name!r} the caller did not give")
            feed[name] = torch.as_tensor(value).cpu().numpy().astype(np.int64, copy=False)
        (logits,) = self.session.run(["logits"], feed)
        return SimpleNamespace(logits=torch.from_numpy(logits))


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0] if lines else 'no detail'}"


def resolve_model_dir(name_or_path: str | Path, revision: str | None = None) -> Path:
    """A local folder as is; a hub id downloaded (or taken from the local cache) into a folder.

    Raises:
        FileNotFoundError: neither a local folder nor a reachable hub repository; says how to fix it.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return path
    problem = hub_problem(str(name_or_path))
    if problem:
        raise FileNotFoundError(f"model {problem}; point at a local packaged folder (e.g. models/<name>)")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(str(name_or_path), revision=revision))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError) as err:
        raise FileNotFoundError(
            f"model {str(name_or_path)!r} is not a local folder and could not be fetched from the Hugging Face "
            f"hub ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no detail'}). Point at a "
            "local packaged folder instead (e.g. models/<name>)."
        ) from None


PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}  # precision -> torch weights dtype


def plan_batches(lengths: dict, batch_size: int | None, batch_tokens: int | None) -> list[list]:
    """Group window keys into forward passes, longest windows first (so padding within a pass is small and
    a memory error shows up at once).

    A pass takes windows while it holds at most ``batch_size`` of them and at most ``batch_tokens`` padded
    tokens (its longest window's length times its windows); ``None`` leaves that bound off. A window longer
    than ``batch_tokens`` goes alone: nothing is cut.
    """
    order = sorted(lengths, key=lambda key: -lengths[key])
    batches: list[list] = []
    for key in order:
        current = batches[-1] if batches else None
        if (
            current
            and (batch_size is None or len(current) < batch_size)
            and (batch_tokens is None or lengths[current[0]] * (len(current) + 1) <= batch_tokens)
        ):
            current.append(key)
        else:
            batches.append([key])
    return batches


def run_windows(
    model,
    tokenizer,
    windows: dict,
    batch_size: int | None,
    batch_tokens: int | None,
    show_progress: bool,
    desc: str,
):
    """Forward windows ``{key: token ids}`` in passes of :func:`plan_batches`; yield ``(keys, float32
    logits)`` per pass."""
    device = model.device if isinstance(model, OnnxModel) else next(model.parameters()).device
    batches = plan_batches({k: len(ids) for k, ids in windows.items()}, batch_size, batch_tokens)
    with tqdm(total=len(windows), desc=desc, unit="window", disable=not show_progress) as bar:
        for keys in batches:
            batch = tokenizer.pad({"input_ids": [windows[k] for k in keys]}, return_tensors="pt")
            with torch.inference_mode():
                logits = model(**{name: tensor.to(device) for name, tensor in batch.items()}).logits
            bar.update(len(keys))
            yield keys, logits.float()


def load_package(
    name_or_path: str | Path, task: str | None = None, revision: str | None = None
) -> tuple[Path, PackageSettings]:
    """Resolve, verify (manifest) and read the settings of a packaged model (of ``task``, if given)."""
    directory = resolve_model_dir(name_or_path, revision)
    verify_manifest(directory)
    settings = PackageSettings.load(directory)
    if task is not None and settings.task != task:
        raise ValueError(f"{directory} holds a {settings.task!r} model, not an {task!r} model")
    return directory, settings


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return backend


@dataclass
class TaggedText:
    """One text as the model read it: its words, a tag and a probability per word."""

    words: Words
    tags: list[str]
    scores: list[float]
    missing_words: int = 0  # words the tokenizer gave no token (tagged O)

    def entities(self, text: str) -> list[dict]:
        """Entities with offsets into the original ``text`` (lenient IOB reading of the tags)."""
        spans = self.words.original_spans
        out = []
        for a, b, label in tags_to_spans(self.tags):
            start, end = spans[a][0], spans[b - 1][1]
            out.append(
                {
                    "start": start,
                    "end": end,
                    "label": label,
                    "text": text[start:end],
                    "score": round(float(np.mean(self.scores[a:b])), 4),
                }
            )
        return out


def resolve_device(device: str | None) -> torch.device:
    """``device`` as a torch device (by default CUDA when available), refused in one line if this machine
    has no such device."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r}: this machine (or this torch build) has no CUDA GPU; use cpu")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: there are {torch.cuda.device_count()} CUDA GPUs (cuda:0 ...)")
    return resolved


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


# Texts are normalized, windowed and run in chunks of about this many characters: memory grows with the
# chunk (about 100 bytes of maps and windows per character, plus the model's activations), not with the input.
# Large enough that a chunk fills many forward passes of the default batching.
CHUNK_CHARS = 100_000


def chunked(
    items: Iterable[T],
    size: Callable[[T], int],
    budget: int | None = None,
    max_items: int | None = None,
    first: int | None = None,
) -> Iterator[list[T]]:
    """Consume ``items`` lazily in lists whose ``size`` adds up to at least ``budget`` (or the rest of the items,
    at the end) and that hold at most ``max_items``. With ``first``, the first list holds at most
    that many items and each next one twice as many as the last (up to ``max_items``): on a stream, the
    first results come right after the first item, and later chunks still fill the batches."""
    budget = CHUNK_CHARS if budget is None else budget
    cap = first if first is not None else max_items
    chunk, total = [], 0
    for item in items:
        chunk.append(item)
        total += size(item)
        # Handed on as soon as it is full, before the next item is read (which may block, or fail).
        if total >= budget or (cap is not None and len(chunk) >= cap):
            yield chunk
            chunk, total = [], 0
            if first is not None:
                cap = cap * 2 if max_items is None else min(cap * 2, max_items)
    if chunk:
        yield chunk


CPU_BATCH_TOKENS = {"torch": 2048, "onnx": 1024}  # backend -> padded tokens per forward pass on CPU


def default_batching(device: torch.device, backend: str = "torch") -> tuple[int | None, int | None]:
    """``(batch_size, batch_tokens)`` when neither is given: 32 windows per forward pass on a GPU; on CPU
    passes of at most 2,048 padded tokens (1,024 with ONNX Runtime), however many windows that is.

    On the benchmark CPU (BENCHMARKS.md, "Batching on this CPU") PyTorch ran fastest with passes of
    2,048-4,096 tokens whatever the window length, ONNX Runtime with 1,024, and both slower with 32 windows
    of 256 tokens (8,192), likely because those activations no longer stay in the caches."""
    return (32, None) if device.type == "cuda" else (None, CPU_BATCH_TOKENS[backend])


class _PackagedModel:
    """What NerTagger and EventClassifier share: a verified package's model, tokenizer and settings.

    Args:
        model: the classification model (``config.id2label`` is its label list), or an :class:`OnnxModel`.
        tokenizer: its fast tokenizer (offsets and windows need one).
        settings: the checkpoint's saved preprocessing, window and label settings.
        batch_size: at most this many windows per forward pass.
        batch_tokens: at most this many padded tokens per forward pass (windows times the longest one's
            length; a longer window goes alone). Neither given: 32 windows on a GPU, 2,048 tokens on CPU
            (1,024 with the onnx backend; see :func:`default_batching`); one given: only that bound.
        device: ``"cpu"``, ``"cuda"``, …; by default CUDA when available (an OnnxModel runs on CPU only).
        precision: ``"float32"`` (default) or ``"bfloat16"``: the PyTorch model's weights and activations in
            bfloat16, several times faster on GPUs and on CPUs with AMX or AVX512-BF16 (slower on CPUs without
            them); predictions can differ from float32 where a tag is near a tie, so measure on your data
            (``akhbar evaluate --precision``). Logits are turned into probabilities in float32.
    """

    task = ""
    model_class = None

    def __init__(
        self,
        model,
        tokenizer,
        settings: PackageSettings,
        batch_size: int | None = None,
        device: str | None = None,
        precision: str = "float32",
        batch_tokens: int | None = None,
    ):
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(f"{type(self).__name__} needs a fast tokenizer (offset mapping); this one is slow")
        for name, value in (("batch_size", batch_size), ("batch_tokens", batch_tokens)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        if isinstance(model, OnnxModel):
            if device is not None and torch.device(device).type != "cpu":
                raise ValueError(f"the onnx backend runs on CPU only, not on {device!r}; use backend='torch' for it")
            if precision != "float32":
                raise ValueError("precision='bfloat16' is for the torch backend; the onnx backend has model.int8.onnx")
            self.backend = "onnx"
            self.device = model.device
            self.model = model
        else:
            self.backend = "torch"
            self.device = resolve_device(device)
            if precision == "bfloat16" and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
                raise ValueError(
                    f"precision='bfloat16': this GPU ({torch.cuda.get_device_name(self.device)}) has no bfloat16"
                )
            # bfloat16 weights (what from_pretrained(dtype=torch.bfloat16) loads), not autocast: no float32 <->
            # bfloat16 casts between layers: 1.3-1.7x faster than autocast on an AMX CPU (bench/precision_forward.py).
            self.model = model.to(device=self.device, dtype=PRECISIONS[precision]).eval()
        limit = encoder_max_length(model.config, tokenizer)
        if limit is not None and settings.max_length > limit:
            raise ValueError(
                f"the package's max_length {settings.max_length} is longer than its encoder can read ({limit} "
                "tokens: its position embeddings); re-train it with max_length <= the limit"
            )
        self.precision = precision
        self.tokenizer = tokenizer
        self.settings = settings
        if batch_size is None and batch_tokens is None:
            batch_size, batch_tokens = default_batching(self.device, self.backend)
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.id2label = {int(k): v for k, v in model.config.id2label.items()}

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        revision: str | None = None,
        batch_size: int | None = None,
        device: str | None = None,
        backend: str = "torch",
        onnx_file: str = "model.onnx",
        precision: str = "float32",
        batch_tokens: int | None = None,
    ):
        """Load a packaged folder (or a hub id of one).

        The folder is checked against its ``manifest.json`` first (sha256 of every file, no pickles); weights
        load from safetensors only and no remote code is ever run.

        Args:
            backend: ``"torch"`` (default), or ``"onnx"``: run ``onnx/<onnx_file>`` with ONNX Runtime on CPU
                (written by ``akhbar export-onnx``; needs ``pip install "akhbar[onnx]"``).
            onnx_file: ``"model.onnx"`` (float32) or ``"model.int8.onnx"`` (``--quantize int8``).
        """
        check_backend(backend)
        directory, settings = load_package(name_or_path, cls.task, revision)
        return cls.from_verified(
            directory,
            settings,
            batch_size=batch_size,
            device=device,
            backend=backend,
            onnx_file=onnx_file,
            precision=precision,
            batch_tokens=batch_tokens,
        )

    @classmethod
    def from_verified(
        cls,
        directory: Path,
        settings: PackageSettings,
        *,
        batch_size: int | None = None,
        device: str | None = None,
        backend: str = "torch",
        onnx_file: str = "model.onnx",
        precision: str = "float32",
        batch_tokens: int | None = None,
    ):
        """Load weights (safetensors only, or the ONNX export) and tokenizer of a folder :func:`load_package`
        already checked."""
        if check_backend(backend) == "onnx":
            model = OnnxModel.from_package(directory, onnx_file)
        else:
            # The manifest says the files are the ones packaged, not that they load: a package re-hashed over a
            # truncated or edited file fails here, as one error naming the folder.
            try:
                model = cls.model_class.from_pretrained(
                    directory, use_safetensors=True, dtype=PRECISIONS.get(precision)
                )
            except (OSError, RuntimeError, ValueError, SafetensorError) as err:
                raise ValueError(f"{directory}: the model does not load: {_first_line(err)}") from None
        try:
            tokenizer = AutoTokenizer.from_pretrained(directory)
        except Exception as err:  # a malformed tokenizer.json raises the tokenizers library's plain Exception
            raise ValueError(f"{directory}: the tokenizer does not load: {_first_line(err)}") from None
        expected = cls.expected_labels(settings)
        found = [model.config.id2label[i] for i in sorted(model.config.id2label)]
        if found != expected:
            raise ValueError(
                f"{directory}: config.json's id2label {found} does not match the labels akhbar.json implies "
                f"{expected}; the package is inconsistent"
            )
        return cls(
            model,
            tokenizer,
            settings,
            batch_size=batch_size,
            device=device,
            precision=precision,
            batch_tokens=batch_tokens,
        )


class NerTagger(_PackagedModel):
    """Named-entity tagger over a packaged akhbar checkpoint (``task: ner``)."""

    task = "ner"
    model_class = AutoModelForTokenClassification

    @staticmethod
    def expected_labels(settings: PackageSettings) -> list[str]:
        return bio_labels(settings.entity_labels)

    def tag(
        self, texts: Sequence[str], show_progress: bool = False, words: Sequence[Words] | None = None
    ) -> list[TaggedText]:
        """Words, tags and tag probabilities for each text (the evaluation's view of predictions).

        ``words``: the texts already normalized and split with this model's preprocessing (the Analyzer
        shares them between models). Texts are read in chunks of about :data:`CHUNK_CHARS` characters.
        """
        indices = list(chunked(range(len(texts)), lambda i: len(texts[i])))
        if len(indices) == 1:  # one chunk: a progress bar over its windows
            return self._tag_chunk(texts, show_progress, words)
        results: list[TaggedText] = []
        with tqdm(total=len(texts), desc="tagging", unit="text", disable=not show_progress) as bar:
            for chunk in indices:
                part = [words[i] for i in chunk] if words else None
                results += self._tag_chunk([texts[i] for i in chunk], False, part)
                bar.update(len(chunk))
        return results

    def _tag_chunk(
        self, texts: Sequence[str], show_progress: bool, words: Sequence[Words] | None = None
    ) -> list[TaggedText]:
        words = words or [split_words(t, self.settings.preprocessing) for t in texts]
        encoded = [encode_words(self.tokenizer, w, self.settings.max_length, self.settings.stride) for w in words]
        windows = {(i, k): ids for i, enc in enumerate(encoded) for k, ids in enumerate(enc.input_ids)}
        label_ids: dict[tuple[int, int], np.ndarray] = {}
        probs: dict[tuple[int, int], np.ndarray] = {}
        for keys, logits in run_windows(
            self.model, self.tokenizer, windows, self.batch_size, self.batch_tokens, show_progress, "tagging"
        ):
            p, y = torch.softmax(logits, dim=-1).max(dim=-1)  # (batch, tokens)
            for row, key in enumerate(keys):
                n = len(windows[key])
                label_ids[key] = y[row, :n].cpu().numpy()
                probs[key] = p[row, :n].cpu().numpy()
        results = []
        for i, (w, enc) in enumerate(zip(words, encoded)):
            chosen = merge_windows(enc.word_index, enc.cut_left, enc.cut_right, enc.num_words)
            tags, scores = [], []
            for pick in chosen:
                if pick is None:  # the tokenizer produced no token for this word
                    tags.append("O")
                    scores.append(0.0)
                    continue
                k, p = pick
                tags.append(self.id2label[int(label_ids[(i, k)][p])])
                scores.append(float(probs[(i, k)][p]))
            results.append(TaggedText(w, tags, scores, sum(pick is None for pick in chosen)))
        return results

    def predict(self, texts: str | Iterable[str], show_progress: bool = False) -> list[list[dict]]:
        """Entities of each text as ``{"start", "end", "label", "text", "score"}``, offsets into the text.

        A single string gives a list with one entry.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        return [tagged.entities(text) for tagged, text in zip(self.tag(texts, show_progress), texts)]

    def iter_predict(self, texts: Iterable[str]) -> Iterator[list[dict]]:
        """:meth:`predict` over a stream: texts are read lazily, a chunk at a time, and each text's entities
        are yielded as soon as its chunk is done (memory bounded by the chunk, not the stream)."""
        for chunk in chunked(texts, len):
            yield from self.predict(chunk)


class EventClassifier(_PackagedModel):
    """Article event classifier over a packaged akhbar checkpoint (``task: events``).

    Long articles are read in windows whose logits are pooled as in training (``settings.pooling``).
    """

    task = "events"
    model_class = AutoModelForSequenceClassification

    @staticmethod
    def expected_labels(settings: PackageSettings) -> list[str]:
        return list(settings.event_labels)

    def scores(
        self, texts: Sequence[str], show_progress: bool = False, words: Sequence[Words] | None = None
    ) -> np.ndarray:
        """Article probabilities ``(texts, labels)``: softmax (single-label) or sigmoid (multi-label).

        Texts are read in chunks of about :data:`CHUNK_CHARS` characters."""
        parts = [
            self._score_chunk([texts[i] for i in chunk], show_progress, [words[i] for i in chunk] if words else None)
            for chunk in chunked(range(len(texts)), lambda i: len(texts[i]))
        ]
        return np.concatenate(parts) if parts else np.zeros((0, len(self.settings.event_labels)))

    def _score_chunk(self, texts: Sequence[str], show_progress: bool, words: Sequence[Words] | None) -> np.ndarray:
        words = words or [split_words(t, self.settings.preprocessing) for t in texts]
        windows = {}
        for i, w in enumerate(words):
            enc = encode_words(self.tokenizer, w, self.settings.max_length, self.settings.stride)
            windows.update({(i, k): ids for k, ids in enumerate(enc.input_ids)})
        keys_all, logits_all = [], []
        for keys, logits in run_windows(
            self.model, self.tokenizer, windows, self.batch_size, self.batch_tokens, show_progress, "classifying"
        ):
            keys_all += keys
            logits_all.append(logits.cpu())
        if not keys_all:
            return np.zeros((0, len(self.settings.event_labels)))
        article = torch.tensor([i for i, _ in keys_all])
        pooled = pool_logits(torch.cat(logits_all), article, len(words), self.settings.pooling)
        return probabilities(pooled.numpy(), self.settings.multi_label)

    def predict(self, texts: str | Iterable[str], show_progress: bool = False, words=None) -> list[list[dict]]:
        """``[{"label", "score"}]`` per text: the top label (single-label), or every label whose probability
        reaches its tuned threshold (multi-label), highest first."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        words = words or [split_words(t, self.settings.preprocessing) for t in texts]
        probs = self.scores(texts, show_progress, words)
        decided = decide(probs, self.settings.event_labels, self.settings.multi_label, self.settings.thresholds)
        # A text with no word (empty, or only what normalization removes) reports no event: the model would
        # still answer for its bare [CLS] [SEP] window.
        return [events if w.spans else [] for events, w in zip(decided, words)]


class Analyzer:
    """Entities and events of each article in one call: ``{"entities": [...], "events": [...]}``.

    When both models were trained with the same preprocessing, each text is normalized once for both.
    """

    def __init__(self, ner: NerTagger, events: EventClassifier):
        self.ner = ner
        self.events = events

    @classmethod
    def from_pretrained(cls, ner: str | Path, events: str | Path, **kwargs) -> Analyzer:
        return cls(NerTagger.from_pretrained(ner, **kwargs), EventClassifier.from_pretrained(events, **kwargs))

    def predict(self, texts: str | Iterable[str], show_progress: bool = False) -> list[dict]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        results: list[dict] = []
        with tqdm(total=len(texts), desc="analyzing", unit="text", disable=not show_progress) as bar:
            for chunk in chunked(texts, len):
                results += self._predict_chunk(chunk)
                bar.update(len(chunk))
        return results

    def iter_predict(self, texts: Iterable[str]) -> Iterator[dict]:
        """:meth:`predict` over a stream, a chunk at a time (see :meth:`NerTagger.iter_predict`)."""
        for chunk in chunked(texts, len):
            yield from self._predict_chunk(chunk)

    def _predict_chunk(self, texts: list[str]) -> list[dict]:
        ner_words = [split_words(t, self.ner.settings.preprocessing) for t in texts]
        shared = self.ner.settings.preprocessing == self.events.settings.preprocessing
        entities = [tagged.entities(t) for tagged, t in zip(self.ner.tag(texts, False, ner_words), texts)]
        events = self.events.predict(texts, False, ner_words if shared else None)
        return [{"entities": e, "events": v} for e, v in zip(entities, events)]

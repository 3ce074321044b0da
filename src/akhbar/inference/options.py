"""How a package is run: backend, precision, device and batching, one object for the loaders and the CLI."""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

logger = logging.getLogger("akhbar")

# No torch at import: the CLI builds its choices from these before anything heavy loads.
BACKENDS = ("torch", "onnx")
PRECISIONS = ("auto", "float32", "bfloat16")


def torch_dtype(precision: str) -> torch.dtype:
    """The torch dtype of the weights for ``precision`` (``float32`` or ``bfloat16``; resolve ``auto`` first)."""
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[precision]


BFLOAT16_PROBE_N = 512  # the probe's matrix size: about 2 ms a product at the speeds measured below
BFLOAT16_MIN_SPEEDUP = 1.3  # bfloat16 taken on a CPU without AMX when its probe product is at least this much faster


@functools.lru_cache(maxsize=1)
def cpu_bfloat16_speedup(n: int = BFLOAT16_PROBE_N, repeats: int = 5) -> float:
    """How many times faster this CPU multiplies two ``n`` x ``n`` bfloat16 matrices than float32 ones.

    The best of ``repeats`` products each, the two dtypes alternating so that whatever else the machine runs
    weighs on both; measured once per process (well under a second). Only asked where AVX512-BF16 is present
    without AMX: there the instruction set does not tell, the speed does (2048x2048 products, 2 cores each:
    0.49x on an Emerald Rapids Xeon whose VM hides AMX, 3.1x on an AMD EPYC of the Zen 4 generation).
    """
    import torch

    dtypes = (torch.float32, torch.bfloat16)
    rng = torch.Generator().manual_seed(0)  # its own: the probe must not move the global random state
    pairs = {dtype: tuple(torch.randn(n, n, generator=rng).to(dtype) for _ in "ab") for dtype in dtypes}
    best = dict.fromkeys(pairs, float("inf"))
    with torch.inference_mode():
        for a, b in pairs.values():  # warm-up: the first product of a kind pays for its kernel's set-up
            torch.mm(a, b)
        for _ in range(repeats):
            for dtype, (a, b) in pairs.items():
                started = time.perf_counter()
                torch.mm(a, b)
                best[dtype] = min(best[dtype], time.perf_counter() - started)
    return best[torch.float32] / best[torch.bfloat16]


def native_bfloat16(device: torch.device) -> tuple[bool, str]:
    """Whether ``device`` multiplies bfloat16 matrices faster than float32, and what it has.

    A GPU: CUDA's own check. A CPU with AMX tiles: yes. A CPU with AVX512-BF16 but no AMX: measured
    (:func:`cpu_bfloat16_speedup`, at least 1.3x), because the instruction set alone does not tell: on a Xeon
    whose VM exposes AVX512-BF16 but hides AMX, a bfloat16 2048x2048 matrix product ran 137 GFLOP/s against
    float32's 279 (0.49x) and a long-article NerTagger pass took 1.7x the float32 time, while on an AMD EPYC of
    the Zen 4 generation bfloat16 products ran 3.1x float32's (BENCHMARKS.md, "Speed on each CPU kind"). A CPU
    with neither: no (100-300x slower). torch's ``get_cpu_capability()`` says ``AVX512`` on all of these but
    AVX2, so the instruction sets are asked directly, with torch's CPU feature checks: private functions,
    hence the fallback to "not native".
    """
    import torch

    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
        return native, f"{torch.cuda.get_device_name(device)} ({'has' if native else 'no'} bfloat16)"
    cpu = torch.cpu
    amx = bool(getattr(cpu, "_is_amx_tile_supported", lambda: False)())
    bf16 = bool(getattr(cpu, "_is_avx512_bf16_supported", lambda: False)())
    capability = f"CPU capability {torch.backends.cpu.get_cpu_capability()}, "
    if amx:
        return True, capability + ("AMX, AVX512-BF16" if bf16 else "AMX")
    if not bf16:
        return False, capability + "no AMX or AVX512-BF16 (bfloat16 is 100-300x slower than float32 there)"
    speedup = cpu_bfloat16_speedup()
    native = speedup >= BFLOAT16_MIN_SPEEDUP
    return native, capability + (
        f"AVX512-BF16 without AMX: a bfloat16 {BFLOAT16_PROBE_N}x{BFLOAT16_PROBE_N} matrix product ran "
        f"{speedup:.2f}x float32's speed here ({'at least' if native else 'under'} {BFLOAT16_MIN_SPEEDUP}x)"
    )


def resolve_precision(precision: str, device: torch.device, backend: str = "torch") -> str:
    """``float32`` or ``bfloat16`` for ``precision`` on ``device``: ``auto`` takes bfloat16 only where the
    device runs it natively (it is several times faster there, and 100-300x slower than float32 on a CPU
    without it); an explicit ``bfloat16`` there warns. The ONNX backend runs float32 (or its int8 file)."""
    if backend == "onnx":
        return "float32"
    native, what = native_bfloat16(device)
    if precision == "auto":
        chosen = "bfloat16" if native else "float32"
        logger.info("precision auto: %s (%s)", chosen, what)
        return chosen
    if precision == "bfloat16" and not native:
        logger.warning(
            "precision bfloat16 on a device without native bfloat16 (%s): slower than float32 there (measured: "
            "about 300x slower matrix products on an AVX2-only EPYC, 0.3 vs 103 GFLOP/s; 0.6x float32's speed on "
            "long articles on a Xeon with AVX512-BF16 but no AMX where it measured slower); use float32 or auto",
            what,
        )
    return precision


PUBLISHED_PREPROCESSING = ("none", "arabertv02")  # presets a published checkpoint may be read with


def parse_label_map(text: str) -> dict[str, str]:
    """``"PER=PERS,ORG=ORG"`` (the CLI's ``--label-map``) as a mapping.

    Raises:
        ValueError: an item that is not ``FROM=TO``; a label mapped to two names.
    """
    out = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        source, sep, target = item.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"--label-map: {item!r} is not FROM=TO (e.g. PER=PERS,LOC=LOC)")
        if source.strip() in out and out[source.strip()] != target.strip():
            raise ValueError(
                f"--label-map: {source.strip()!r} is mapped twice (to {out[source.strip()]!r} and {target.strip()!r})"
            )
        out[source.strip()] = target.strip()
    return out


CPU_BATCH_TOKENS = {"torch": 2048, "onnx": 1024}  # backend -> padded tokens per forward pass on CPU


@dataclass(frozen=True)
class LoadOptions:
    """How to read and run a model (every field has a default; ``LoadOptions.of(**fields)`` builds one).

    Attributes:
        backend: ``"torch"``, or ``"onnx"``: run ``onnx/<onnx_file>`` with ONNX Runtime on CPU (written by
            ``akhbar export-onnx``; needs ``pip install "akhbar[onnx]"``).
        onnx_file: ``"model.onnx"`` (float32) or ``"model.int8.onnx"`` (``--quantize int8``).
        precision: ``"auto"`` (default): bfloat16 where the device runs it natively (GPUs with bfloat16, CPUs
            with AMX, CPUs with AVX512-BF16 where a probe product measures it faster), else float32
            (:func:`resolve_precision`); ``"float32"``; or
            ``"bfloat16"``: the PyTorch model's weights and activations in bfloat16, several times faster where
            native and slower where not (100-300x on AVX2). bfloat16 predictions can differ from float32 where a tag
            is near a tie, so measure on your data (``akhbar evaluate --precision``). Logits are turned into
            probabilities in float32. The predictor's ``precision`` says what was chosen.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` …; by default CUDA when available (onnx: CPU only).
        batch_size: at most this many windows per forward pass.
        batch_tokens: at most this many padded tokens per forward pass (windows times the longest one's
            length; a longer window goes alone). Neither given: 32 windows on a GPU, 2,048 tokens on CPU
            (1,024 with the onnx backend; see :func:`default_batching`); one given: only that bound.
        preprocessing: for a published checkpoint that is not an akhbar package (and carries no settings): the
            normalization preset to apply, ``"none"`` (the default: raw text, as a plain pipeline reads it) or
            ``"arabertv02"`` (for AraBERT v0.2/v2 models). A package carries its own; giving one is an error.
        label_map: rename the model's entity types or event labels (``{"PER": "PERS"}``), to score a model
            against data with another schema.
    """

    backend: str = "torch"
    onnx_file: str = "model.onnx"
    precision: str = "auto"
    device: str | None = None
    batch_size: int | None = None
    batch_tokens: int | None = None
    preprocessing: str | None = None
    label_map: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        for name in ("batch_size", "batch_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        if self.backend == "onnx":
            if not self.onnx_file or Path(self.onnx_file).name != self.onnx_file:
                raise ValueError(
                    f"onnx_file must be a file name in the package's onnx/ (e.g. model.onnx), not {self.onnx_file!r}"
                )
            if self.device is not None and resolve_device(self.device).type != "cpu":
                raise ValueError(
                    f"the onnx backend runs on CPU only, not on {self.device!r}; use backend='torch' for it"
                )
            if self.precision == "bfloat16":
                raise ValueError("precision='bfloat16' is for the torch backend; the onnx backend has model.int8.onnx")
        if self.preprocessing is not None and self.preprocessing not in PUBLISHED_PREPROCESSING:
            raise ValueError(
                f"unknown preprocessing {self.preprocessing!r}; choose one of {', '.join(PUBLISHED_PREPROCESSING)}"
            )
        if self.label_map is not None and not all(
            isinstance(k, str) and isinstance(v, str) and k and v for k, v in self.label_map.items()
        ):
            raise ValueError(f"label_map must map label names to label names, found {self.label_map!r}")

    @classmethod
    def of(cls, options: LoadOptions | None = None, **fields) -> LoadOptions:
        """``options`` (or the defaults) with ``fields`` changed; an unknown field is a ``TypeError``."""
        return dataclasses.replace(options or cls(), **fields)

    def batching(self, device: torch.device) -> tuple[int | None, int | None]:
        """``(batch_size, batch_tokens)`` on ``device``: the given bounds, or the defaults for the device."""
        if self.batch_size is None and self.batch_tokens is None:
            return default_batching(device, self.backend)
        return self.batch_size, self.batch_tokens


def resolve_device(device: str | None) -> torch.device:
    """``device`` as a torch device (by default CUDA when available), refused in one line if this machine
    has no such device."""
    import torch

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


def default_batching(device: torch.device, backend: str = "torch") -> tuple[int | None, int | None]:
    """``(batch_size, batch_tokens)`` when neither is given: 32 windows per forward pass on a GPU; on CPU
    passes of at most 2,048 padded tokens (1,024 with ONNX Runtime), however many windows that is.

    On the benchmark CPU (BENCHMARKS.md, "Batching on this CPU") PyTorch ran fastest with passes of
    2,048-4,096 tokens whatever the window length, ONNX Runtime with 1,024, and both slower with 32 windows
    of 256 tokens (8,192), likely because those activations no longer stay in the caches."""
    return (32, None) if device.type == "cuda" else (None, CPU_BATCH_TOKENS[backend])

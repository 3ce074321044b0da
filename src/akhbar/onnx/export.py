"""Export a packaged model to ONNX (and optionally int8) for faster CPU inference with ONNX Runtime.

    akhbar export-onnx models/ner-anercorp --quantize int8
    NerTagger.from_pretrained("models/ner-anercorp", backend="onnx", onnx_file="model.int8.onnx")

The export goes into the package itself, as ``onnx/model.onnx`` (float32) and ``onnx/model.int8.onnx``
(weights quantized to int8 with ONNX Runtime's dynamic quantization), and the package's ``manifest.json``
is rewritten over the new file list with the same recorded information, so the package still verifies.
Before anything is written the new graph is run on a few windows beside the PyTorch model: the largest
logit difference and how often both pick the same label are returned (and printed by the command), and a
float32 export that does not reproduce the PyTorch logits is refused.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from ..inference import LoadOptions, load_package
from ..manifest import MANIFEST_FILE, write_manifest
from ..preprocessing import split_words
from ..settings import PackageSettings
from ..tasks import get_task
from ..windows import encode_words
from . import INSTALL_ONNX, ONNX_DIR, MissingDependency, import_onnxruntime
from .runtime import OnnxModel

logger = logging.getLogger(__name__)

FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
QUANTIZATIONS = ("int8",)
# A float32 graph whose logits differ from PyTorch's by more than this is a broken export, not rounding
# (a correct one differs by about 2e-7 on the tiny test model and 2e-6 on a BERT-base-sized one).
FP32_TOLERANCE = 1e-3
MAX_CHECK_WINDOWS = 8
MIN_OPSET = 17  # LayerNormalization
# Made-up news text for the parity check: repeated until it fills several windows.
CHECK_TEXT = (
    "أعلنت وزارة الصحة في بيروت يوم الاثنين افتتاح مستشفى جديد في مدينة طرابلس، بحضور الوزير ومحافظ الشمال. "
    "وقال الوزير في كلمة ألقاها خلال الحفل إن المستشفى سيخدم أكثر من مئتي ألف نسمة في المنطقة. "
    "وفي عمّان، تظاهر مئات الطلاب أمام مبنى مجلس النواب احتجاجاً على رفع الرسوم الجامعية، "
    "فيما اعتقلت الشرطة عدداً منهم. وذكرت وكالة الأنباء الأردنية أن الحكومة ستدرس مطالب المحتجين."
)


def require(module: str):
    """Import an optional dependency of the export, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(f"akhbar export-onnx needs {module}, which is not installed: {INSTALL_ONNX}") from None


class _LogitsOnly(torch.nn.Module):
    """The classification model with the logits as its only output."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits


def input_names(model: torch.nn.Module) -> list[str]:
    """``input_ids`` and ``attention_mask``, and ``token_type_ids`` when the model's forward takes them."""
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in inspect.signature(model.forward).parameters:
        names.append("token_type_ids")
    return names


def export_graph(model: torch.nn.Module, names: Sequence[str], path: Path, opset: int | None) -> None:
    """Write ``model``'s logits graph to ``path`` (one file, weights inside) with dynamic batch and sequence.

    The exporter is torch's ``torch.export``-based one (``dynamo=True``, the default since torch 2.9; it needs
    onnxscript), not the legacy TorchScript tracer (``dynamo=False``). With transformers 5 the tracer records
    shape-dependent Python values of the attention-mask code as constants: its graph reproduces the PyTorch
    logits only at the example's exact batch and sequence size (logits off by ~0.2 at other sizes, eager or
    sdpa attention alike). ``torch.export`` keeps batch and sequence symbolic (``dynamic_shapes``), and its
    graph matches PyTorch to ~1e-7 at every size and with padding.
    """
    require("onnxscript")
    require("onnx")
    from torch.export import Dim

    # Batch 2 with one padded row and sequence 8: an example size of 0 or 1 would be specialized away.
    ids = torch.full((2, 8), 5, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    example = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    batch, sequence = Dim("batch"), Dim("sequence")
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    # The exporter's chatter is not the user's business: torchvision ops it skips, a pytree deprecation,
    # and a note that input_ids and attention_mask share their axis names (which they do, on purpose).
    with tempfile.TemporaryDirectory() as artifacts, warnings.catch_warnings():  # artifacts: its reports, if any
        warnings.filterwarnings("ignore", message=r".*(axis name|LeafSpec)", category=UserWarning)
        warnings.filterwarnings("ignore", message=r".*LeafSpec", category=FutureWarning)
        exporter_log.setLevel(logging.ERROR)
        try:
            _export(model, names, path, opset, example, batch, sequence, artifacts)
        finally:
            exporter_log.setLevel(level)


def _export(model, names, path, opset, example, batch, sequence, artifacts) -> None:
    torch.onnx.export(
        _LogitsOnly(model).eval(),
        tuple(example[n] for n in names),
        str(path),
        input_names=list(names),
        output_names=["logits"],
        opset_version=opset,
        dynamo=True,
        dynamic_shapes=tuple({0: batch, 1: sequence} for _ in names),
        external_data=False,
        verbose=False,
        artifacts_dir=artifacts,
    )


def quantize_int8(source: Path, dest: Path, per_channel: bool = True) -> None:
    """Dynamic quantization: int8 weights (QInt8, one scale per output channel) stored in the graph,
    activations quantized at run time.

    Per-channel weights, not ONNX Runtime's per-tensor default: on the stand-in NER package (12 long ANT
    articles) they kept 89.1% entity agreement with the pipeline against 81.2% at the same speed on a Xeon
    without AMX (1.27x against 1.30x the pipeline, one run), and 85.2% against 84.0% and faster on an AMD
    EPYC with AVX2 (1.73x against 1.59x; BENCHMARKS.md, "Speed on each CPU kind").
    ``per_channel=False`` is ONNX Runtime's default (one scale per weight tensor), kept for comparison.
    """
    import_onnxruntime()
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The exporter also records initializers' shapes as value_info. The quantizer turns Gemm (the pooler
    # and the sequence classifier) into MatMul by transposing the weight in place and leaves that entry
    # stale, so its shape inference then fails; an initializer carries its own shape, the entries go.
    graph = onnx.load(str(source))
    initializers = {t.name for t in graph.graph.initializer}
    kept = [v for v in graph.graph.value_info if v.name not in initializers]
    del graph.graph.value_info[:]
    graph.graph.value_info.extend(kept)
    # ONNX Runtime suggests its quant_pre_process first (on the root logger). Its symbolic shape inference
    # fails on this graph, and without it the same MatMuls and embeddings are quantized: the hint is dropped.
    root = logging.getLogger()
    hint = _DropMessage("Please consider to run pre-processing before quantization")
    root.addFilter(hint)
    try:
        quantize_dynamic(graph, dest, weight_type=QuantType.QInt8, per_channel=per_channel)
    finally:
        root.removeFilter(hint)


class _DropMessage(logging.Filter):
    def __init__(self, start: str):
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.start)


def check_windows(tokenizer, settings: PackageSettings, texts: Sequence[str] | None = None) -> list[list[int]]:
    """A few windows (token ids) cut from ``texts``, by default :data:`CHECK_TEXT` repeated to fill several."""
    if texts is None:
        texts = [CHECK_TEXT.split(". ")[0]]  # one short window, so that the check batch has padding
        words = split_words(CHECK_TEXT, settings.preprocessing)
        per_copy = max(1, len(tokenizer(words.mapped.text, add_special_tokens=False)["input_ids"]))
        texts.append(" ".join([CHECK_TEXT] * math.ceil(3 * settings.max_length / per_copy)))
    windows = []
    for text in texts:
        encoded = encode_words(
            tokenizer, split_words(text, settings.preprocessing), settings.max_length, settings.stride
        )
        windows += encoded.input_ids
    if not windows:
        raise ValueError("no text to check the export on: the check texts are empty")
    windows = sorted(windows, key=len, reverse=True)
    return windows[: MAX_CHECK_WINDOWS - 1] + windows[-1:] if len(windows) > MAX_CHECK_WINDOWS else windows


def parity(model: torch.nn.Module, onnx_path: Path, tokenizer, windows: list[list[int]]) -> dict:
    """Logits of the ONNX graph against PyTorch on the same padded batch of ``windows``.

    Returns ``max_abs_diff`` (largest |logit difference|), ``argmax_agreement`` (share of predictions, per
    real token for NER and per window for events, where both pick the same label) and ``compared`` (how
    many predictions).
    """
    batch = tokenizer.pad({"input_ids": windows}, return_tensors="pt")
    with torch.inference_mode():
        expected = model(**batch).logits.float().numpy()
    got = OnnxModel(onnx_path, model.config)(**batch).logits.numpy()
    if expected.ndim == 3:  # token classification: compare real tokens, not padding
        keep = batch["attention_mask"].numpy().astype(bool)
        expected, got = expected[keep], got[keep]
    return {
        "max_abs_diff": float(np.abs(expected - got).max()),
        "argmax_agreement": float((expected.argmax(-1) == got.argmax(-1)).mean()),
        "compared": int(expected.shape[0]),
    }


def export_onnx(
    package_dir: str | Path,
    quantize: str | None = None,
    opset: int | None = None,
    check: bool = True,
    texts: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    per_channel: bool = True,
) -> dict:
    """Export a local package's model to ``<package>/onnx/`` and rewrite its manifest.

    Args:
        package_dir: a packaged model folder (verified against its manifest first).
        quantize: ``"int8"`` also writes ``model.int8.onnx`` (dynamic quantization, QInt8 weights with one
            scale per output channel).
        opset: ONNX opset version; by default the exporter's own (the result says which was written).
        check: run the parity check on a few windows (``texts``, by default a built-in news text).
        progress: called with a line before each step (export, quantization and parity take a minute or
            more on a BERT-base model on CPU).
        per_channel: with ``quantize="int8"``, one weight scale per output channel (default) or, false, one
            per weight tensor (ONNX Runtime's default; bench/speed.py ``--int8_per_tensor`` compares the two).

    Returns:
        ``{"package", "task", "unit" (what parity compares: tokens or windows), "inputs", "opset", "files":
        {"onnx/model.onnx": bytes, ...}, "windows",
        "parity": {"onnx/model.onnx": {"max_abs_diff", "argmax_agreement", "compared"}, ...}}``
        (``parity`` empty and ``windows`` 0 when ``check`` is false).

    Raises:
        FileNotFoundError: ``package_dir`` is not a local folder (a hub id cannot be written into).
        ValueError: the package does not verify; an unknown ``quantize``; the float32 graph does not reproduce
            the PyTorch logits (nothing is written then).
        MissingDependency: onnx, onnxscript or onnxruntime is not installed.

    The ``onnx/`` folder is replaced as a whole: it holds exactly the files of the latest export.
    """
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantize!r}; choose {', '.join(QUANTIZATIONS)} (or none)")
    if opset is not None and opset < MIN_OPSET:
        raise ValueError(
            f"opset {opset} is too old: the graph uses LayerNormalization (opset {MIN_OPSET}); use {MIN_OPSET} or "
            "newer, or leave --opset out for the exporter's default"
        )
    package = Path(package_dir)
    if not package.is_dir():
        raise FileNotFoundError(f"{package}: no such folder; export-onnx writes into a local package folder")
    for module in ("onnx", "onnxscript", "onnxruntime"):  # every missing extra before any work
        require(module)
    package, settings = load_package(package)
    old_manifest = json.loads((package / MANIFEST_FILE).read_text(encoding="utf-8"))
    info = {k: v for k, v in old_manifest.items() if k not in ("format", "files")}
    task = get_task(settings.task)
    # float32 weights: the graph is the exact model (int8 is made from it); bfloat16 would be exported as such
    predictor = task.predictor_class().from_verified(package, settings, LoadOptions(device="cpu", precision="float32"))
    model, tokenizer = predictor.model, predictor.tokenizer
    names = input_names(model)
    names_written = [FP32_FILE] + ([INT8_FILE] if quantize == "int8" else [])

    # Built beside the package (never inside it, where a killed export would leave files that fail the
    # manifest), in a folder made with the usual permissions (mkdtemp's own is private).
    partial = Path(tempfile.mkdtemp(prefix=f".{package.name}.onnx-partial-", dir=package.parent))
    staging = partial / ONNX_DIR
    staging.mkdir()
    say = progress or (lambda line: None)
    try:
        say(f"exporting {package.name} to ONNX (float32; about a minute for a BERT-base model on CPU) ...")
        export_graph(model, names, staging / FP32_FILE, opset)
        if quantize == "int8":
            say("quantizing to int8 ...")
            quantize_int8(staging / FP32_FILE, staging / INT8_FILE, per_channel)
        import onnx

        graph = onnx.load(str(staging / FP32_FILE), load_external_data=False)
        written_opset = next(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx"))
        result = {
            "package": str(package),
            "task": settings.task,
            "unit": task.prediction_unit,
            "inputs": names,
            "opset": written_opset,
            "files": {f"{ONNX_DIR}/{n}": (staging / n).stat().st_size for n in names_written},
            "windows": 0,
            "parity": {},
        }
        if check:
            windows = check_windows(tokenizer, settings, texts)
            result["windows"] = len(windows)
            say(f"checking parity with PyTorch on {len(windows)} windows ...")
            for name in names_written:
                result["parity"][f"{ONNX_DIR}/{name}"] = parity(model, staging / name, tokenizer, windows)
            fp32 = result["parity"][f"{ONNX_DIR}/{FP32_FILE}"]
            if not fp32["max_abs_diff"] <= FP32_TOLERANCE:
                raise ValueError(
                    f"the exported graph does not reproduce the PyTorch logits (max |difference| "
                    f"{fp32['max_abs_diff']:.3g} > {FP32_TOLERANCE:g}); {package} is left unchanged"
                )
        # Swap the new folder in, then hash the package again: the old export (if any) is moved aside
        # first and deleted only once the new manifest is written.
        target, old = package / ONNX_DIR, package.parent / f".{package.name}.onnx-replaced-{os.getpid()}"
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
        write_manifest(package, info)
        if old.exists():
            shutil.rmtree(old)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    logger.info("exported %s to %s", package, ", ".join(result["files"]))
    return result

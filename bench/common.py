"""What the benchmarks share: reading CoNLL sentences, scoring word tags per sentence, recording the machine,
writing results.

Every figure carries the CPU model (``lscpu``'s "Model name") and torch's CPU capability
(``torch.backends.cpu.get_cpu_capability()``: "AVX2", "AVX512", ...), because the same code runs ~5x apart on
the machine kinds these benchmarks meet; :func:`machine` records them, one way for every result file.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from akhbar.articles import read_articles


def token_offsets(text: str) -> list[tuple[int, int]]:
    """Character spans of the single-space-separated tokens of a CoNLL sentence's text."""
    spans, pos = [], 0
    for token in text.split(" "):
        spans.append((pos, pos + len(token)))
        pos += len(token) + 1
    return spans


def spans_to_tags(text: str, entities: Sequence[dict]) -> list[str]:
    """IOB2 tags for the tokens of ``text`` from character spans (a token overlapping a span belongs to it)."""
    offsets = token_offsets(text)
    tags = ["O"] * len(offsets)
    for ent in sorted(entities, key=lambda e: e["start"]):
        inside = [i for i, (a, b) in enumerate(offsets) if a < ent["end"] and ent["start"] < b and tags[i] == "O"]
        for k, i in enumerate(inside):
            tags[i] = ("B-" if k == 0 else "I-") + ent["label"]
    return tags


def conll_sentences(path) -> tuple[list[list[str]], list[list[str]]]:
    """Tokens and IOB2 tags of every valid sentence of a CoNLL file (a sentence with a bad line is skipped
    and reported, as in akhbar's training)."""
    articles, _ = read_articles(path, skip_invalid=True)
    return [a["text"].split(" ") for a in articles], [spans_to_tags(a["text"], a["entities"]) for a in articles]


def label_list(tags: Sequence[Sequence[str]]) -> list[str]:
    """``run_ner.py``'s label list: the sorted set of tags seen in training."""
    return sorted({t for sentence in tags for t in sentence})


def cpu_model() -> str:
    """``lscpu``'s model name; /proc/cpuinfo's where lscpu is missing; ``platform.processor()`` last."""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True, timeout=30).stdout
        return next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.SubprocessError, StopIteration):
        pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def bfloat16_native() -> bool:
    """Whether this machine's CPU runs bfloat16 natively, as ``precision="auto"`` decides (AMX; AVX512-BF16
    where its probe product measures bfloat16 faster): the benches time bfloat16 only then, since elsewhere it
    is slower than float32 (100-300x on AVX2, 0.5x on a Xeon VM with AVX512-BF16 but no AMX)."""
    import torch

    from akhbar.inference.options import native_bfloat16

    return native_bfloat16(torch.device("cpu"))[0]


def machine() -> dict:
    """The machine a benchmark ran on: CPU model and capability, cores and threads, load at the start, GPU,
    and the versions of the libraries whose speed is measured."""
    import torch

    versions = {}
    for package in ("transformers", "datasets", "onnxruntime"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": os.getloadavg()[0],
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        **versions,
    }


def describe(m: dict) -> str:
    """One line for a Markdown report, e.g. "Intel(R) Xeon(R) Processor (AVX512), 2 cores, load 0.3 at the start"."""
    capability = m.get("cpu_capability") or m.get("capability")  # result files written before this module
    line = f"{m['cpu']} ({capability})"
    if m.get("cores"):
        line += f", {m['cores']} cores"
    if m.get("load_average_at_start") is not None:
        load = m["load_average_at_start"]
        line += f", load {load[0] if isinstance(load, list) else load:.1f} at the start"
    return line


def write_results(out: Path, results: dict, markdown: str) -> None:
    """``OUT.json`` (the figures) and ``OUT.md`` (the report a person reads) side by side."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown, encoding="utf-8")

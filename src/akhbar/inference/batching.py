"""Texts in chunks, windows in forward passes: what bounds memory and fills batches at inference."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import torch
from tqdm.auto import tqdm

from ..onnx.runtime import OnnxModel

T = TypeVar("T")

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

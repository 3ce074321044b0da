"""What the peer runners share; imported inside the peers' environments (standard library and torch only).

The main bench (``bench/run.py --peers``) writes a data folder for them, one JSON object a line:

- ``train.jsonl``, ``test.jsonl``: ``{"document_id": 0, "sentence_id": 3, "tokens": [...], "tags": [...]}``,
  IOB2 tags, sentences in document order (a document is the run of sentences akhbar reads as one article);
- ``long.jsonl``: the long articles timed for inference, already split into sentences the same way
  (``tags`` absent).

A runner writes ``result.json`` into its output folder: the predicted tags of every test sentence (in the
order of ``test.jsonl``, one tag per word) and its figures. The main bench scores the tags with akhbar's
scorer.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)


def peer_arguments(
    description: str, learning_rate: float, model_help: str = "encoder folder"
) -> argparse.ArgumentParser:
    """The arguments every runner takes (the recipe's own are added by the runner)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", required=True, help=model_help)
    p.add_argument("--data", required=True, help="folder with train.jsonl, test.jsonl, long.jsonl")
    p.add_argument("--out", required=True)
    p.add_argument("--budget_s", type=float, required=True, help="wall-clock training budget")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--learning_rate", type=float, default=learning_rate)
    p.add_argument("--batch_size", type=int, default=4)
    p.add_argument("--predict_batch_size", type=int, default=32)
    return p


def bench_data(folder: str | Path) -> tuple[list[dict], list[dict], list[list[dict]]]:
    """The training and test sentence records, and the long articles (each a list of sentence records)."""
    folder = Path(folder)
    return (
        read_jsonl(folder / "train.jsonl"),
        read_jsonl(folder / "test.jsonl"),
        group_documents(read_jsonl(folder / "long.jsonl")),
    )


def measured(args, train_s: float, steps: int, epochs: float, tokens_per_epoch: int, peak_train: float) -> dict:
    """The training figures every runner reports, the same way."""
    return {
        "seed": args.seed,
        "budget_s": args.budget_s,
        "train_s": round(train_s, 1),
        "trained_steps": steps,
        "epochs": round(epochs, 3),
        "train_sub_tokens_per_epoch": tokens_per_epoch,
        "train_tokens_per_s": tokens_per_epoch * epochs / train_s if train_s else None,
        "peak_rss_mib_train": peak_train,
    }


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def spans_to_tags(length: int, spans: Sequence[tuple[int, int, str]]) -> list[str]:
    """IOB2 tags of ``length`` words from ``(first word, end word exclusive, type)`` spans; a span that overlaps
    one already placed (a peer may return overlapping candidates) is dropped, the first one placed wins."""
    tags = ["O"] * length
    for start, end, label in spans:
        end = min(end, length)
        if start >= end or any(t != "O" for t in tags[start:end]):
            continue
        tags[start] = "B-" + label
        for i in range(start + 1, end):
            tags[i] = "I-" + label
    return tags


def tag_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """``(first word, end word exclusive, type)`` of the IOB2 entities in ``tags`` (a stray ``I-`` starts one)."""
    spans: list[tuple[int, int, str]] = []
    for i, tag in enumerate(tags):
        if tag == "O":
            continue
        kind, label = tag.split("-", 1)
        if kind == "I" and spans and spans[-1][1] == i and spans[-1][2] == label:
            spans[-1] = (spans[-1][0], i + 1, label)
        else:
            spans.append((i, i + 1, label))
    return spans


class WallClockSchedule:
    """The learning-rate shape both peers' fine-tuning recipes use (linear warm-up over the first
    ``warmup`` share, then linear decay to zero), laid over a wall-clock budget instead of a step count, so
    each peer's schedule ends exactly when its time is up however fast the machine is that day.

    Use :meth:`factor` as a ``LambdaLR`` multiplier (it ignores the step number it is given) and stop
    training when :meth:`done`.
    """

    def __init__(self, budget_s: float, warmup: float = 0.1) -> None:
        if budget_s <= 0:
            raise ValueError(f"budget_s must be > 0, got {budget_s}")
        self.budget_s, self.warmup = budget_s, warmup
        self.started: float | None = None

    def start(self) -> None:
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return 0.0 if self.started is None else time.perf_counter() - self.started

    def done(self) -> bool:
        return self.elapsed() >= self.budget_s

    def factor(self, _step: int = 0) -> float:
        share = min(self.elapsed() / self.budget_s, 1.0)
        if share < self.warmup:
            return max(share / self.warmup, 1e-3)  # not zero: the first steps still move
        return max((1.0 - share) / (1.0 - self.warmup), 0.0)


def timed_long_articles(predict, articles: list[list[dict]], sub_tokens: int) -> dict:
    """Time ``predict(articles)`` (every long article, each a list of sentence records) after a warm-up on two."""
    predict(articles[:2])
    started = time.perf_counter()
    predict(articles)
    seconds = time.perf_counter() - started
    return {
        "articles": len(articles),
        "sub_tokens": sub_tokens,
        "seconds": round(seconds, 2),
        "articles_per_s": len(articles) / seconds,
        "sub_tokens_per_s": sub_tokens / seconds,
    }


def group_documents(records: list[dict]) -> list[list[dict]]:
    """Sentence records grouped by ``document_id``, in file order."""
    out: dict[int, list[dict]] = {}
    for r in records:
        out.setdefault(r["document_id"], []).append(r)
    return list(out.values())


def sub_token_count(tokenizer, sentences: list[list[str]]) -> int:
    """Sub-tokens of the words of ``sentences`` (no special tokens): the text a model reads, counted the same
    way for every system."""
    return sum(len(ids) for s in sentences for ids in tokenizer(s, add_special_tokens=False)["input_ids"])


def write_result(out: Path, result: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result["peak_rss_mib"] = peak_rss_mib()
    (out / "result.json").write_text(json.dumps(result, ensure_ascii=False) + "\n", encoding="utf-8")
    logger.info("wrote %s", out / "result.json")

"""Where the time of long-article inference goes: akhbar's stages, and the pipeline's model share.

    python bench/stages.py PACKAGE [--long ../shared/data/antcorpus --articles 12 --precision float32 bfloat16]

For ``NerTagger.predict`` on the long articles (the same seeded sample as bench/speed.py), the seconds spent
in each stage, measured by wrapping the functions the tagger calls (a bench-only seam: nothing in akhbar is
changed): normalization and word split (``split_words``), the tokenizer call, the word alignment of the
windows (the rest of ``encode_words``), padding (``tokenizer.pad``), the model's forward pass (forward hooks),
the window merge (``merge_entities``) and the entity spans (``TaggedText.entities``); what is left of the wall
time is the glue (softmax, arg-max, tensor to NumPy, the per-word loop). For
``pipeline("token-classification", aggregation_strategy="first", stride)`` the model's forward time (same
hooks) and the rest. The ratio "pipeline seconds / akhbar's forward seconds" is the speed-up akhbar would
have with no time outside the model: the ceiling of what removing overhead can give at that precision.

Every figure is the fastest of ``--rounds`` passes, after a two-article warm-up, in one process.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as bench  # noqa: E402
import speed  # noqa: E402
from common import describe, machine, write_results  # noqa: E402

logger = logging.getLogger("stages")
STAGES = ("split_words", "tokenizer", "align", "pad", "forward", "merge", "entities")


class Clock:
    """Seconds per stage, added up by the wrappers below."""

    def __init__(self):
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self._forward_started: list[float] = []

    def timed(self, stage: str, fn):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - started

        return wrapper

    def hooks(self, model):
        """Forward hooks on the model's outermost module: the whole forward pass, once per batch."""

        def before(_module, _inputs):
            self._forward_started.append(time.perf_counter())

        def after(_module, _inputs, _output):
            self.seconds["forward"] += time.perf_counter() - self._forward_started.pop()

        return [model.register_forward_pre_hook(before), model.register_forward_hook(after)]


@contextmanager
def instrumented(clock: Clock, tokenizer):
    """Wrap the functions ``NerTagger`` calls by name (module globals), and the tokenizer's class methods, for
    the duration of the block; ``encode_words`` minus the tokenizer call is the alignment."""
    from akhbar.inference import ner

    saved = {name: getattr(ner, name) for name in ("split_words", "encode_words", "merge_entities")}
    cls = type(tokenizer)
    saved_call, saved_pad = cls.__call__, cls.pad
    saved_entities = ner.TaggedText.entities
    before_align = {}

    def encode(*args, **kwargs):
        before_align["tokenizer"] = clock.seconds["tokenizer"]
        started = time.perf_counter()
        out = saved["encode_words"](*args, **kwargs)
        inside = clock.seconds["tokenizer"] - before_align["tokenizer"]
        clock.seconds["align"] += time.perf_counter() - started - inside
        return out

    ner.split_words = clock.timed("split_words", saved["split_words"])
    ner.encode_words = encode
    ner.merge_entities = clock.timed("merge", saved["merge_entities"])
    cls.__call__ = clock.timed("tokenizer", saved_call)
    cls.pad = clock.timed("pad", saved_pad)
    ner.TaggedText.entities = clock.timed("entities", saved_entities)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(ner, name, fn)
        cls.__call__, cls.pad = saved_call, saved_pad
        ner.TaggedText.entities = saved_entities


def fastest(model, run, rounds: int, instrument=None) -> tuple[float, dict]:
    """The fastest of ``rounds`` calls of ``run``, with forward hooks on ``model`` (and ``instrument(clock)``, a
    context manager, around the call when given): its wall seconds and seconds per stage."""
    best = None
    for _ in range(rounds):
        clock = Clock()
        handles = clock.hooks(model)
        try:
            with instrument(clock) if instrument else nullcontext():
                started = time.perf_counter()
                run()
                wall = time.perf_counter() - started
        finally:
            for h in handles:
                h.remove()
        if best is None or wall < best[0]:
            best = (wall, dict(clock.seconds))
    return best


def akhbar_stages(package: Path, texts: list[str], precision: str, rounds: int) -> dict:
    """The fastest of ``rounds`` instrumented ``NerTagger.predict`` passes: wall seconds and seconds per stage."""
    from akhbar.inference import NerTagger

    tagger = NerTagger.from_pretrained(package, precision=precision)
    tagger.predict(texts[:2])
    wall, stages = fastest(
        tagger.model, lambda: tagger.predict(texts), rounds, lambda clock: instrumented(clock, tagger.tokenizer)
    )
    stages["glue"] = wall - sum(stages.values())
    return {"seconds": wall, "stages": stages, "precision": tagger.precision}


def pipeline_stages(package: Path, texts: list[str], rounds: int) -> dict:
    """The fastest of ``rounds`` passes of the reference pipeline (bench/run.py's ``PipelineTagger``: the same
    normalized text, windows and stride, batch 1): wall seconds and its model's forward seconds."""
    tagger = bench.PipelineTagger(package, "first", 1)
    tagger.predict(texts[:2])
    wall, stages = fastest(tagger.pipe.model, lambda: tagger.predict(texts), rounds)
    return {"seconds": wall, "forward": stages["forward"], "other": wall - stages["forward"]}


def render(results: dict) -> str:
    m = results["machine"]
    pipe = results["pipeline_first"]
    lines = [
        f"# Where long-article inference time goes — {m['cpu']}, CPU capability {m['cpu_capability']}",
        "",
        f"Machine: {describe(m)}; torch {m['torch']} ({m['torch_threads']} threads). Package `{results['package']}`.",
        f"Command: `{results['command']}`",
        "",
        f"{results['articles']} articles ({results['sub_tokens']:,} sub-tokens), fastest of {results['rounds']} "
        "passes. Seconds per stage (share of the wall time).",
        "",
        "| engine | wall s | "
        + " | ".join(STAGES)
        + " | glue | outside the model | ceiling (pipeline s / forward s) |",
        "|---|---:|" + "---:|" * (len(STAGES) + 3),
    ]
    for name, row in results["akhbar"].items():
        wall = row["seconds"]
        cells = [f"{row['stages'][s]:.2f} ({100 * row['stages'][s] / wall:.0f}%)" for s in (*STAGES, "glue")]
        outside = wall - row["stages"]["forward"]
        lines.append(
            f"| akhbar {name} | {wall:.2f} | " + " | ".join(cells) + f" | {100 * outside / wall:.0f}% | "
            f"{pipe['seconds'] / row['stages']['forward']:.2f}x |"
        )
    lines.append(
        f"| pipeline 'first' float32 | {pipe['seconds']:.2f} | "
        + " | ".join("" for _ in STAGES[:4])
        + f" | {pipe['forward']:.2f} ({100 * pipe['forward'] / pipe['seconds']:.0f}%) | | | | "
        f"{100 * pipe['other'] / pipe['seconds']:.0f}% | |"
    )
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("package", type=Path, help="a packaged akhbar NER model")
    p.add_argument("--out", type=Path, help="results path without suffix (OUT.json, OUT.md)")
    p.add_argument("--long", default=str(bench.ANT), help="ANT corpus folder, or a JSONL file of long articles")
    p.add_argument("--articles", type=int, default=12, help="long articles (the seeded sample bench/speed.py times)")
    p.add_argument("--min_tokens", type=int, default=512)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--precision", nargs="+", default=["float32"], choices=["float32", "bfloat16"])
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    texts, sub_tokens = speed.long_sample(args.package, args.long, args.articles, args.min_tokens)
    results = {
        "command": "python bench/stages.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "package": str(args.package),
        "articles": len(texts),
        "sub_tokens": sub_tokens,
        "rounds": args.rounds,
        "akhbar": {},
    }
    for precision in args.precision:
        results["akhbar"][precision] = akhbar_stages(args.package, texts, precision, args.rounds)
        logger.info("akhbar %s: %s", precision, json.dumps(results["akhbar"][precision]))
    results["pipeline_first"] = pipeline_stages(args.package, texts, args.rounds)
    logger.info("pipeline: %s", json.dumps(results["pipeline_first"]))
    if args.out:
        write_results(args.out, results, render(results))
    print(render(results))
    return results


if __name__ == "__main__":
    main()

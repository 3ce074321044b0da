"""Time NerTagger's batching settings on the ANERcorp test sentences and on long articles.

    python bench/batching.py PACKAGE [--engines torch_fp32 torch_bf16] [--settings size=8 tokens=2048 ...]

A setting bounds each forward pass by windows (``size=N``: ``batch_size=N``) or by padded tokens
(``tokens=N``: ``batch_tokens=N``). For each engine and text set, every setting is timed in rounds, in
the given order and then reversed (so a machine that slows or speeds up during the run weighs on all of
them alike); each timing is the fastest of ``--repeats`` passes after a two-text warm-up, as in
bench/run.py. The entities of every setting are compared with the first one's: batching must not change
predictions beyond float rounding near ties. Prints a table; ``--out`` writes the figures as JSON.
"""

import argparse
import json
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402
from common import conll_sentences  # noqa: E402

DEFAULT_SETTINGS = ["size=8", "tokens=2048", "tokens=4096", "size=32"]
ENGINES = {  # name -> NerTagger.from_pretrained options (the onnx ones need `akhbar export-onnx PACKAGE` first)
    "torch_fp32": {},
    "torch_bf16": {"precision": "bfloat16"},
    "onnx_fp32": {"backend": "onnx"},
    "onnx_int8": {"backend": "onnx", "onnx_file": "model.int8.onnx"},
}


def parse_setting(text: str) -> dict | None:
    """``size=N`` -> ``{"batch_size": N}``, ``tokens=N`` -> ``{"batch_tokens": N}``; None if malformed."""
    kind, _, value = text.partition("=")
    names = {"size": "batch_size", "tokens": "batch_tokens"}
    if kind not in names or not value.isdigit() or int(value) < 1:
        return None
    return {names[kind]: int(value)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("package", type=Path, help="packaged NER model folder")
    p.add_argument("--engines", nargs="+", default=["torch_fp32", "torch_bf16"], choices=list(ENGINES))
    p.add_argument("--settings", nargs="+", default=DEFAULT_SETTINGS, help="size=N and/or tokens=N")
    p.add_argument("--rounds", type=int, default=2, help="rounds of all settings (every other one reversed)")
    p.add_argument("--repeats", type=int, default=2, help="passes per timing; the fastest is kept")
    bench.add_text_args(p)
    p.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = p.parse_args(argv)
    settings = [parse_setting(s) for s in args.settings]
    if None in settings:
        p.error(f"--settings {args.settings[settings.index(None)]!r}: expected size=N or tokens=N with N >= 1")
    from transformers import AutoTokenizer

    from akhbar.inference import NerTagger
    from akhbar.preprocessing import split_words
    from akhbar.settings import PackageSettings

    tokenizer = AutoTokenizer.from_pretrained(args.package)
    preprocessing = PackageSettings.load(args.package).preprocessing
    tokens, _ = conll_sentences(args.test)
    texts = {
        "test_sentences": [" ".join(t) for t in tokens],
        "long_articles": bench.long_articles(args.long, args.long_articles, args.long_min_tokens, tokenizer),
    }
    order = list(zip(args.settings, settings))
    results = {"package": str(args.package), "repeats": args.repeats, "rounds": args.rounds, "runs": []}
    print("| engine | texts | setting | seconds, each round | fastest | entities as the first setting's |")
    print("|---|---|---|---|---|---|")
    for engine in args.engines:
        for part, items in texts.items():
            words = [split_words(t, preprocessing) for t in items]  # the model's words, to snap entities to
            times = {name: [] for name in args.settings}
            found = {}
            for r in range(args.rounds):
                for name, setting in order if r % 2 == 0 else order[::-1]:
                    tagger = NerTagger.from_pretrained(args.package, **ENGINES[engine], **setting)
                    tagger.predict(items[:2])
                    entities, seconds = bench.time_call(partial(tagger.predict, items), args.repeats)
                    times[name].append(round(seconds, 2))
                    found[name] = [bench.word_entities(w, e) for w, e in zip(words, entities)]
            first = args.settings[0]
            for name in args.settings:
                row = {
                    "engine": engine,
                    "texts": part,
                    "setting": name,
                    "seconds": times[name],
                    "best": min(times[name]),
                    "agreement_with_first": bench.agreement(found[name], found[first])["agreement"],
                }
                results["runs"].append(row)
                print(
                    f"| {engine} | {part} | {name} | {', '.join(f'{s:.2f}' for s in times[name])} | "
                    f"{row['best']:.2f} | {100 * row['agreement_with_first']:.1f}% |",
                    flush=True,
                )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

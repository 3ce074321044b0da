"""Long-article inference speed on this machine: akhbar's engines against the transformers pipeline, and the
forward pass against the machine's own matrix-product throughput, measured in one run.

    python bench/speed.py PACKAGE --out bench/results/speed-KIND [--long ../shared/data/antcorpus --articles 12]

PACKAGE is a packaged NER model (e.g. one of ``bench/run.py``'s, or ``models/ner-anercorp``). For issue 18's
speed goals, on the CPU kind it runs on:

- long-article inference (ANT test articles of ``--min_tokens``+ sub-tokens, a seeded sample) of each akhbar
  engine (PyTorch float32; PyTorch bfloat16 only where the CPU runs it natively, as ``precision="auto"``
  decides; ONNX Runtime float32 and int8 when onnxruntime is installed) against
  ``pipeline("token-classification", aggregation_strategy="first", stride=<the package's>)`` at batch 1 (its
  default) on the same weights and windows: speed-up, and entity agreement after snapping both to words
  (``bench/run.py``'s ``inference_speed``). Everything is timed in ``--rounds`` passes and the fastest pass
  of each engine is kept; within a pass the pipelines run first, then PyTorch float32 (the reference of the
  agreement figures), then akhbar's other engines, forward in one pass and reversed in the next, so that a
  machine that slows down during the run does not weigh on one engine only;
- the forward pass in float32 (``bench/flops.py``): sub-tokens/s times FLOPs per sub-token against the
  best float32 2048^2 matrix product of the same run.

Goals (issue 18): >= 4x the pipeline at >= 99% entity agreement; forward >= 50% of the matmul throughput.
Writes ``OUT.json`` and ``OUT.md``: one table for this CPU kind (the CPU model and torch's capability head
it), to be copied into BENCHMARKS.md under that kind.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import flops  # noqa: E402
import run as bench  # noqa: E402
from common import bfloat16_native, describe, machine, write_results  # noqa: E402

logger = logging.getLogger("speed")
PIPELINE = "pipeline_first_batch_1"  # the reference: aggregation "first", batch 1, the package's stride


def engines(package: Path, skip_onnx: bool, int8_per_tensor: bool = False) -> dict:
    """bench/run.py's engines, bfloat16 kept only where ``precision="auto"`` would choose it (elsewhere it is
    slower than float32, ~100x on AVX2, and ``auto`` does not run it). ``int8_per_tensor``: also ONNX Runtime's int8
    with one scale per weight tensor (its default; akhbar exports one per output channel), from a copy of
    the package exported that way."""
    from akhbar.inference import NerTagger

    out = bench.engines(package, skip_onnx)
    if not bfloat16_native():
        out.pop("akhbar_torch_bf16")
    if int8_per_tensor and "akhbar_onnx_int8" in out:
        copy = bench.exported_copy(package, "-onnx-per-tensor", per_channel=False)
        out["akhbar_onnx_int8_per_tensor"] = lambda: NerTagger.from_pretrained(
            copy, backend="onnx", onnx_file="model.int8.onnx"
        )
    return out


def alternating(package: Path, texts: list[str], loaders: dict, rounds: int, bf16: bool) -> dict:
    """``inference_speed`` in ``rounds`` passes, the order of akhbar's engines after the reference reversed
    every other pass; per engine and pipeline the fastest pass's figures (agreements are the same in every
    pass up to float ties; the first pass's are kept)."""
    best: dict = {}
    names = list(loaders)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        # The reference (first engine) must stay first for "agreement_with_reference": keep float32 first.
        order = [names[0]] + [n for n in order if n != names[0]]
        part = bench.inference_speed(
            package, texts, {n: loaders[n] for n in order}, pipeline_batch_sizes=(1,), bf16_pipeline=bf16
        )
        times = ", ".join(f"{k} {v['seconds']:.1f} s" for k, v in part.items() if isinstance(v, dict))
        logger.info("round %d: %s", r + 1, times)
        for key, row in part.items():
            if not isinstance(row, dict):
                best.setdefault(key, row)
            elif key not in best or row["seconds"] < best[key]["seconds"]:
                best[key] = {**row, **{k: v for k, v in best.get(key, {}).items() if k.startswith("agreement")}}
    for key, row in best.items():
        if isinstance(row, dict) and key.startswith("akhbar_"):
            row["speedup_vs_pipeline_first"] = best[PIPELINE]["seconds"] / row["seconds"]
            row["speedup_vs_pipeline_batch_1"] = best["pipeline_batch_1"]["seconds"] / row["seconds"]
    return best


def targets(long: dict, forward: dict) -> list[dict]:
    rows = {k: v for k, v in long.items() if k.startswith("akhbar_")}
    met = [
        k
        for k, v in rows.items()
        if v["speedup_vs_pipeline_first"] >= 4 and v["agreement_with_pipeline_first"]["agreement"] >= 0.99
    ]
    share = forward["share_of_matmul_float32"]
    return [
        {
            "target": "long-article inference >= 4x pipeline(aggregation_strategy='first', stride) at >= 99% "
            "entity agreement",
            "measured": "; ".join(
                f"{k}: {v['speedup_vs_pipeline_first']:.2f}x at "
                f"{100 * v['agreement_with_pipeline_first']['agreement']:.1f}%"
                for k, v in rows.items()
            ),
            "met": bool(met),
            "met_by": met,
        },
        {
            "target": "float32 forward >= 50% of the machine's float32 matmul throughput",
            "measured": f"{forward['forward_float32_gflops']:.1f} of {forward['matmul_float32_gflops']:.1f} GFLOP/s "
            f"({100 * share:.1f}%)",
            "met": share >= 0.5,
        },
    ]


def render(results: dict) -> str:
    m, long, fw = results["machine"], results["long_articles"], results["forward"]
    lines = [
        f"# Long-article inference speed — {m['cpu']}, CPU capability {m['cpu_capability']}",
        "",
        f"Machine: {describe(m)}; torch {m['torch']} ({m['torch_threads']} threads), transformers "
        f"{m.get('transformers')}, onnxruntime {m.get('onnxruntime')}. Package `{results['package']}`.",
        f"Command: `{results['command']}`",
        "",
        f"{long['texts']} articles of {results['min_tokens']}+ sub-tokens from `{results['long']}` "
        f"({long['sub_tokens']:,} sub-tokens), fastest of {results['rounds']} passes (akhbar's engines in "
        "alternating order) after a two-article warm-up.",
        "",
        "| engine | seconds | sub-tokens/s | vs pipeline 'first' | entity agreement with it |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, row in long.items():
        if not isinstance(row, dict):
            continue
        if key.startswith("pipeline"):
            lines.append(f"| {key} | {row['seconds']:.1f} | {row['sub_tokens_per_s']:.0f} | — | — |")
        else:
            agree = row["agreement_with_pipeline_first"]["agreement"]
            lines.append(
                f"| {key} | {row['seconds']:.1f} | {row['sub_tokens_per_s']:.0f} | "
                f"**{row['speedup_vs_pipeline_first']:.2f}x** | {100 * agree:.1f}% |"
            )
    lines += [
        "",
        f"Forward pass (float32, batch {fw['batch']} x {fw['length']} random ids): "
        f"{fw['forward_float32_tokens_per_s']:.0f} sub-tokens/s x {fw['model_gflop_per_token']:.4f} GFLOP = "
        f"{fw['forward_float32_gflops']:.1f} GFLOP/s; the machine's best {fw['matmul_n']}^2 matmul: float32 "
        f"{fw['matmul_float32_gflops']:.1f}, bfloat16 {fw['matmul_bfloat16_gflops']:.1f} GFLOP/s"
        + (
            f" (bfloat16 at {fw['matmul_bfloat16_n']}^2)."
            if fw.get("matmul_bfloat16_n", fw["matmul_n"]) != fw["matmul_n"]
            else "."
        ),
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |" for t in results["targets"]]
    return "\n".join(lines) + "\n"


def long_sample(package: Path, source: str, count: int, min_tokens: int) -> tuple[list[str], int]:
    """The seeded sample of long articles this bench times (``run.long_articles``) and their sub-tokens, counted
    on the text the package's preprocessing gives, as ``run.inference_speed`` counts them.

    Raises:
        SystemExit: no article of ``min_tokens``+ sub-tokens in ``source``.
    """
    from transformers import AutoTokenizer

    from akhbar.preprocessing import split_words
    from akhbar.settings import PackageSettings

    tokenizer = AutoTokenizer.from_pretrained(package)
    texts = bench.long_articles(source, count, min_tokens, tokenizer)
    if not texts:
        raise SystemExit(f"error: {source}: no article of {min_tokens}+ sub-tokens")
    preprocessing = PackageSettings.load(package).preprocessing
    normalized = (split_words(t, preprocessing).mapped.text for t in texts)
    return texts, sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in normalized)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("package", type=Path, help="a packaged akhbar NER model")
    p.add_argument("--out", type=Path, required=True, help="results path without suffix")
    p.add_argument("--long", default=str(bench.ANT), help="ANT corpus folder, or a JSONL file of long articles")
    p.add_argument("--articles", type=int, default=12, help="long articles timed (seeded sample)")
    p.add_argument("--min_tokens", type=int, default=512)
    p.add_argument("--rounds", type=int, default=2, help="alternating timed passes; the fastest is kept")
    p.add_argument("--skip_onnx", action="store_true")
    p.add_argument(
        "--int8_per_tensor", action="store_true", help="also time int8 with per-tensor weight scales (ORT's default)"
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    texts, _ = long_sample(args.package, args.long, args.articles, args.min_tokens)
    results = {
        "command": "python bench/speed.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "package": str(args.package),
        "long": args.long,
        "min_tokens": args.min_tokens,
        "rounds": args.rounds,
    }
    loaders = engines(args.package, args.skip_onnx, args.int8_per_tensor)
    bf16 = "akhbar_torch_bf16" in loaders  # the pipeline in bfloat16 too, only where it is native
    results["long_articles"] = alternating(args.package, texts, loaders, args.rounds, bf16)
    results["forward"] = flops.main([str(args.package), "--repeats", "3"])
    results["targets"] = targets(results["long_articles"], results["forward"])
    write_results(args.out, results, render(results))
    print(render(results))
    return results


if __name__ == "__main__":
    main()

"""Entity agreement and F1 of one packaged NER model against the transformers pipeline, without training.

    python bench/agreement.py PACKAGE [--out results.json]

The parts of bench/run.py that need only a package: long-article timing and agreement (akhbar float32 vs
the pipeline, `simple` and `first`, batch 1), and the ANERcorp test F1 of akhbar and both pipelines, read
as the model was trained and joined into long articles (``--long_join``).
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402
from common import conll_sentences  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("package", type=Path, help="packaged NER model folder")
    p.add_argument("--out", type=Path, help="write the figures here as JSON")
    bench.add_evaluation_args(p)
    args = p.parse_args(argv)
    from transformers import AutoTokenizer

    from akhbar.inference import NerTagger

    tokenizer = AutoTokenizer.from_pretrained(args.package)
    long = bench.long_articles(args.long, args.long_articles, args.long_min_tokens, tokenizer)
    _, gold = conll_sentences(args.test)
    engines = {"akhbar_torch_fp32": lambda: NerTagger.from_pretrained(args.package)}
    results = {
        "package": str(args.package),
        "long_articles": bench.inference_speed(args.package, long, engines, pipeline_batch_sizes=(1,)),
        "parity": bench.parity(engines, args.test, gold, args.package),
    }
    if args.long_join:
        results["parity_long"] = bench.parity(engines, args.test, gold, args.package, args.long_join)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    row = results["long_articles"]["akhbar_torch_fp32"]
    print(f"long articles: {results['long_articles']['texts']}")
    for key in ("agreement_with_pipeline", "agreement_with_pipeline_first"):
        print(f"  {key}: {100 * row[key]['agreement']:.1f}%")
    for part in [k for k in ("parity", "parity_long") if k in results]:
        scores = ", ".join(f"{name} {100 * q['strict_f1']:.1f}" for name, q in results[part].items())
        print(f"{part} (strict F1): {scores}")


if __name__ == "__main__":
    main()

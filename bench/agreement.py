"""Entity agreement and F1 of one packaged NER model against the transformers pipeline, without training.

    python bench/agreement.py PACKAGE [--out results.json]

The parts of bench/run.py that need only a package: long-article timing and agreement (akhbar float32 vs
the pipeline, `simple` and `first`, batch 1), and the ANERcorp test F1 of akhbar and both pipelines, read
as the model was trained and joined into long articles (``--long_join``).

``--explain`` also sorts the long-article entities on which akhbar and the `simple` pipeline (``--explain_against
first``: the `first` one) disagree by
where the difference comes from, reading the pipeline's own windows (the tokenizer's overflowing chunks, as
the pipeline makes them) and the tag the model gives every sub-token in them:

- ``window_overlap``: the entity touches a word two of the pipeline's windows read. Both keep the longer of
  two overlapping entities from either window (akhbar's ``merge_entities`` since 2026-12-06; before, akhbar kept,
  word by word, the window in which the word had more context); what still differs there is a window that
  starts inside a word, whose later sub-token the pipeline reads as a word and akhbar does not.
- ``sub_tokens_disagree``: in its window, a word of the entity (or a word next to it) has sub-tokens the
  model tags with different types, or ``O`` and a type. `simple` groups sub-tokens, so it cuts or extends
  the entity inside that word; akhbar reads a word's first sub-token only (the one it was trained on).
- ``begin_inside_word``: a ``B-`` tag on a word's later sub-token starts a new entity inside the word.
- ``other``: none of these (the first sub-tokens' tags differ).

The counts are of entities (either side's), summed over the articles; no text is written.
"""

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402
from common import bfloat16_native, conll_sentences  # noqa: E402


def window_word_tags(package: Path, texts: list[str]) -> list[list[dict[int, list[str]]]]:
    """Per article, per window of the pipeline (its tokenizer call: truncation at the package's length, the
    package's stride, overflowing tokens), each word's sub-token tags (the model's argmax), in order."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from akhbar.preprocessing import split_words
    from akhbar.settings import PackageSettings

    settings = PackageSettings.load(package)
    tokenizer = AutoTokenizer.from_pretrained(package)
    model = AutoModelForTokenClassification.from_pretrained(package, use_safetensors=True).eval()
    id2label = model.config.id2label
    out = []
    for text in tqdm(texts, desc="pipeline windows", unit="article", file=sys.stderr):
        words = split_words(text, settings.preprocessing)
        char_to_word = words.char_to_word()
        enc = tokenizer(
            words.mapped.text,
            truncation=True,
            max_length=settings.max_length,
            stride=settings.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            padding=True,
            return_tensors="pt",
        )
        with torch.inference_mode():
            tags = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.argmax(-1)
        windows = []
        rows = zip(tags.tolist(), enc["offset_mapping"].tolist(), enc["special_tokens_mask"].tolist())
        for row, offsets, special in rows:
            per_word = defaultdict(list)
            for tag, (a, b), is_special in zip(row, offsets, special):
                if is_special or a == b:
                    continue
                # the word of the sub-token's first non-space character, as encode_words assigns it
                c = next((c for c in range(a, b) if char_to_word[c] >= 0), None)
                if c is not None:
                    per_word[char_to_word[c]].append(id2label[tag])
            windows.append(dict(per_word))
        out.append(windows)
    return out


def explain(akhbar: list[set], pipeline: list[set], windows: list[list[dict[int, list[str]]]]) -> dict:
    """Sort the entities of one side only (word spans, as ``run.word_entities`` gives them) by cause; see the
    module's docstring."""

    def kind(tag: str) -> str:
        return tag[2:] if tag != "O" else "O"

    counts = {"akhbar_only": Counter(), "pipeline_only": Counter()}
    for ours, theirs, article in zip(akhbar, pipeline, windows):
        read = Counter(k for window in article for k in window)
        for side, entities in (("akhbar_only", ours - theirs), ("pipeline_only", theirs - ours)):
            for first, last, _ in entities:
                span = range(first, last + 1)
                if any(read[k] > 1 for k in span):
                    cause = "window_overlap"
                else:
                    window = next((w for w in article if first in w), {})
                    near = range(first - 1, last + 2)
                    if any(len({kind(t) for t in window.get(k, [])}) > 1 for k in near):
                        cause = "sub_tokens_disagree"
                    elif any(t.startswith("B-") for k in span for t in window.get(k, [])[1:]):
                        cause = "begin_inside_word"
                    else:
                        cause = "other"
                counts[side][cause] += 1
    return {side: dict(c) for side, c in counts.items()}


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("package", type=Path, help="packaged NER model folder")
    p.add_argument("--out", type=Path, help="write the figures here as JSON")
    p.add_argument("--explain", action="store_true", help="sort the long-article disagreements by cause")
    p.add_argument(
        "--explain_against",
        choices=["simple", "first"],
        default="simple",
        help="the pipeline whose disagreements --explain sorts: aggregation_strategy simple (default) or first",
    )
    bench.add_evaluation_args(p)
    args = p.parse_args(argv)
    from transformers import AutoTokenizer

    from akhbar.inference import NerTagger

    tokenizer = AutoTokenizer.from_pretrained(args.package)
    long = bench.long_articles(args.long, args.long_articles, args.long_min_tokens, tokenizer)
    _, gold = conll_sentences(args.test)
    engines = {"akhbar_torch_fp32": lambda: NerTagger.from_pretrained(args.package, precision="float32")}
    sets: dict = {}
    # Each part takes minutes on a CPU: say which one is running.
    say(f"timing akhbar and the pipeline on {len(long)} long articles ({args.repeats} passes each) ...")
    results = {
        "package": str(args.package),
        "long_articles": bench.inference_speed(
            args.package,
            long,
            engines,
            pipeline_batch_sizes=(1,),
            sets=sets,
            repeats=args.repeats,
            bf16_pipeline=bfloat16_native(),
        ),
    }
    say(f"scoring akhbar and the pipeline on {args.test} ...")
    results["parity"] = bench.parity(engines, args.test, gold, args.package)
    if args.explain:
        say("reading the pipeline's windows to explain the disagreements ...")
        windows = window_word_tags(args.package, long)
        against = {"simple": "pipeline_batch_1", "first": "pipeline_first_batch_1"}[args.explain_against]
        results["disagreements"] = explain(sets["akhbar_torch_fp32"], sets[against], windows)
        results["disagreements_against"] = args.explain_against
    if args.long_join:
        say(f"scoring on the test joined into articles of up to {args.long_join} words ...")
        results["parity_long"] = bench.parity(engines, args.test, gold, args.package, args.long_join)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    row = results["long_articles"]["akhbar_torch_fp32"]
    print(f"long articles: {results['long_articles']['texts']}")
    for key in ("agreement_with_pipeline", "agreement_with_pipeline_first"):
        print(f"  {key}: {100 * row[key]['agreement']:.1f}%")
    for side, causes in results.get("disagreements", {}).items():
        print(f"  {side} (entities): " + ", ".join(f"{cause} {n}" for cause, n in sorted(causes.items())))
    for part in [k for k in ("parity", "parity_long") if k in results]:
        scores = ", ".join(f"{name} {100 * q['strict_f1']:.1f}" for name, q in results[part].items())
        print(f"{part} (strict F1): {scores}")


if __name__ == "__main__":
    main()

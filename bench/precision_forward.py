"""Time one forward pass of a packaged model in float32, under bfloat16 autocast, and with bfloat16 weights.

    python bench/precision_forward.py models/ner-anercorp [--batch 32 --length 256 --repeats 3] [--compile]

The three are timed in alternation (repeats rounds), after one warm-up each, on random token ids with a
full attention mask: what ``NerTagger(precision=...)`` spends in the model, without tokenization or merging.
``--compile`` adds float32 and bfloat16 weights under ``torch.compile`` (inductor, with ``freezing``, which
folds the weights into the graph and lets oneDNN prepack them: its CPU inference setting), and prints the
seconds each took to compile (the warm-up; every new batch shape compiles again).
"""

import argparse
import copy
import time

import torch
from transformers import AutoModelForTokenClassification


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("package", help="packaged NER model folder")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--length", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--compile", action="store_true", help="also time torch.compile'd float32 and bfloat16 weights")
    args = p.parse_args(argv)
    model = AutoModelForTokenClassification.from_pretrained(args.package, use_safetensors=True).eval()
    bf16 = copy.deepcopy(model).to(torch.bfloat16)
    ids = torch.randint(5, model.config.vocab_size, (args.batch, args.length))
    mask = torch.ones_like(ids)

    def autocast():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model(input_ids=ids, attention_mask=mask)

    variants = {
        "float32": lambda: model(input_ids=ids, attention_mask=mask),
        "bfloat16 autocast": autocast,
        "bfloat16 weights": lambda: bf16(input_ids=ids, attention_mask=mask),
    }
    if args.compile:
        import torch._inductor.config as inductor

        inductor.freezing = True
        compiled = {"float32 compiled": torch.compile(model), "bfloat16 compiled": torch.compile(bf16)}
        for name, module in compiled.items():
            variants[name] = lambda module=module: module(input_ids=ids, attention_mask=mask)
    times = {name: [] for name in variants}
    with torch.inference_mode():
        for name, run in variants.items():
            started = time.perf_counter()
            run()
            if name.endswith("compiled"):
                print(f"{name}: compiled in {time.perf_counter() - started:.1f} s")
        for _ in range(args.repeats):
            for name, run in variants.items():
                started = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - started)
    tokens = args.batch * args.length
    for name, seconds in times.items():
        best = min(seconds)
        each = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"{name:18s} best {best:.2f} s ({tokens / best:,.0f} tokens/s); all: {each}")


if __name__ == "__main__":
    main()

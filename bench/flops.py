"""How close a model's forward pass comes to this machine's matrix-product throughput.

    python bench/flops.py PACKAGE [--length 256 --batch 8 --repeats 3 --out bench/results/flops-NAME.json]

Two figures measured in one run, so their ratio holds whatever else the machine is doing:

- the machine's matrix products: the best of ``--repeats`` float32 (and bfloat16) products of two n x n
  matrices (n = 2048), 2 n^3 floating-point operations each, in GFLOP/s (bfloat16 at n / 4 where the CPU
  has no AMX: one 2048^2 product took about a minute on an AVX2-only EPYC);
- the model's forward pass on random token ids (batch x length, full attention mask), in sub-tokens/s, times
  its floating-point operations per sub-token, counted from the config: per layer, the four attention
  projections (8 h^2), the feed-forward pair (4 h i) and the attention itself (4 L h), plus the classifier
  (2 h labels); embedding look-ups are no arithmetic.

The ratio of the two is how much of the machine the forward pass uses (issue: at least 50% in float32).
Every result records the CPU model and torch's capability.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from common import bfloat16_native, machine  # bench/, the script's folder, is on sys.path


def best(run, repeats: int) -> float:
    """The fastest of ``repeats`` calls after one warm-up, in seconds."""
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def matmul_gflops(n: int, dtype: torch.dtype, repeats: int) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    with torch.inference_mode():
        seconds = best(lambda: a @ b, repeats)
    return 2 * n**3 / seconds / 1e9


def flops_per_token(config, length: int, labels: int) -> float:
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return layers * (8 * h * h + 4 * h * i + 4 * length * h) + 2 * h * labels


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("package", help="a packaged model (or any transformers token-classification folder)")
    p.add_argument("--length", type=int, default=256, help="tokens per window")
    p.add_argument("--batch", type=int, default=8, help="windows per forward pass")
    p.add_argument("--n", type=int, default=2048, help="size of the matrix product")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = p.parse_args(argv)
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(args.package, use_safetensors=True).eval()
    ids = torch.randint(5, model.config.vocab_size, (args.batch, args.length))
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        seconds = best(lambda: model(input_ids=ids, attention_mask=mask), args.repeats)
    tokens_per_s = args.batch * args.length / seconds
    per_token = flops_per_token(model.config, args.length, model.config.num_labels)
    bf16_n = args.n if bfloat16_native() else args.n // 4
    results = {
        "machine": machine(),
        "package": str(args.package),
        "batch": args.batch,
        "length": args.length,
        "matmul_n": args.n,
        "matmul_float32_gflops": round(matmul_gflops(args.n, torch.float32, args.repeats), 1),
        "matmul_bfloat16_n": bf16_n,
        "matmul_bfloat16_gflops": round(matmul_gflops(bf16_n, torch.bfloat16, args.repeats), 1),
        "model_gflop_per_token": round(per_token / 1e9, 4),
        "forward_float32_tokens_per_s": round(tokens_per_s, 1),
        "forward_float32_gflops": round(per_token * tokens_per_s / 1e9, 1),
    }
    results["share_of_matmul_float32"] = round(results["forward_float32_gflops"] / results["matmul_float32_gflops"], 3)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()

"""Load test of ``akhbar serve`` on the loopback address: N concurrent clients, requests of 1-5 real articles.

    python bench/serve_load.py --ner models/ner-anercorp --events models/events-x \\
        --ant ../shared/data/antcorpus --clients 8 --requests 60 --duration 120 --out bench/results/serve-load-e5

Reads the articles (the ANT Corpus test split, or ``--texts FILE.jsonl``), draws a seeded plan of requests
(1-5 articles each), times in-process ``Analyzer.predict`` (``NerTagger.predict`` without ``--events``) on all
the plan's texts at once, then starts ``akhbar serve`` on 127.0.0.1 with the same packages and sends the plan
from ``--clients`` concurrent clients until every request is answered or ``--duration`` seconds have passed
(no new request after that; the ones under way finish). Reports throughput, latency percentiles, the ratio to
in-process throughput, whether every request was answered with the in-process results, the server's batching
counters and its memory (RSS) over the run; then stops the server with SIGTERM. Bounded in requests and
time; sends nothing beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from common import machine  # bench/, the script's folder, is on sys.path

ROOT = Path(__file__).resolve().parents[1]


def read_texts(args) -> list[str]:
    if args.texts:
        lines = Path(args.texts).read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["text"] for line in lines if line.strip()]
    from akhbar.articles import read_articles
    from akhbar.corpora import prepare_ant

    with tempfile.TemporaryDirectory() as out:
        prepare_ant(args.ant, out, skip_invalid=True)  # fixed seeded splits; the test split is what we send
        return [a["text"] for a in read_articles(Path(out) / "test.jsonl")[0]]


def plan(texts: list[str], requests: int, seed: int) -> list[list[int]]:
    """``requests`` lists of 1-5 text indices, drawn without replacement (round after round) from ``texts``."""
    rng = random.Random(seed)
    pool: list[int] = []
    out = []
    for _ in range(requests):
        size = rng.randint(1, 5)
        while len(pool) < size:
            refill = list(range(len(texts)))
            rng.shuffle(refill)
            pool += refill
        out.append([pool.pop() for _ in range(size)])
    return out


def without_scores(result: dict) -> dict:
    return {
        "entities": [{k: v for k, v in e.items() if k != "score"} for e in result.get("entities", [])],
        "events": [e["label"] for e in result.get("events") or []],
    }


def in_process(args, texts: list[str]) -> tuple[list[dict], float]:
    """The texts in one in-process call (the best batching there is: the figure the service is held to), and
    its seconds; the models are released on return, before the server loads its own."""
    from akhbar.inference import Analyzer, EventClassifier, NerTagger

    ner = NerTagger.from_pretrained(args.ner, device="cpu", precision=args.precision)
    if args.events:
        events = EventClassifier.from_pretrained(args.events, device="cpu", precision=args.precision)
        predict = Analyzer(ner, events).predict
    else:

        def predict(ts):
            return [{"entities": e} for e in ner.predict(ts)]

    predict(texts[:2])  # warm-up
    start = time.perf_counter()
    expected = predict(texts)
    return expected, time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run_load(base: str, bodies: list[dict], clients: int, duration: float, pid: int) -> dict:
    import httpx

    queue: asyncio.Queue = asyncio.Queue()
    for i, body in enumerate(bodies):
        queue.put_nowait((i, body))
    records: list[dict] = []
    rss: list[tuple[float, int]] = []
    process = psutil.Process(pid)
    start = time.perf_counter()
    done = asyncio.Event()

    async def sample_memory():
        while not done.is_set():
            rss.append((time.perf_counter() - start, process.memory_info().rss))
            await asyncio.sleep(0.5)

    async def client(http):
        while time.perf_counter() - start < duration:
            try:
                i, body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            sent = time.perf_counter()
            response = await http.post("/v1/analyze", json=body)
            records.append(
                {
                    "request": i,
                    "texts": len(body["texts"]),
                    "status": response.status_code,
                    "sent_s": sent - start,
                    "latency_s": time.perf_counter() - sent,
                    "results": response.json().get("results") if response.status_code == 200 else None,
                }
            )

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=600, limits=limits) as http:
        memory = asyncio.create_task(sample_memory())
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - start
        done.set()
        await memory
    # A fresh connection: the pool's idle ones may be closing (uvicorn ends keep-alive connections idle for 5 s).
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        health = (await http.get("/health")).json()
    return {"records": records, "rss": rss, "wall_s": wall, "health": health}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ner", required=True)
    parser.add_argument("--events")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ant", help="the ANT Corpus folder (its test split is sent)")
    source.add_argument("--texts", help="a JSONL file with 'text' per line instead")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=60, help="requests in the plan (at most)")
    parser.add_argument("--duration", type=float, default=120.0, help="no new request after this many seconds")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="send the plan this many times (memory after a later round against the first: warm-up or growth)",
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--precision",
        default="float32",
        help="both sides (default float32: results compared exactly; bfloat16 rounding varies with batches)",
    )
    parser.add_argument("--batch-wait-ms", type=float, default=50.0, help="akhbar serve --batch-wait-ms")
    parser.add_argument("--out", required=True, help="writes OUT.json and OUT.md")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    info = machine()
    texts = read_texts(args)
    requests = plan(texts, args.requests, args.seed)
    bodies = [{"texts": [texts[i] for i in r]} for r in requests]
    flat = [t for body in bodies for t in body["texts"]]
    sent = bodies * args.rounds
    print(f"{len(bodies)} requests, {len(flat)} texts ({sum(map(len, flat)):,} characters)", flush=True)

    expected, in_process_s = in_process(args, flat)
    print(f"in-process: {len(flat) / in_process_s:.2f} texts/s ({in_process_s:.1f} s)", flush=True)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "akhbar.cli", "serve", "--ner", args.ner, "--port", str(port), "--device", "cpu"]
    command += ["--precision", args.precision]
    command += ["--events", args.events] if args.events else []
    command += ["--max-texts", "16", "--timeout", "600", "--batch-wait-ms", str(args.batch_wait_ms)]
    log = Path(args.out).with_suffix(".server.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        import httpx

        deadline = time.time() + 300
        while True:
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit(f"akhbar serve did not start; see {log}")
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        httpx.post(f"{base}/v1/analyze", json={"texts": flat[:1]}, timeout=600)  # warm-up, not counted
        load = asyncio.run(run_load(base, sent, args.clients, args.duration, server.pid))
    finally:
        server.send_signal(signal.SIGTERM)
        exit_code = server.wait(timeout=120)

    records = sorted(load["records"], key=lambda r: r["request"])
    answered = [r for r in records if r["status"] == 200]
    latencies = [r["latency_s"] for r in answered]
    served_texts = sum(r["texts"] for r in answered)
    mismatched = same_but_scores = 0
    for r in answered:
        for got, want in zip(r["results"], expected_for(r["request"] % len(bodies), bodies, expected)):
            if got != want:
                if without_scores(got) == without_scores(want):
                    same_but_scores += 1
                else:
                    mismatched += 1
    rss = load["rss"]
    quarter = max(1, len(rss) // 4)
    first, last = rss[:quarter], rss[-quarter:]
    # RSS when each round's last request was answered (the plan sent again: the same batch shapes again).
    round_ends = []
    for k in range(args.rounds):
        ends = [r["sent_s"] + r["latency_s"] for r in answered if r["request"] // len(bodies) == k]
        if ends:
            at = max(ends)
            round_ends.append(round(min(rss, key=lambda s: abs(s[0] - at))[1] / 2**20, 1))
    health = load["health"]
    per_call = round(health["texts"] / health["model_calls"], 2) if health.get("model_calls") else None
    report = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": info,
        "ner": args.ner,
        "events": args.events,
        "clients": args.clients,
        "batch_wait_ms": args.batch_wait_ms,
        "planned_requests": len(sent),
        "rounds": args.rounds,
        "sent_requests": len(records),
        "answered_200": len(answered),
        "other_statuses": sorted({r["status"] for r in records} - {200}),
        "texts_served": served_texts,
        "results_equal_in_process": served_texts - mismatched - same_but_scores,
        "results_differing_in_scores_only": same_but_scores,
        "results_differing": mismatched,
        "wall_s": round(load["wall_s"], 2),
        "throughput_texts_per_s": round(served_texts / load["wall_s"], 3),
        "throughput_requests_per_s": round(len(answered) / load["wall_s"], 3),
        "in_process_texts_per_s": round(len(flat) / in_process_s, 3),
        "ratio_to_in_process": round((served_texts / load["wall_s"]) / (len(flat) / in_process_s), 3),
        "latency_s": {
            "p50": round(percentile(latencies, 50), 3),
            "p95": round(percentile(latencies, 95), 3),
            "p99": round(percentile(latencies, 99), 3),
            "max": round(max(latencies), 3),
        },
        "server_batching": {
            "model_calls": health.get("model_calls"),
            "texts_per_model_call": per_call,
            "requests": health.get("requests"),
        },
        "server_rss_mib": {
            "first_quarter_mean": round(statistics.mean(b for _, b in first) / 2**20, 1),
            "last_quarter_mean": round(statistics.mean(b for _, b in last) / 2**20, 1),
            "max": round(max(b for _, b in rss) / 2**20, 1),
            "at_end_of_each_round": round_ends,
            "samples": len(rss),
            "trace_every_5_s": [round(b / 2**20, 1) for _, b in rss[::10]],
        },
        "server_exit_code_after_sigterm": exit_code,
    }
    Path(args.out).with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    Path(args.out).with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))


def expected_for(request: int, bodies: list[dict], expected: list[dict]) -> list[dict]:
    start = sum(len(b["texts"]) for b in bodies[:request])
    return expected[start : start + len(bodies[request]["texts"])]


def markdown(r: dict) -> str:
    m, lat, mem, calls = r["machine"], r["latency_s"], r["server_rss_mib"], r["server_batching"]
    lost = r["sent_requests"] - r["answered_200"]
    equal = f"{r['results_equal_in_process']} ({r['results_differing_in_scores_only']}; {r['results_differing']})"
    memory = f"{mem['first_quarter_mean']} / {mem['last_quarter_mean']} / {mem['max']} MiB"
    rounds = " / ".join(map(str, mem["at_end_of_each_round"]))
    return f"""# akhbar serve under load

`{r["command"]}`

Machine: {m["cpu"]} ({m["cpu_capability"]}), {m["cores"]} cores, torch {m["torch"]} with {m["torch_threads"]} threads;
load average at start {m["load_average_at_start"]:.2f}.

| figure | value |
|---|---|
| clients | {r["clients"]} |
| requests sent / answered 200 / lost | {r["sent_requests"]} / {r["answered_200"]} / {lost} |
| texts served | {r["texts_served"]} |
| results equal to in-process (differing in scores only; otherwise) | {equal} |
| throughput | {r["throughput_texts_per_s"]} texts/s, {r["throughput_requests_per_s"]} requests/s |
| in-process `predict` on the same texts | {r["in_process_texts_per_s"]} texts/s |
| ratio to in-process | {r["ratio_to_in_process"]} |
| latency p50 / p95 / p99 / max | {lat["p50"]} / {lat["p95"]} / {lat["p99"]} / {lat["max"]} s |
| model calls, texts per call | {calls["model_calls"]}, {calls["texts_per_model_call"]} |
| server RSS: first quarter / last quarter / max | {memory} |
| server RSS at the end of each of the {r["rounds"]} round(s) of the plan | {rounds} MiB |
| server exit code after SIGTERM | {r["server_exit_code_after_sigterm"]} |
"""


if __name__ == "__main__":
    main()

"""akhbar against its peers, SpanMarker and Flair, at the same wall-clock training budget (``run.py --peers``).

    python bench/run.py --model ENC --out bench/results/peers --peers --budget_s 1200 --seeds 42 43

Every system starts from the same encoder folder, trains on the same ANERcorp sentences for the same
wall-clock budget per seed and is scored by akhbar's scorer on the same test words (one CoNLL sentence at a
time, strict IOB2 and lenient seqeval, per type: ``run.quality``):

- akhbar: ``train.py --config configs/ner-anercorp.yaml`` on all of train (no validation held out), through
  bench/budget_train.py: its linear schedule laid over the wall-clock budget and a stop at the first step
  after it;
- SpanMarker and Flair: each in its own virtual environment (bench/peers/envs.py), run by its runner
  (bench/peers/*_runner.py) with the fine-tuning recipe its documentation gives, under the same budget
  mechanics (peer_common.WallClockSchedule). They read the sentences akhbar reads as one article
  (``join_sentences`` of its config) as one document, their document context.

Long-article inference: the ANT articles of at least ``--long_min_tokens`` sub-tokens, each system through its
own predict API (akhbar's ``NerTagger`` on the article text; the peers on the article split into sentences
with akhbar's sentence splitter and into words at whitespace and punctuation, one document per article), timed
after a warm-up on two articles. Throughput in articles/s and in sub-tokens/s, the sub-tokens counted the same
way for every system (the encoder's tokenizer over those words).
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import time
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "peers"))
import envs  # noqa: E402
from common import bfloat16_native, machine, spans_to_tags  # noqa: E402

PEERS = ("spanmarker", "flair")
logger = logging.getLogger("bench.peers")


# ------------------------------------------------------------------------------------------------ data


def sentence_records(path: str, join: int) -> list[dict]:
    """The valid CoNLL sentences of ``path`` in order, each with the article (of up to ``join`` words) it is
    read in as ``document_id`` and its place in it as ``sentence_id``; the same sentences, in the same order,
    as ``common.conll_sentences`` (the gold the bench scores against)."""
    from akhbar.articles import read_articles

    articles, _ = read_articles(path, skip_invalid=True, join_sentences=join)
    records = []
    for doc, article in enumerate(articles):
        start = 0
        for k, line in enumerate(article["text"].split("\n")):
            end = start + len(line)
            inside = [
                {"start": e["start"] - start, "end": e["end"] - start, "label": e["label"]}
                for e in article["entities"]
                if start <= e["start"] and e["end"] <= end
            ]
            records.append(
                {"document_id": doc, "sentence_id": k, "tokens": line.split(" "), "tags": spans_to_tags(line, inside)}
            )
            start = end + 1
    return records


def words(text: str) -> list[str]:
    """Whitespace tokens with leading and trailing punctuation split off, one mark a word (as ANERcorp writes
    them); tashkeel and other marks stay with their word."""
    out = []
    for token in text.split():
        head, tail = [], []
        while token and unicodedata.category(token[0]).startswith("P"):
            head.append(token[0])
            token = token[1:]
        while token and unicodedata.category(token[-1]).startswith("P"):
            tail.insert(0, token[-1])
            token = token[:-1]
        out += head + ([token] if token else []) + tail
    return out


def long_records(texts: list[str]) -> list[dict]:
    """Long articles as sentence records for the peers: one document per article."""
    from akhbar.sentences import sentence_spans

    records = []
    for doc, text in enumerate(texts):
        sentences = [words(text[a:b]) for a, b in sentence_spans(text)]
        records += [
            {"document_id": doc, "sentence_id": k, "tokens": s} for k, s in enumerate(w for w in sentences if w)
        ]
    return records


def first_sentences(path: str, count: int, dest: Path) -> str:
    """The first ``count`` valid sentences of a CoNLL file as a CoNLL file of their own (short smoke runs)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    records = sentence_records(path, 0)[:count]
    lines = [line for r in records for line in [*map(" ".join, zip(r["tokens"], r["tags"])), ""]]
    dest.write_text("\n".join(lines), encoding="utf-8")
    return str(dest)


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def write_data(folder: Path, train: str, test: str, join: int, long_texts: list[str]) -> dict:
    """The peers' data folder (format: bench/peers/peer_common.py); returns its counts."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = {"train": sentence_records(train, join), "test": sentence_records(test, join)}
    parts["long"] = long_records(long_texts)
    for name, records in parts.items():
        write_jsonl(folder / f"{name}.jsonl", records)
    return {name: len(records) for name, records in parts.items()}


# --------------------------------------------------------------------------------------------- scoring


def peer_predictions(result: dict, gold: list[list[str]]) -> list[list[str]]:
    """A peer's predicted tags, checked against the gold sentences (one tag per word, same order).

    Raises:
        ValueError: the predictions do not line up with the test words (names the first sentence that does not).
    """
    predictions = result["predictions"]
    if len(predictions) != len(gold):
        raise ValueError(f"{result.get('peer')}: {len(predictions)} predicted sentences for {len(gold)} test sentences")
    for i, (g, p) in enumerate(zip(gold, predictions)):
        if len(g) != len(p):
            raise ValueError(f"{result.get('peer')}: test sentence {i} has {len(g)} words but {len(p)} predicted tags")
        bad = [t for t in p if t != "O" and not (t[:2] in ("B-", "I-") and len(t) > 2)]
        if bad:
            raise ValueError(f"{result.get('peer')}: test sentence {i} has tags that are not IOB2: {bad[:3]}")
    return predictions


# -------------------------------------------------------------------------------------------- the runs


def peer_budget(args) -> float:
    """The peers' training budget: ``--peer_budget_s``, else akhbar's ``--budget_s``."""
    return args.budget_s if getattr(args, "peer_budget_s", None) is None else args.peer_budget_s


def peer_folder(work: Path, peer: str, seed: int, args) -> Path:
    """A peer's run folder; one trained at another budget than akhbar's is kept apart (and reused) by it."""
    if peer_budget(args) == args.budget_s:
        return work / f"{peer}-s{seed}"
    return work / f"{peer}-budget{peer_budget(args):g}-s{seed}"


def run_peer(args, peer: str, python: Path, data: Path, seed: int, folder: Path) -> dict:
    """One peer, one seed, in its environment under bench/measure.py; reused when finished."""
    from run import measured

    done = folder / "result.json"
    if not (done.is_file() and (folder / "measure.json").is_file() and not args.fresh):
        command = [
            str(python),
            str(HERE / "peers" / f"{peer}_runner.py"),
            "--model",
            args.model,
            "--data",
            str(data),
            "--out",
            str(folder),
            "--budget_s",
            str(peer_budget(args)),
            "--seed",
            str(seed),
            *getattr(args, f"{peer}_args", []),
        ]
        logger.info("seed %d: %s, %.0f s budget", seed, peer, peer_budget(args))
        measured(command, folder)
    result = json.loads(done.read_text(encoding="utf-8"))
    result["process"] = json.loads((folder / "measure.json").read_text(encoding="utf-8"))
    return result


def akhbar_budget(args, seed: int, work: Path) -> dict:
    """akhbar at the budget (bench/budget_train.py: the same wall-clock schedule and stop as the peers)."""
    from run import train_akhbar

    logger.info("seed %d: akhbar, %.0f s budget", seed, args.budget_s)
    folder = work / f"akhbar-budget{args.budget_s:g}-s{seed}"
    result = train_akhbar(args, seed, 1.0, folder, budget_s=args.budget_s)
    return {**result, "budget_s": args.budget_s, "package": str(folder / "model")}


def akhbar_long(package: Path, texts: list[str], sub_tokens: int) -> dict:
    """NerTagger on the long articles, timed as the peers time themselves: float32, and bfloat16 only where
    ``precision="auto"`` would run it (``common.bfloat16_native``)."""
    from akhbar.inference import NerTagger

    out = {}
    for precision in ("float32", "bfloat16") if bfloat16_native() else ("float32",):
        tagger = NerTagger.from_pretrained(package, precision=precision)
        tagger.predict(texts[:2])
        started = time.perf_counter()
        tagger.predict(texts)
        seconds = time.perf_counter() - started
        out[precision] = {
            "articles": len(texts),
            "sub_tokens": sub_tokens,
            "seconds": round(seconds, 2),
            "articles_per_s": len(texts) / seconds,
            "sub_tokens_per_s": sub_tokens / seconds,
        }
    return out


def main(args) -> dict:
    """The peer benchmark (``run.py --peers``): writes OUT.json and OUT.md, returns the results."""
    from run import conll_sentences, long_articles, quality, spread
    from transformers import AutoTokenizer

    work = Path(args.work)
    if args.test_sentences:
        args.test = first_sentences(args.test, args.test_sentences, work / "peer-data" / "test-head.txt")
    _, gold = conll_sentences(args.test)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    join = int(dict(a.partition("=")[::2] for a in args.akhbar_set).get("join_sentences", config_join(args.config)))
    long = long_articles(args.long, args.long_articles, args.long_min_tokens, tokenizer)
    data = work / "peer-data"
    documents = join if args.peer_documents is None else args.peer_documents  # the peers' context, own option
    counts = write_data(data, args.train, args.test, documents, long)
    long_tokens = sub_tokens(tokenizer, data / "long.jsonl")
    train_tokens = sub_tokens(tokenizer, data / "train.jsonl")
    pythons = {peer: envs.ensure(peer) for peer in args.peer_names}
    started_load = machine()
    runs = []
    for seed in args.seeds:
        ours = akhbar_budget(args, seed, work)
        ours["long_articles"] = akhbar_long(Path(ours["package"]), long, long_tokens)
        runs.append(("akhbar", seed, ours))
        for peer in args.peer_names:
            runs.append(
                (peer, seed, run_peer(args, peer, pythons[peer], data, seed, peer_folder(work, peer, seed, args)))
            )
    results = {
        "kind": "peers",
        "model": args.model,
        "command": "python bench/run.py " + " ".join(args.argv),
        "machine": started_load,
        "budget_s": args.budget_s,
        "peer_budget_s": peer_budget(args),
        "join_sentences": join,
        "peer_documents": documents,
        "data": counts,
        "test_sentences": len(gold),
        "test_file": args.test,
        "long_articles": {"articles": len(long), "sub_tokens": long_tokens, "min_tokens": args.long_min_tokens},
        "train_sub_tokens_per_epoch": train_tokens,
        "types": sorted({t[2:] for s in gold for t in s if t != "O"}),
        "runs": [],
    }
    for name, seed, r in runs:
        predictions = r["predictions"] if name == "akhbar" else peer_predictions(r, gold)
        row = {k: v for k, v in r.items() if k != "predictions"}
        row.update(name=name, seed=seed, quality=quality(gold, predictions))
        # Every system's figures over the same count of sub-tokens (a system's own count is kept beside it).
        row["own_train_tokens_per_s"] = row.get("train_tokens_per_s")
        row["train_tokens_per_s"] = train_tokens * row["epochs"] / row["train_s"]
        for speed in [row["long_articles"]] if name != "akhbar" else row["long_articles"].values():
            if speed:
                speed["sub_tokens"], speed["sub_tokens_per_s"] = long_tokens, long_tokens / speed["seconds"]
        results["runs"].append(row)
        logger.info("%s seed %d: strict F1 %.4f (%.0f s)", name, seed, row["quality"]["strict_f1"], row["train_s"])
    names = dict.fromkeys(name for name, _, _ in runs)
    results["spread"] = {
        n: spread([r["quality"]["strict_f1"] for r in results["runs"] if r["name"] == n]) for n in names
    }
    results["targets"] = targets(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(render(results), encoding="utf-8")
    print(render(results))
    if "speed" not in args.skip:  # the speed table of this CPU kind, on the first seed's akhbar package
        import speed

        package = next(r["package"] for r in results["runs"] if r["name"] == "akhbar")
        command = [package, "--out", str(out.with_name(out.name + "-speed")), "--long", args.long]
        command += ["--articles", str(min(args.long_articles, 12)), "--min_tokens", str(args.long_min_tokens)]
        results["speed"] = speed.main(command + (["--skip_onnx"] if "onnx" in args.skip else []))
    return results


def sub_tokens(tokenizer, path: Path) -> int:
    """Sub-tokens of the words of a data file (no special tokens), the one count every system's speed uses."""
    records = map(json.loads, path.read_text(encoding="utf-8").splitlines())
    return sum(len(ids) for r in records for ids in tokenizer(r["tokens"], add_special_tokens=False)["input_ids"])


def config_join(config: str) -> int:
    import yaml

    return int(yaml.safe_load(Path(config).read_text(encoding="utf-8")).get("join_sentences", 0))


# ------------------------------------------------------------------------------------------- reporting


def long_speed(row: dict) -> dict:
    """The row's long-article figures: a peer's own, akhbar's fastest precision."""
    speed = row.get("long_articles")
    if speed and "float32" in speed:
        best = max(speed, key=lambda k: speed[k]["articles_per_s"])
        return {**speed[best], "engine": best}
    return speed or {}


def mean_of(results: dict, name: str, get) -> float | None:
    values = [get(r) for r in results["runs"] if r["name"] == name]
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def targets(results: dict) -> list[dict]:
    names = list(dict.fromkeys(r["name"] for r in results["runs"]))
    peers = [n for n in names if n != "akhbar"]
    if "akhbar" not in names or not peers:
        return []

    def f1(name):
        return mean_of(results, name, lambda r: r["quality"]["strict_f1"])

    def speed(name):
        return mean_of(results, name, lambda r: long_speed(r).get("articles_per_s"))

    best = max(peers, key=f1)
    ours = f1("akhbar")
    budget, theirs = budgets_of(results)
    # Peers given more time than akhbar and still 1 point behind meet the same-budget target a fortiori
    # (akhbar at their budget is not run); peers given less time cannot show it.
    budgets = "" if theirs == budget else f"; akhbar trained {budget:g} s, the peers {theirs:g} s"
    out = [
        {
            "target": "strict F1 >= best peer + 1.0 point at the same budget",
            "measured": f"akhbar {100 * ours:.1f} vs {best} {100 * f1(best):.1f} "
            f"({100 * (ours - f1(best)):+.1f} points, mean over seeds{budgets})",
            "met": ours - f1(best) >= 0.01 and theirs >= budget,
        }
    ]
    fastest = max(peers, key=lambda n: speed(n) or 0.0)
    if speed("akhbar") and speed(fastest):
        ratio = speed("akhbar") / speed(fastest)
        out.append(
            {
                "target": "long-article throughput >= 2x the best peer's at equal or better F1",
                "measured": f"akhbar {speed('akhbar'):.2f} vs {fastest} {speed(fastest):.2f} articles/s "
                f"({ratio:.2f}x); strict F1 {100 * ours:.1f} vs {100 * f1(fastest):.1f}",
                "met": ratio >= 2 and ours >= f1(fastest),
            }
        )
    return out


def context(words: int, unit: str = "articles") -> str:
    """How sentences are read: ``join_sentences`` / ``--peer_documents`` 0 is one sentence at a time."""
    return f"{unit} of up to {words} words" if words else "one sentence at a time"


def budgets_of(results: dict) -> tuple[float, float]:
    """akhbar's training budget and the peers' (``--peer_budget_s``; results of older runs have akhbar's only)."""
    budget = results.get("budget_s", 0.0)
    return budget, results.get("peer_budget_s", budget)


def budget_title(results: dict) -> str:
    budget, theirs = budgets_of(results)
    if theirs == budget:
        return f"{budget:g} s training budget"
    return f"training budget akhbar {budget:g} s, peers {theirs:g} s"


def render(results: dict) -> str:
    from run import pct

    m = results["machine"]
    lines = [
        f"# akhbar vs SpanMarker and Flair — {results['model']}, {budget_title(results)}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores ({m['torch_threads']} torch threads), CPU capability "
        f"{m['cpu_capability']}, load average {m['load_average_at_start']:.1f} at the start; Python {m['python']}, "
        f"torch {m['torch']}.",
        f"Command: `{results['command']}`",
        f"Data: {results['data']['train']} training sentences, {results['test_sentences']} test sentences, "
        f"akhbar reads {context(results['join_sentences'])}, the peers "
        f"{context(results.get('peer_documents', results['join_sentences']), 'documents')} as context; "
        f"long articles: {results['long_articles']['articles']} "
        f"({results['long_articles']['sub_tokens']} sub-tokens).",
        "",
        "## Quality (ANERcorp test, akhbar's scorer)",
        "",
        "| system | seed | train s | optimizer steps | epochs | strict P | strict R | strict F1 | lenient F1 | "
        + " | ".join(results["types"])
        + " |",
        "|---|---|---|---|---|---|---|---|---|" + "---|" * len(results["types"]),
    ]
    for row in results["runs"]:
        q = row["quality"]
        lines.append(
            f"| {row['name']} | {row['seed']} | {row['train_s']:.0f} | {row.get('trained_steps') or ''} | "
            f"{row['epochs']:.3f} | "
            f"{pct(q['strict_precision'])} | {pct(q['strict_recall'])} | **{pct(q['strict_f1'])}** | "
            f"{pct(q['lenient_f1'])} | "
            + " | ".join(pct(q["per_type_strict_f1"].get(t, 0.0)) for t in results["types"])
            + " |"
        )
    lines += [
        "",
        "## Speed and memory",
        "",
        "| system | seed | training sub-tokens/s | peak RSS MiB (training process) | long articles/s | "
        "long sub-tokens/s | long-article engine |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["runs"]:
        speed = long_speed(row)
        peak = row.get("peak_rss_mib_train") or row.get("peak_rss_mib")
        tps = row.get("train_tokens_per_s")
        lines.append(
            f"| {row['name']} | {row['seed']} | {tps:.0f} | {peak:.0f} | {speed.get('articles_per_s', 0):.2f} | "
            f"{speed.get('sub_tokens_per_s', 0):.0f} | {speed.get('engine', 'own predict API')} |"
        )
    if results.get("targets"):
        lines += ["", "## Targets", ""]
        lines += [
            f"- {t['target']}: {t['measured']} — **{'met' if t['met'] else 'missed'}**" for t in results["targets"]
        ]
    return "\n".join(lines) + "\n"

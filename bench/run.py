"""akhbar against the standard recipe on ANERcorp: quality, training speed, inference speed, ONNX, one run.

    python bench/run.py --model ENC --out bench/results/anercorp-e5

Both sides start from the same base encoder (``--model``: a local folder or hub id), train on the same
sentences for the same epochs and seeds on the same machine, and are scored by the same code on the same
test sentences, one CoNLL sentence at a time (strict IOB2 and lenient seqeval, micro and per type).

Per seed it trains, each in its own process (wall time and peak memory are that process's):
1. the standard recipe (``bench/standard_recipe.py``: transformers' run_ner.py recipe, 128-token
   truncation, Trainer defaults), ``--epochs`` epochs;
2. akhbar (``train.py --config configs/ner-anercorp.yaml``, on all of train like the standard recipe:
   no validation held out), the same epochs;
3. akhbar at the standard recipe's wall-clock budget: as many whole epochs as fit in the time the
   standard recipe took, going by run 2's time per epoch.

Then, with the first seed's budget model: inference speed of ``NerTagger`` against
``transformers.pipeline("token-classification", aggregation_strategy="simple", stride=...)`` on the
test sentences and on long articles (ANT corpus), with the entity agreement between the two; and, when
onnxruntime is installed, the ONNX Runtime export (fp32 and int8) with its F1 parity.

Finished runs are kept under ``--work`` and reused when the command is run again (a long benchmark can be
resumed); ``--fresh`` retrains. Results: ``OUT.json`` (everything) and ``OUT.md`` (the tables).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from common import conll_sentences, machine, spans_to_tags  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
ANERCORP = SHARED / "anercorp" / "derived_camel_style_split"
ANT = SHARED / "antcorpus"
logger = logging.getLogger("bench")


def add_text_args(p: argparse.ArgumentParser) -> None:
    """The test file and the long articles the inference part reads (shared with bench/batching.py)."""
    p.add_argument("--test", default=str(ANERCORP / "test.txt"))
    p.add_argument("--long", default=str(ANT), help="ANT corpus folder, or a JSONL file of long articles")
    p.add_argument("--long_articles", type=int, default=100, help="long articles timed (seeded sample)")
    p.add_argument("--long_min_tokens", type=int, default=512, help="an article is long from this many sub-tokens")


def add_evaluation_args(p: argparse.ArgumentParser) -> None:
    """The texts, and how the inference part scores and times them (shared with bench/agreement.py)."""
    add_text_args(p)
    p.add_argument(
        "--long_join",
        type=int,
        default=400,
        help="also score every engine on the test joined into articles of up to this many words (0: don't)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="time every engine and pipeline this many times on the same texts and keep the fastest",
    )


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="akhbar vs the standard recipe: quality and speed, one command.")
    p.add_argument("--model", required=True, help="base encoder: local folder or hub id")
    p.add_argument("--out", required=True, help="results path without extension: writes OUT.json and OUT.md")
    p.add_argument("--work", default="runs/bench", help="run folders (reused when present)")
    p.add_argument("--seeds", type=int, nargs="+", default=[42, 43])
    p.add_argument("--epochs", type=float, default=3.0, help="epochs of the same-epochs comparison")
    p.add_argument("--learning_rate", type=float, default=5e-5, help="standard recipe's learning rate")
    p.add_argument("--batch_size", type=int, default=16, help="standard recipe's batch size")
    p.add_argument(
        "--freeze_embeddings",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="freeze word embeddings on both sides (default: yes, as in the issue's reference)",
    )
    p.add_argument("--config", default=str(ROOT / "configs" / "ner-anercorp.yaml"), help="akhbar's config")
    p.add_argument(
        "--akhbar_set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="extra overrides of akhbar's config (recorded in the results)",
    )
    p.add_argument("--train", default=str(ANERCORP / "train.txt"))
    add_evaluation_args(p)
    p.add_argument("--max_steps", type=int, default=-1, help="smoke runs: cap training steps on every side")
    p.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["budget", "inference", "onnx", "sentences", "parity", "speed"],
        help="parts to leave out: the budget runs, all inference, the ONNX engines, the test-sentence timing, "
        "the F1 parity of engines, --peers' speed table (bench/speed.py)",
    )
    p.add_argument("--fresh", action="store_true", help="retrain even when a finished run folder exists")
    peers = p.add_argument_group("peers", "--peers: akhbar against SpanMarker and Flair instead (bench/peer_bench.py)")
    peers.add_argument("--peers", action="store_true", help="run the peer benchmark")
    peers.add_argument("--budget_s", type=float, default=1200, help="wall-clock training budget per system and seed")
    peers.add_argument(
        "--peer_budget_s",
        type=float,
        help="the peers' budget when it should differ from akhbar's (default: --budget_s). The F1 target counts "
        "as met only when the peers had at least akhbar's budget: a peer given more time and still behind",
    )
    peers.add_argument("--peer_names", nargs="+", default=["spanmarker", "flair"], choices=["spanmarker", "flair"])
    peers.add_argument(
        "--test_sentences",
        type=int,
        default=0,
        help="score every system on the first N test sentences only (short smoke runs; 0: all of them)",
    )
    peers.add_argument(
        "--peer_documents",
        type=int,
        help="peers' document context: sentences joined into documents of up to this many words (default: akhbar's "
        "join_sentences, so that every system reads the same context; 0: every sentence on its own)",
    )
    # action="extend": each of --flair_args=--learning_rate=5e-5 --flair_args=--batch_size=8 adds (a plain repeat
    # replaced the earlier ones, and a value starting with -- needs the = form).
    for peer in ("spanmarker", "flair"):
        peers.add_argument(
            f"--{peer}_args",
            nargs="*",
            action="extend",
            default=[],
            help=f"extra arguments of {peer}_runner.py, each as --{peer}_args=--option=value (repeatable)",
        )
    args = p.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    if args.budget_s <= 0:
        p.error(f"--budget_s must be > 0, got {args.budget_s:g}")
    if args.peer_budget_s is not None and args.peer_budget_s <= 0:
        p.error(f"--peer_budget_s must be > 0, got {args.peer_budget_s:g}")
    return args


# ----------------------------------------------------------------------------------------------- training


def measured(command: list[str], folder: Path) -> dict:
    """Run ``command`` in its own process under bench/measure.py; its output goes to ``folder/log.txt``."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "log.txt"
    with log.open("w", encoding="utf-8") as f:
        code = subprocess.call(
            [sys.executable, str(HERE / "measure.py"), str(folder / "measure.json"), "--", *command],
            stdout=f,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    if code != 0:
        tail = "".join(log.read_text(encoding="utf-8").splitlines(keepends=True)[-15:])
        raise RuntimeError(f"{' '.join(command[:3])} ... failed (exit {code}); see {log}:\n{tail}")
    return json.loads((folder / "measure.json").read_text(encoding="utf-8"))


def train_standard(args, seed: int, folder: Path) -> dict:
    done = folder / "result.json"
    if done.is_file() and (folder / "measure.json").is_file() and not args.fresh:
        measure = json.loads((folder / "measure.json").read_text(encoding="utf-8"))
        if measure["exit_code"] == 0:  # trained; the scoring below may not have run yet
            return standard_result(folder, measure)
    command = [
        sys.executable,
        str(HERE / "standard_recipe.py"),
        "--model",
        args.model,
        "--train",
        args.train,
        "--test",
        args.test,
        "--out",
        str(folder),
        "--seed",
        str(seed),
        "--epochs",
        str(args.epochs),
        "--learning_rate",
        str(args.learning_rate),
        "--batch_size",
        str(args.batch_size),
        "--max_steps",
        str(args.max_steps),
    ] + (["--freeze_embeddings"] if args.freeze_embeddings else [])
    return standard_result(folder, measured(command, folder))


def standard_result(folder: Path, measure: dict) -> dict:
    result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    result["peak_rss_mib"] = measure["peak_rss_mib"]
    result["process_wall_s"] = measure["wall_s"]
    result["predictions"] = json.loads((folder / "predictions.json").read_text(encoding="utf-8"))
    return result


def akhbar_predictions(package: Path, test: str) -> tuple[list[list[str]], float]:
    """Word tags per test sentence from the packaged model, and the prediction time."""
    from akhbar.inference import NerTagger

    tagger = NerTagger.from_pretrained(package, precision="float32")
    started = time.perf_counter()
    predictions = sentence_predictions(tagger, test)
    return predictions, time.perf_counter() - started


def train_akhbar(args, seed: int, epochs: float, folder: Path, budget_s: float | None = None) -> dict:
    """akhbar's train.py in its own process, packaged under ``folder/model`` and scored on the test sentences.

    ``budget_s``: train for that many wall-clock seconds instead (bench/budget_train.py; ``epochs`` and
    ``--max_steps`` no longer end training).
    """
    done = folder / "result.json"
    if done.is_file() and not args.fresh:
        return json.loads(done.read_text(encoding="utf-8"))
    overrides = {
        "model_name_or_path": args.model,
        "seed": seed,
        "num_train_epochs": epochs,
        "train_file": args.train,
        "test_file": args.test,
        "validation_split": 0,
        "output_dir": folder / "run",
        "package_dir": folder,
        "model_name": "model",
        "overwrite_output_dir": "true",
        "save_strategy": "no",
        "eval_strategy": "no",
        "load_best_model_at_end": "false",
        "disable_tqdm": "true",
        "freeze_embeddings": str(args.freeze_embeddings).lower(),
        "max_steps": args.max_steps if budget_s is None else 10**9,
    }
    for item in args.akhbar_set:
        key, _, value = item.partition("=")
        overrides[key] = value
    command = [sys.executable, "train.py", "--config", args.config]
    if budget_s is not None:
        command[1:2] = [str(HERE / "budget_train.py"), str(budget_s)]
    for key, value in overrides.items():
        command += [f"--{key}", str(value)]
    finished = folder / "measure.json"
    reusable = finished.is_file() and json.loads(finished.read_text(encoding="utf-8"))["exit_code"] == 0
    if reusable and (folder / "model" / "manifest.json").is_file() and not args.fresh:
        measure = json.loads(finished.read_text(encoding="utf-8"))  # trained and packaged; only scoring was left
    else:
        measure = measured(command, folder)
    run = json.loads((folder / "run" / "run_config.json").read_text(encoding="utf-8"))
    predictions, predict_s = akhbar_predictions(folder / "model", args.test)
    result = {
        "side": "akhbar",
        "seed": seed,
        "epochs": run.get("train_epochs", epochs),
        "config": args.config,
        "overrides": {k: str(v) for k, v in overrides.items()},
        "hyperparameters": run["hyperparameters"],
        "train_s": run["train_runtime_s"],
        "trained_steps": run.get("trained_steps"),
        "train_tokens_per_epoch": run.get("train_tokens_per_epoch"),
        "train_tokens_per_s": run.get("train_tokens_per_s"),
        "padding_share": run.get("train_padding_share"),
        "train_windows": run.get("train_windows"),
        "predict_s": round(predict_s, 1),
        "peak_rss_mib": measure["peak_rss_mib"],
        "process_wall_s": measure["wall_s"],
        "predictions": predictions,
    }
    done.write_text(json.dumps(result, ensure_ascii=False) + "\n", encoding="utf-8")
    return result


# ------------------------------------------------------------------------------------------------ scoring


def quality(gold: list[list[str]], predictions: list[list[str]]) -> dict:
    from akhbar.metrics import ner_scores

    if len(gold) != len(predictions) or any(len(g) != len(p) for g, p in zip(gold, predictions)):
        raise ValueError("predictions do not line up with the test sentences")
    scores = ner_scores(gold, predictions)
    strict, lenient = scores["strict"], scores["lenient"]
    return {
        "strict_f1": strict["micro"]["f1"],
        "strict_precision": strict["micro"]["precision"],
        "strict_recall": strict["micro"]["recall"],
        "strict_macro_f1": strict["macro"]["f1"],
        "lenient_f1": lenient["micro"]["f1"],
        "per_type_strict_f1": {k: v["f1"] for k, v in strict["per_type"].items()},
        "entities": strict["micro"]["support"],
    }


def spread(values: list[float]) -> dict:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


# ---------------------------------------------------------------------------------------------- inference


def long_articles(source: str, count: int, min_tokens: int, tokenizer, seed: int = 13) -> list[str]:
    """``count`` articles of at least ``min_tokens`` sub-tokens: ANT test split (converted on the fly) or a
    JSONL file of articles."""
    import tempfile

    from akhbar.articles import read_articles

    path = Path(source)
    if path.is_dir():
        from akhbar.corpora import prepare_ant

        with tempfile.TemporaryDirectory() as tmp:
            prepare_ant(path, tmp, skip_invalid=True)
            articles, _ = read_articles(Path(tmp) / "test.jsonl")
    else:
        articles, _ = read_articles(path)
    texts = [a["text"] for a in articles]
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    long = [t for t, n in zip(texts, lengths) if n >= min_tokens]
    random.Random(seed).shuffle(long)
    return long[:count]


def word_entities(words, entities: list[dict]) -> set[tuple[int, int, str]]:
    """Entities as ``(first word, last word, type)`` over the model's words (both sides snap the same way)."""
    spans = words.original_spans
    out = set()
    for e in entities:
        inside = [i for i, (a, b) in enumerate(spans) if a < e["end"] and e["start"] < b]
        if inside:
            out.add((inside[0], inside[-1], e["label"]))
    return out


def agreement(a: list[set], b: list[set]) -> dict:
    both = sum(len(x & y) for x, y in zip(a, b))
    total_a, total_b = sum(map(len, a)), sum(map(len, b))
    return {
        "entities_akhbar": total_a,
        "entities_pipeline": total_b,
        "matching": both,
        "agreement": 2 * both / (total_a + total_b) if total_a + total_b else 1.0,
    }


def time_call(fn, repeats: int = 1):
    best, out = math.inf, None
    for _ in range(repeats):
        started = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - started)
    return out, best


def timed(seconds: float, texts: int, tokens: int) -> dict:
    return {"seconds": round(seconds, 2), "articles_per_s": texts / seconds, "sub_tokens_per_s": tokens / seconds}


class PipelineTagger:
    """``transformers.pipeline("token-classification")`` over a package, with NerTagger's ``predict``: it reads
    the text akhbar's preprocessing produced (the model was trained on it) in windows of the package's length
    and stride, and its character offsets are mapped back to the original text."""

    def __init__(self, package: Path, aggregation: str = "simple", batch_size: int = 1, dtype: str = "float32"):
        from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

        from akhbar.settings import PackageSettings

        self.settings = PackageSettings.load(package)
        tokenizer = AutoTokenizer.from_pretrained(package)
        tokenizer.model_max_length = self.settings.max_length
        model = AutoModelForTokenClassification.from_pretrained(
            package, use_safetensors=True, dtype=getattr(torch, dtype)
        ).eval()
        self.pipe = pipeline(
            "token-classification",
            model=model,
            tokenizer=tokenizer,
            aggregation_strategy=aggregation,
            stride=self.settings.stride,
            device=-1,
        )
        self.batch_size = batch_size

    def predict(self, texts: list[str]) -> list[list[dict]]:
        from akhbar.preprocessing import split_words

        words = [split_words(t, self.settings.preprocessing) for t in texts]
        out = self.pipe([w.mapped.text for w in words], batch_size=self.batch_size)
        results = []
        for w, found in zip(words, out):
            spans = [w.mapped.original_span(int(e["start"]), int(e["end"])) for e in found]
            results.append([{"start": a, "end": b, "label": e["entity_group"]} for (a, b), e in zip(spans, found)])
        return results


def inference_speed(
    package: Path,
    texts: list[str],
    engines: dict,
    pipeline_batch_sizes=(1, 32),
    sets: dict | None = None,
    repeats: int = 1,
    bf16_pipeline: bool = True,
) -> dict:
    """akhbar's engines against the transformers pipeline on ``texts`` (same weights, same windows).

    ``engines``: name -> loader of a NerTagger; the first is the reference (PyTorch float32). Every engine's
    entities are compared with the pipeline's (batch 1, its default) and with the reference's, after
    snapping both to the model's words. ``sets``, when given, receives those word-level entities: engine or
    pipeline name -> one set per text. Each is timed ``repeats`` times after a warm-up on two texts, and the
    fastest pass is kept (the first pass over new batch shapes also pays one-time kernel set-up, which
    bfloat16 feels most). ``bf16_pipeline``: also time the pipeline with bfloat16 weights (leave it out where
    bfloat16 is not native: ~100x slower there).
    """
    from transformers import AutoTokenizer

    from akhbar.preprocessing import split_words
    from akhbar.settings import PackageSettings

    settings = PackageSettings.load(package)
    tokenizer = AutoTokenizer.from_pretrained(package)
    words = [split_words(t, settings.preprocessing) for t in texts]
    normalized = [w.mapped.text for w in words]
    tokens = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in normalized)
    result: dict = {"texts": len(texts), "sub_tokens": tokens}
    pipeline_sets = {}
    # The pipeline as users call it (float32, batch 1 and 32), with "first" aggregation, and with bfloat16
    # weights: the last shows how much of akhbar's bfloat16 speed-up precision alone would give the pipeline.
    pipelines = {f"pipeline_batch_{b}": ("simple", b, "float32") for b in pipeline_batch_sizes}
    pipelines["pipeline_first_batch_1"] = ("first", 1, "float32")
    if bf16_pipeline:
        pipelines["pipeline_bf16_batch_1"] = ("simple", 1, "bfloat16")
    for key, (aggregation, batch_size, dtype) in pipelines.items():
        pipe = PipelineTagger(package, aggregation, batch_size, dtype)
        pipe.predict(texts[:2])  # warm-up
        found, seconds = time_call(lambda p=pipe: p.predict(texts), repeats)
        pipeline_sets[key] = [word_entities(w, e) for w, e in zip(words, found)]
        result[key] = timed(seconds, len(texts), tokens)
        del pipe
    if sets is not None:
        sets.update(pipeline_sets)
    base = f"pipeline_batch_{pipeline_batch_sizes[0]}"
    if bf16_pipeline:
        bf16 = result["pipeline_bf16_batch_1"]
        bf16[f"speedup_vs_{base}"] = result[base]["seconds"] / bf16["seconds"]
        bf16["agreement_with_pipeline"] = agreement(pipeline_sets["pipeline_bf16_batch_1"], pipeline_sets[base])
    reference = None
    for name, loader in engines.items():
        tagger = loader()
        tagger.predict(texts[:2])  # warm-up
        found, seconds = time_call(lambda t=tagger: t.predict(texts), repeats)
        found_sets = [word_entities(w, e) for w, e in zip(words, found)]
        reference = reference or found_sets
        row = timed(seconds, len(texts), tokens)
        for batch_size in pipeline_batch_sizes:
            row[f"speedup_vs_pipeline_batch_{batch_size}"] = result[f"pipeline_batch_{batch_size}"]["seconds"] / seconds
        row["agreement_with_pipeline"] = agreement(found_sets, pipeline_sets[base])
        row["agreement_with_pipeline_first"] = agreement(found_sets, pipeline_sets["pipeline_first_batch_1"])
        row["agreement_with_reference"] = agreement(found_sets, reference)
        if sets is not None:
            sets[name] = found_sets
        row["batch_size"], row["batch_tokens"] = tagger.batch_size, tagger.batch_tokens
        result[name] = row
        del tagger
    return result


def exported_copy(package: Path, suffix: str = "-onnx", per_channel: bool = True) -> Path:
    """A copy of ``package`` beside it (``<package><suffix>``) exported to ONNX float32 and int8
    (``export_onnx(..., per_channel=...)``). Reused only when ``<package><suffix>.json`` beside it (not in it:
    the manifest allows no extra file) says it was made from this package (its manifest's SHA-256) with the
    same ``per_channel``: a copy exported from an earlier training in the same folder, or before int8 weights
    were per channel, is made again."""
    import hashlib
    import shutil

    from akhbar.onnx.export import export_onnx

    copy = package.parent / (package.name + suffix)
    made = {"source_manifest_sha256": hashlib.sha256((package / "manifest.json").read_bytes()).hexdigest(),
            "per_channel": per_channel}  # fmt: skip
    marker = copy.with_name(copy.name + ".json")
    if not (marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) == made
            and (copy / "onnx" / "model.int8.onnx").is_file()):  # fmt: skip
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(package, copy)
        export_onnx(copy, quantize="int8", per_channel=per_channel)
        marker.write_text(json.dumps(made) + "\n", encoding="utf-8")
    return copy


def engines(package: Path, skip_onnx: bool) -> dict:
    """NerTagger loaders: PyTorch float32 (the reference), PyTorch with bfloat16 weights, and, when onnxruntime is
    installed, the ONNX Runtime export of a copy of the package (float32 and int8)."""
    from akhbar.inference import NerTagger

    out = {
        "akhbar_torch_fp32": lambda: NerTagger.from_pretrained(package, precision="float32"),
        "akhbar_torch_bf16": lambda: NerTagger.from_pretrained(package, precision="bfloat16"),
    }
    if skip_onnx:
        return out
    try:
        import onnxruntime  # noqa: F401

        from akhbar.onnx.export import export_onnx  # noqa: F401  (its imports are what is checked here)
    except ImportError as err:
        logger.warning("ONNX part skipped: %s", err)
        return out
    copy = exported_copy(package)
    out["akhbar_onnx_fp32"] = lambda: NerTagger.from_pretrained(copy, backend="onnx", onnx_file="model.onnx")
    out["akhbar_onnx_int8"] = lambda: NerTagger.from_pretrained(copy, backend="onnx", onnx_file="model.int8.onnx")
    return out


def sentence_predictions(tagger, test: str, join: int | None = None) -> list[list[str]]:
    """Word tags per test sentence, the test file read as the model was trained (sentences joined), or with
    sentences joined into articles of up to ``join`` words."""
    from akhbar.articles import read_articles

    join = tagger.settings.join_sentences if join is None else join
    articles, _ = read_articles(test, skip_invalid=True, join_sentences=join)
    found = tagger.predict([a["text"] for a in articles])
    predictions = []
    for article, ents in zip(articles, found):
        start = 0
        for line in article["text"].split("\n"):
            end = start + len(line)
            inside = [
                {"start": max(e["start"], start) - start, "end": min(e["end"], end) - start, "label": e["label"]}
                for e in ents
                if e["start"] < end and start < e["end"]
            ]
            predictions.append(spans_to_tags(line, inside))
            start = end + 1
    return predictions


def parity(engines: dict, test: str, gold: list[list[str]], package: Path, join: int | None = None) -> dict:
    """Test scores of every engine and of the pipeline (both aggregations), scored like the training runs, and
    the difference to the first engine. ``join``: read the test as articles of up to that many words (long
    articles, several windows each, with gold labels) instead of as the model was trained."""
    out, first = {}, None
    pipelines = {f"pipeline_{a}": (lambda a=a: PipelineTagger(package, a, batch_size=32)) for a in ("simple", "first")}
    for name, loader in {**engines, **pipelines}.items():
        q = quality(gold, sentence_predictions(loader(), test, join))
        first = first or q
        out[name] = {**q, "strict_f1_minus_reference": q["strict_f1"] - first["strict_f1"]}
    return out


# ---------------------------------------------------------------------------------------------- reporting


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def parity_table(title: str, rows: dict) -> list[str]:
    """Markdown lines of one parity section: each engine's strict F1 and its difference to the reference."""
    lines = ["", f"## {title}", "", "| engine | strict F1 | difference to PyTorch float32 |", "|---|---|---|"]
    for name, q in rows.items():
        lines.append(f"| {name} | {pct(q['strict_f1'])} | {100 * q['strict_f1_minus_reference']:+.2f} |")
    return lines


def batching_note(parts: dict) -> str:
    """How akhbar's engines bounded their forward passes, e.g. "2,048 padded tokens (torch_fp32, ...)"."""
    engines: dict[str, list[str]] = {}
    for part in parts.values():
        for name, row in part.items():
            if isinstance(row, dict) and "batch_size" in row:
                bounds = [f"{row['batch_size']} windows"] if row["batch_size"] else []
                bounds += [f"{row['batch_tokens']:,} padded tokens"] if row.get("batch_tokens") else []
                names = engines.setdefault(" and ".join(bounds), [])
                short = name.removeprefix("akhbar_")
                if short not in names:
                    names.append(short)
    if not engines:
        return ""
    return "akhbar's forward passes: at most " + "; ".join(f"{b} ({', '.join(n)})" for b, n in engines.items()) + "."


def render(results: dict) -> str:
    lines = [f"# akhbar vs the standard recipe — {results['model']}", ""]
    m = results["machine"]
    lines += [
        f"Machine: {m['cpu']}, CPU capability {m.get('cpu_capability', '?')}, {m['cores']} cores "
        f"({m['torch_threads']} torch threads), GPU: {m['gpu'] or 'none'}; "
        f"Python {m['python']}, torch {m['torch']}, transformers {m['transformers']}, datasets {m['datasets']}.",
        f"Command: `{results['command']}`",
        "",
        "## NER quality, ANERcorp test (strict IOB2 micro F1 unless noted; per seed)",
        "",
        "| run | seed | epochs | train s | strict P | strict R | strict F1 | lenient F1 | "
        + " | ".join(results["types"])
        + " |",
        "|---|---|---|---|---|---|---|---|" + "---|" * len(results["types"]),
    ]
    for row in results["runs"]:
        q = row["quality"]
        lines.append(
            f"| {row['name']} | {row['seed']} | {row['epochs']:g} | {row['train_s']:.0f} | "
            f"{pct(q['strict_precision'])} | {pct(q['strict_recall'])} | **{pct(q['strict_f1'])}** | "
            f"{pct(q['lenient_f1'])} | "
            + " | ".join(pct(q["per_type_strict_f1"].get(t, 0.0)) for t in results["types"])
            + " |"
        )
    lines += ["", "Spread over seeds (strict micro F1):", ""]
    for name, s in results["spread"].items():
        lines.append(
            f"- {name}: mean {pct(s['mean'])}, std {pct(s['std'])}, min {pct(s['min'])}, max {pct(s['max'])} "
            f"(n={s['n']})"
        )
    lines += [
        "",
        "## Training speed",
        "",
        "| run | seed | train s | non-padding tokens/s | padding share | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["runs"]:
        lines.append(
            f"| {row['name']} | {row['seed']} | {row['train_s']:.0f} | {row['train_tokens_per_s']:.0f} | "
            f"{pct(row['padding_share'])}% | {row['peak_rss_mib']:.0f} |"
        )
    inf = results.get("inference")
    if inf:
        lines += [
            "",
            f"## Inference speed ({inf['model']})",
            "",
            "Entity agreement: F1 between two engines' entities (snapped to the model's words); the pipeline is "
            '`pipeline("token-classification", aggregation_strategy="simple", stride=...)`, batch 1 (its default) '
            'and batch 32, and with `aggregation_strategy="first"` (batch 1). '
            + (f"Times: the fastest of {inf['repeats']} passes over the same texts. " if "repeats" in inf else "")
            + batching_note(inf["parts"]),
            "",
            "| texts | engine | articles/s | sub-tokens/s | vs pipeline batch 1 | vs pipeline batch 32 | "
            "agreement with pipeline | with pipeline (first) | with akhbar fp32 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for key, part in inf["parts"].items():
            for engine, r in part.items():
                if not isinstance(r, dict):
                    continue
                cells = [
                    f"{r[k]:.2f}x" if k in r else ""
                    for k in ("speedup_vs_pipeline_batch_1", "speedup_vs_pipeline_batch_32")
                ]
                cells += [
                    pct(r[k]["agreement"]) + "%" if k in r else ""
                    for k in ("agreement_with_pipeline", "agreement_with_pipeline_first", "agreement_with_reference")
                ]
                lines.append(
                    f"| {key} ({part['texts']} texts, {part['sub_tokens']} sub-tokens) | {engine} | "
                    f"{r['articles_per_s']:.2f} | {r['sub_tokens_per_s']:.0f} | " + " | ".join(cells) + " |"
                )
    if results.get("parity"):
        lines += parity_table("Engine parity (ANERcorp test, strict micro F1, same model)", results["parity"])
    long_rows = results.get("parity_long")
    if long_rows:
        title = (
            "Engine parity on long articles (the ANERcorp test joined into articles of up to "
            f"{long_rows['join_sentences']} words, several windows each; strict micro F1 per sentence)"
        )
        lines += parity_table(title, {k: v for k, v in long_rows.items() if k != "join_sentences"})
    targets = results.get("targets")
    if targets:
        lines += ["", "## Targets", ""]
        lines += [f"- {t['target']}: measured {t['measured']} — **{'met' if t['met'] else 'missed'}**" for t in targets]
    return "\n".join(lines) + "\n"


def targets(results: dict) -> list[dict]:
    out = []
    by = {}
    for row in results["runs"]:
        by.setdefault(row["name"], []).append(row)

    def mean(name, key):
        rows = by.get(name, [])
        return statistics.fmean(r["quality"][key] if key in r["quality"] else r[key] for r in rows) if rows else None

    std = mean("standard", "strict_f1")
    for name in ("akhbar-budget", "akhbar-same-epochs"):
        ours = mean(name, "strict_f1")
        if std is not None and ours is not None:
            time_note = f"; training {mean(name, 'train_s'):.0f} s vs {mean('standard', 'train_s'):.0f} s"
            out.append(
                {
                    "target": f"strict F1 ({name}) >= standard + 3.0 points",
                    "measured": f"{pct(ours)} vs {pct(std)} ({100 * (ours - std):+.1f} points, mean over seeds"
                    f"{time_note})",
                    "met": ours - std >= 0.03,
                }
            )
    tps_std, tps_ours = mean("standard", "train_tokens_per_s"), mean("akhbar-same-epochs", "train_tokens_per_s")
    if tps_std and tps_ours:
        out.append(
            {
                "target": "training tokens/s >= 1.5x standard",
                "measured": f"{tps_ours:.0f} vs {tps_std:.0f} ({tps_ours / tps_std:.2f}x)",
                "met": tps_ours / tps_std >= 1.5,
            }
        )
    long = results.get("inference", {}).get("parts", {}).get("long_articles")
    if long:
        rows = {k: v for k, v in long.items() if k.startswith("akhbar_")}
        measured = "; ".join(
            f"{k}: {v['speedup_vs_pipeline_batch_1']:.2f}x at {pct(v['agreement_with_pipeline']['agreement'])}%"
            for k, v in rows.items()
        )
        met = [k for k, v in rows.items() if v["speedup_vs_pipeline_batch_1"] >= 4
               and v["agreement_with_pipeline"]["agreement"] >= 0.99]  # fmt: skip
        out.append(
            {
                "target": "long-article inference >= 4x pipeline (batch 1, its default) articles/s at >= 99% agreement",
                "measured": measured + (f" (met by {', '.join(met)})" if met else ""),
                "met": bool(met),
            }
        )
    return out


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.peers:
        import peer_bench

        peer_bench.main(args)
        return
    work = Path(args.work)
    gold_tokens, gold = conll_sentences(args.test)
    runs = []
    for seed in args.seeds:
        logger.info("seed %d: akhbar, %g epochs", seed, args.epochs)
        same = train_akhbar(args, seed, args.epochs, work / f"akhbar-e{args.epochs:g}-s{seed}")
        logger.info("seed %d: standard recipe, %g epochs", seed, args.epochs)
        std = train_standard(args, seed, work / f"standard-s{seed}")
        runs += [("standard", seed, std), ("akhbar-same-epochs", seed, same)]
        if "budget" not in args.skip:
            per_epoch = same["train_s"] / same["epochs"]
            # Whole tenths of an epoch (the Trainer takes fractional epochs) that fit in 95% of the budget: the
            # time per epoch varies by a few percent between runs on the same machine.
            # The choice is kept in the work folder, so a resumed benchmark reuses the run it made.
            choice = work / f"budget-s{seed}.json"
            if choice.is_file() and not args.fresh:
                epochs = json.loads(choice.read_text(encoding="utf-8"))["epochs"]
            else:
                epochs = max(args.epochs, math.floor(10 * 0.95 * std["train_s"] / per_epoch) / 10)
                choice.write_text(json.dumps({"epochs": epochs, "budget_s": std["train_s"]}) + "\n", encoding="utf-8")
            logger.info(
                "seed %d: akhbar at the standard recipe's budget (%.0f s; %.0f s per epoch): %g epochs",
                seed,
                std["train_s"],
                per_epoch,
                epochs,
            )
            folder = work / f"akhbar-e{epochs:g}-s{seed}"
            budget = same if epochs == args.epochs else train_akhbar(args, seed, epochs, folder)
            runs.append(("akhbar-budget", seed, {**budget, "budget_s": std["train_s"]}))
    results = {
        "model": args.model,
        "command": "python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "test_sentences": len(gold),
        "types": sorted({t[2:] for s in gold for t in s if t != "O"}),
        "runs": [],
    }
    for name, seed, r in runs:
        row = {k: v for k, v in r.items() if k != "predictions"}
        row.update(name=name, quality=quality(gold, r["predictions"]))
        results["runs"].append(row)
        logger.info("%s seed %d: strict F1 %.4f (%.0f s)", name, seed, row["quality"]["strict_f1"], row["train_s"])
    names = dict.fromkeys(name for name, _, _ in runs)
    results["spread"] = {
        n: spread([r["quality"]["strict_f1"] for r in results["runs"] if r["name"] == n]) for n in names
    }
    if "inference" not in args.skip:
        chosen = "akhbar-budget" if "budget" not in args.skip else "akhbar-same-epochs"
        row = next(r for r in results["runs"] if r["name"] == chosen)
        package = Path(row["overrides"]["package_dir"]) / "model"
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(package)
        loaders = engines(package, "onnx" in args.skip)
        sentences = [" ".join(t) for t in gold_tokens]
        long = long_articles(args.long, args.long_articles, args.long_min_tokens, tokenizer)
        logger.info(
            "inference: %d test sentences, %d long articles; engines %s", len(sentences), len(long), list(loaders)
        )
        results["inference"] = {
            "model": f"{chosen}, seed {row['seed']}",
            "repeats": args.repeats,
            "parts": {},
        }
        parts = results["inference"]["parts"]
        if "sentences" not in args.skip:
            parts["test_sentences"] = inference_speed(package, sentences, loaders, repeats=args.repeats)
        parts["long_articles"] = inference_speed(package, long, loaders, repeats=args.repeats)
        if "parity" not in args.skip:
            results["parity"] = parity(loaders, args.test, gold, package)
            if args.long_join:
                results["parity_long"] = {
                    "join_sentences": args.long_join,
                    **parity(loaders, args.test, gold, package, args.long_join),
                }
    results["targets"] = targets(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(render(results), encoding="utf-8")
    print(render(results))


if __name__ == "__main__":
    main()

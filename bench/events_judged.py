"""GSR event models trained with unjudged labels as negatives (before) or as unknown (after), same split and seeds.

    python bench/events_judged.py --model ENC --out bench/results/gsr-judged --work runs/gsr-judged --seeds 42 43

arabic_event_gsr judged each sentence for one event type. ``akhbar prepare gsr`` records that in ``judged``;
"before" is the same split with ``judged`` removed, so the other type reads as a negative, as it did before
the field existed. Both are trained with ``configs/events-gsr.yaml`` as ``task: events`` (the config's
``sentence_events`` trains the same classifier and differs only in how a package reads an article; the test
items here are sentences, scored as they are) and scored on the same test sentences
counting judged labels only (the honest score: nobody said whether a protest sentence reports an assault),
and, for reference, the "before" way (every label judged). Each package is scored in float32 with its
decision thresholds re-tuned in float32 on its variant's validation split (akhbar's ``tune_thresholds``), so
that runs trained in bfloat16 or float32, or by another akhbar version, are decided the same way; the
thresholds the package carries are recorded too. ``--score-only`` re-scores the packages already in
``WORK/models`` without training. Results: ``OUT.json`` and ``OUT.md``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from common import describe, machine, write_results  # bench/, the script's folder, is on sys.path

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("PROTEST", "ASSAULT")


def prepare(gsr: Path, work: Path) -> dict[str, Path]:
    """``judged`` (as prepared) and ``all_judged`` (the same articles, ``judged`` removed)."""
    from akhbar.corpora import prepare_gsr

    judged, everything = work / "data" / "judged", work / "data" / "all_judged"
    prepare_gsr(gsr, judged)
    everything.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        rows = [json.loads(line) for line in (judged / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]
        (everything / f"{split}.jsonl").write_text(
            "".join(json.dumps({k: v for k, v in r.items() if k != "judged"}, ensure_ascii=False) + "\n" for r in rows),
            encoding="utf-8",
        )
    return {"before": everything, "after": judged}


def train(model: str, data: Path, work: Path, name: str, seed: int, extra: list[str]) -> tuple[Path, float]:
    command = [
        sys.executable, str(ROOT / "train.py"), "--config", str(ROOT / "configs" / "events-gsr.yaml"),
        "--model_name_or_path", model, "--freeze_embeddings", "true", "--task", "events",
        "--train_file", str(data / "train.jsonl"), "--validation_file", str(data / "validation.jsonl"),
        "--test_file", str(data / "test.jsonl"), "--output_dir", str(work / "runs" / name),
        "--package_dir", str(work / "models"), "--model_name", name, "--seed", str(seed),
        "--overwrite_output_dir", "true", "--disable_tqdm", "true", *extra,
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"training {name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return work / "models" / name, time.perf_counter() - started


def score(package: Path, validation: Path, tests: dict[str, Path]) -> dict:
    """The package scored on each of ``tests`` in float32, its thresholds first re-tuned in float32 on
    ``validation`` (the variant's own), so that every run is decided the same way whatever the precision it
    trained in and the akhbar version that tuned its packaged thresholds (kept as ``package_thresholds``)."""
    import dataclasses

    from akhbar import EventClassifier
    from akhbar.evaluation import read_for
    from akhbar.events import tune_thresholds
    from akhbar.metrics import classification_scores
    from akhbar.tasks.events import evaluate_events, gold_matrix

    classifier = EventClassifier.from_pretrained(package, device="cpu", precision="float32")
    labels = classifier.settings.event_labels
    articles, _ = read_for(classifier.settings, validation)
    probs = classifier.scores([a["text"] for a in articles])
    thresholds = tune_thresholds(probs, gold_matrix(articles, labels, multi_label=True), labels)
    out = {"package_thresholds": classifier.settings.thresholds}
    classifier.settings = dataclasses.replace(classifier.settings, thresholds=thresholds)
    # The test files hold the same sentences in the same order (only "judged" differs): one forward pass
    # serves every scoring, including the lever measured on the same model: the tuned thresholds (from 7
    # PROTEST positives in validation) against a plain 0.5 cut, on the judged test.
    texts, probs = None, None
    for name, test in tests.items():
        articles, _ = read_for(classifier.settings, test)
        if probs is None:
            texts = [a["text"] for a in articles]
            probs = classifier.scores(texts)
        elif [a["text"] for a in articles] != texts:
            raise SystemExit(f"{test}: not the same sentences in the same order as {tests['judged']}")
        report = evaluate_events(classifier, articles, data_name=str(test), probs=probs)
        out[name] = {"macro_f1": report["macro"]["f1"], "thresholds": report["thresholds"]}
        for label in LABELS:
            s = report["per_label"][label]
            ap = report["precision_recall"].get(label, {}).get("average_precision")
            out[name][label] = {**s, "average_precision": ap}
        if name == "judged":
            gold = gold_matrix(articles, labels, multi_label=True)
            fixed = classification_scores(probs, gold, labels, True, dict.fromkeys(labels, 0.5))
    out["judged_at_0.5"] = {label: fixed["per_label"][label] for label in LABELS}
    return out


def markdown(results: dict) -> str:
    lines = [
        "# GSR events: unjudged labels as negatives (before) or unknown (after)",
        "",
        f"Machine: {describe(results['machine'])}; encoder `{results['model']}`; "
        f"seeds {', '.join(map(str, results['seeds']))}. Test: {results['test_articles']} sentences, scored on "
        "judged labels only unless said otherwise.",
        "",
        "| variant | seed | PROTEST P / R / F1 / AP (support) | ASSAULT P / R / F1 / AP (support) | macro F1 | "
        "macro F1, every label judged | training s |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for run in results["runs"]:
        cells = []
        for label in LABELS:
            s = run["judged_scoring"][label]
            ap = "—" if s["average_precision"] is None else f"{100 * s['average_precision']:.1f}"
            prf = f"{100 * s['precision']:.1f} / {100 * s['recall']:.1f} / **{100 * s['f1']:.1f}**"
            cells.append(f"{prf} / {ap} ({s['support']})")
        macro, macro_all = run["judged_scoring"]["macro_f1"], run["all_judged_scoring"]["macro_f1"]
        seconds = "—" if run["train_s"] is None else f"{run['train_s']:.0f}"
        lines.append(
            f"| {run['variant']} | {run['seed']} | {cells[0]} | {cells[1]} | {100 * macro:.1f} "
            f"| {100 * macro_all:.1f} | {seconds} |"
        )
    lines += ["", "Thresholds tuned on validation against a plain 0.5 cut (judged test, F1):", ""]
    for run in results["runs"]:
        if "judged_at_0.5" in run:
            cells = [
                f"{label} {100 * run['judged_scoring'][label]['f1']:.1f} tuned / "
                f"{100 * run['judged_at_0.5'][label]['f1']:.1f} at 0.5"
                for label in LABELS
            ]
            lines.append(f"- {run['variant']}, seed {run['seed']}: " + "; ".join(cells))
    lines.append("")
    for variant in ("before", "after"):
        runs = [r for r in results["runs"] if r["variant"] == variant]
        if not runs:  # written after every run: the other variant may not have run yet
            continue
        for label in LABELS:
            f1 = [r["judged_scoring"][label]["f1"] for r in runs]
            spread = f"range {100 * min(f1):.1f}-{100 * max(f1):.1f}"
            lines.append(f"- {variant}, {label} F1: mean {100 * sum(f1) / len(f1):.1f} ({spread})")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="encoder folder (the stand-in: ../shared/tools/offline_encoder.py)")
    p.add_argument("--gsr", type=Path, default=ROOT.parent / "shared" / "data" / "arabic_event_gsr")
    p.add_argument("--out", type=Path, required=True, help="results path without suffix")
    p.add_argument("--work", type=Path, required=True, help="folder for data, runs and packages")
    p.add_argument("--seeds", type=int, nargs="+", default=[42, 43])
    p.add_argument("--train_args", default="", help="more train.py arguments for both variants, e.g. '--max_steps 5'")
    p.add_argument("--score-only", action="store_true", help="score the packages already in WORK/models (no training)")
    args = p.parse_args(argv)
    data = prepare(args.gsr, args.work)
    extra = shlex.split(args.train_args)
    results = {"model": args.model, "seeds": args.seeds, "machine": machine(), "train_args": extra, "runs": []}
    test_judged, test_all = data["after"] / "test.jsonl", data["before"] / "test.jsonl"
    results["test_articles"] = len(test_judged.read_text(encoding="utf-8").splitlines())
    earlier = {}
    if args.score_only and args.out.with_suffix(".json").is_file():  # keep the training times measured then
        earlier = json.loads(args.out.with_suffix(".json").read_text(encoding="utf-8"))
        earlier = {(r["variant"], r["seed"]): r.get("train_s") for r in earlier["runs"]}
    for seed in args.seeds:
        for variant, folder in data.items():
            name = f"{variant}-s{seed}"
            if args.score_only:
                package, seconds = args.work / "models" / name, earlier.get((variant, seed))
                if not (package / "manifest.json").is_file():
                    print(f"{name}: no package in {package.parent}, skipped", file=sys.stderr)
                    continue
            else:
                print(f"training {name} ...", file=sys.stderr, flush=True)
                package, seconds = train(args.model, folder, args.work, name, seed, extra)
            scored = score(package, folder / "validation.jsonl", {"judged": test_judged, "all_judged": test_all})
            results["runs"].append(
                {
                    "variant": variant,
                    "seed": seed,
                    "train_s": None if seconds is None else round(seconds, 1),
                    "package_thresholds": scored["package_thresholds"],
                    "judged_scoring": scored["judged"],
                    "all_judged_scoring": scored["all_judged"],
                    "judged_at_0.5": scored["judged_at_0.5"],
                }
            )
            write_results(args.out, results, markdown(results))  # after every run: a session can end abruptly
    print(markdown(results))


if __name__ == "__main__":
    main()

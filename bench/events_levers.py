"""GSR event classifiers: issue 17's levers, each trained on the same split and seeds, with the TF-IDF +
logistic-regression baseline and cross-validated figures in the same run.

    python bench/events_levers.py --model ENC --out bench/results/gsr-levers --work runs/gsr-levers \\
        --seeds 42 43 --variants base lr focal focal_long oversample epochs ambiguous --folds 5 \\
        --train_args "--bf16 true --use_cpu true"

Every variant trains ``configs/events-gsr.yaml`` (as ``task: events``, embeddings frozen, like
``bench/events_judged.py``) on the split ``akhbar prepare gsr`` writes, with the unjudged event type read as
a negative (``--unjudged negative``: the way the judged-labels measurement favoured), and is scored on the
420 test sentences counting judged labels only, in float32, its thresholds re-tuned on the validation
split, and also at a plain 0.5 cut. The variants (``VARIANTS``; train.py arguments after the config):

- ``base``: the config as it is (``pos_weight`` class weights, learning rate 5e-5, 3 epochs);
- ``focal``: ``event_loss: focal`` (gamma 2) instead of the class weights;
- ``focal_long``: the same for 6 epochs (twice the steps: ``focal`` was still learning after its third);
- ``oversample``: each sentence with an event repeated 4 times per epoch instead of the class weights;
- ``lr``: learning rate 1e-4, 3 epochs (the same steps as ``base``, larger ones: base at seed 42 went from
  validation macro F1 0.31 after its first epoch to 0.57 after its second, 0.52 after its third);
- ``epochs``: 6 epochs at learning rate 3e-5 (twice the steps, gentler; the rare class sees more updates);
- ``ambiguous``: the sentences ``prepare gsr`` excludes as ambiguous added to *training* as positives of the
  type they were ambiguous about (validation and test unchanged; the article format holds no soft label).

``--folds K`` adds, per seed, K-fold cross-validation of ``base`` over train + validation (the folds of
``bench/events_baseline.py``: stratified on the judged label pattern, seed 13; in each fold a tenth of the
training part is held out as its validation, for the best checkpoint and the thresholds). It gives two
figures: the F1 of the pooled out-of-fold predictions (every train + validation sentence predicted once by a
model that never saw it: 69 PROTEST positives instead of 8), and ``base`` re-decided with thresholds tuned
on those out-of-fold probabilities (``cv_thresholds``: the larger-validation lever).

Sentence context, the issue's last lever, cannot be tried on this corpus: GSR gives single sentences with
ids into LDC Gigaword, not their articles.

Each run costs a training (about 25 minutes on the 2-core AMX Xeon, several times that on AVX2), so the
script is made to be run piecewise: ``--variants`` and ``--folds`` choose what runs now, and runs already in
``OUT.json`` (from an earlier session, recorded with their machine) are kept unless ``--fresh``. Results are
written after every run. ``--score-only`` re-scores the packages already in ``WORK/models``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import describe, machine, write_results  # bench/, the script's folder, is on sys.path

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("PROTEST", "ASSAULT")
GOAL = 0.80
FOCAL = ["--event_loss", "focal", "--focal_gamma", "2", "--class_weights", "false"]
VARIANTS = {
    "base": [],
    "focal": FOCAL,
    # focal at base's steps was still learning after epoch 3 (validation macro F1 0.00, 0.10, 0.30 at seed 42)
    "focal_long": [*FOCAL, "--num_train_epochs", "6"],
    "oversample": ["--oversample_positives", "4", "--class_weights", "false"],
    "lr": ["--learning_rate", "1e-4"],
    "epochs": ["--num_train_epochs", "6", "--learning_rate", "3e-5"],
    "ambiguous": [],  # the data differs, not the arguments
}


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def prepare(gsr: Path, work: Path) -> dict:
    """The split to train on (unjudged = negative), the same split with ``judged`` (to score judged labels
    only), and the ambiguous sentences, labelled positive for the type they were ambiguous about."""
    from akhbar.corpora import prepare_gsr

    folders = {name: work / "data" / name for name in ("negative", "judged", "ambiguous_positive")}
    prepare_gsr(gsr, folders["negative"], unjudged="negative")
    prepare_gsr(gsr, folders["judged"], unjudged="unknown")
    prepare_gsr(gsr, folders["ambiguous_positive"], unjudged="negative", ambiguous="positive")
    splits = ("train", "validation", "test")
    data = {name: {s: read(folders[name] / f"{s}.jsonl") for s in splits} for name in folders}
    for s in splits:
        if [a["text"] for a in data["negative"][s]] != [a["text"] for a in data["judged"][s]]:
            raise SystemExit(f"{folders['judged']}/{s}.jsonl: not the same sentences as {folders['negative']}")
    kept = {a["text"] for s in splits for a in data["negative"][s]}
    ambiguous = [a for s in splits for a in data["ambiguous_positive"][s] if a["text"] not in kept]
    data["ambiguous"] = ambiguous
    write(work / "data" / "ambiguous" / "train.jsonl", data["negative"]["train"] + ambiguous)
    return data


def train(model: str, files: dict[str, Path], work: Path, name: str, seed: int, extra: list[str]) -> float:
    command = [
        sys.executable, str(ROOT / "train.py"), "--config", str(ROOT / "configs" / "events-gsr.yaml"),
        "--model_name_or_path", model, "--freeze_embeddings", "true", "--task", "events",
        "--train_file", str(files["train"]), "--validation_file", str(files["validation"]),
        "--test_file", str(files["test"]), "--output_dir", str(work / "runs" / name),
        "--package_dir", str(work / "models"), "--model_name", name, "--seed", str(seed),
        "--overwrite_output_dir", "true", "--disable_tqdm", "true", *extra,
    ]  # fmt: skip
    print(f"training {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"training {name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return round(time.perf_counter() - started, 1)


def probabilities(package: Path, texts: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """The package's float32 probabilities (PROTEST, ASSAULT columns) for each list of sentences."""
    from akhbar import EventClassifier

    classifier = EventClassifier.from_pretrained(package, device="cpu", precision="float32")
    order = [classifier.settings.event_labels.index(label) for label in LABELS]
    return {name: np.asarray(classifier.scores(rows))[:, order] for name, rows in texts.items()}


def gold(articles: list[dict]) -> np.ndarray:
    from akhbar.tasks.events import gold_matrix

    return gold_matrix(articles, LABELS, multi_label=True)


def scored(probs: np.ndarray, y: np.ndarray, thresholds: dict[str, float]) -> dict:
    """akhbar's judged-cell scores per label (P/R/F1/support) and average precision over judged sentences."""
    from sklearn.metrics import average_precision_score

    from akhbar.metrics import classification_scores

    report = classification_scores(probs, y, list(LABELS), True, thresholds)
    out = {"macro_f1": report["macro"]["f1"], "thresholds": thresholds}
    for j, label in enumerate(LABELS):
        judged = y[:, j] >= 0
        positive = y[judged, j] == 1
        ap = float(average_precision_score(positive, probs[judged, j])) if positive.any() else None
        out[label] = {**report["per_label"][label], "average_precision": ap}
    return out


def evaluate(package: Path, validation: list[dict], test: list[dict], test_gold: np.ndarray) -> dict:
    """Thresholds re-tuned in float32 on ``validation``; the test scored with them and at 0.5."""
    from akhbar.events import tune_thresholds

    probs = probabilities(package, {"validation": [a["text"] for a in validation], "test": [a["text"] for a in test]})
    thresholds = tune_thresholds(probs["validation"], gold(validation), LABELS)
    return {
        "tuned": scored(probs["test"], test_gold, thresholds),
        "at_0.5": scored(probs["test"], test_gold, dict.fromkeys(LABELS, 0.5)),
        "test_probs": probs["test"],
    }


def folds(data: dict, k: int, seed: int = 13) -> list[dict]:
    """``bench/events_baseline.py``'s folds over train + validation, each with a tenth of its training part
    held out as validation (stratified on the judged pattern, as there)."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    rows = data["negative"]["train"] + data["negative"]["validation"]
    judged = data["judged"]["train"] + data["judged"]["validation"]
    pattern = ["".join(str(int(v)) for v in row) for row in gold(judged)]
    out = []
    for fold, (train_idx, test_idx) in enumerate(
        StratifiedKFold(k, shuffle=True, random_state=seed).split(rows, pattern)
    ):
        fit_idx, tune_idx = train_test_split(
            train_idx, test_size=0.1, random_state=seed + fold, stratify=[pattern[i] for i in train_idx]
        )
        out.append({"train": fit_idx, "validation": tune_idx, "test": test_idx})
    return out


def run_folds(args, data: dict, seed: int, extra: list[str]) -> dict | None:
    """Base's K-fold cross-validation at ``seed``: pooled out-of-fold F1, and thresholds tuned on the
    out-of-fold probabilities."""
    from akhbar.events import tune_thresholds
    from akhbar.metrics import classification_scores

    rows = data["negative"]["train"] + data["negative"]["validation"]
    y = gold(data["judged"]["train"] + data["judged"]["validation"])
    oof_probs = np.full((len(rows), len(LABELS)), np.nan)
    oof_pred = np.zeros((len(rows), len(LABELS)), dtype=bool)
    per_fold = []
    for k, fold in enumerate(folds(data, args.folds)):
        name = f"base-s{seed}-fold{k}of{args.folds}"
        files = {
            split: write(args.work / "data" / "folds" / f"{k}of{args.folds}" / f"{split}.jsonl",
                         [rows[i] for i in fold[split]])
            for split in ("train", "validation", "test")
        }  # fmt: skip
        package, seconds = args.work / "models" / name, None
        if not (package / "manifest.json").is_file():
            if args.score_only:
                print(f"{name}: no package in {package.parent}, skipped", file=sys.stderr)
                return None
            seconds = train(args.model, files, args.work, name, seed, extra)
        validation = [rows[i] for i in fold["validation"]]
        result = evaluate(package, validation, [rows[i] for i in fold["test"]], y[fold["test"]])
        oof_probs[fold["test"]] = result["test_probs"]
        thresholds = result["tuned"]["thresholds"]
        cut = np.array([thresholds[label] for label in LABELS])
        oof_pred[fold["test"]] = result["test_probs"] >= cut
        per_fold.append({"fold": k, "train_s": seconds, "tuned": result["tuned"]})
    pooled = classification_scores(oof_pred.astype(float), y, list(LABELS), True, dict.fromkeys(LABELS, 0.5))
    out = {"folds": args.folds, "sentences": len(rows), "seed": seed, "machine": machine(), "per_fold": per_fold}
    for label in LABELS:
        f1s = [f["tuned"][label]["f1"] for f in per_fold]
        out[label] = {
            "pooled_oof": pooled["per_label"][label],
            "fold_f1_mean": float(np.mean(f1s)),
            "fold_f1_std": float(np.std(f1s)),
        }
    out["oof_thresholds"] = tune_thresholds(oof_probs, y, LABELS)
    return out


def baseline(data: dict, k: int) -> dict:
    """``bench/events_baseline.py`` on the same split and folds, unjudged as negative (its "before")."""
    import events_baseline

    split = {name: data["judged"][name] for name in ("train", "validation", "test")}
    out = {"test": events_baseline.split_run(split, "before")}
    if k:
        out["cv"] = events_baseline.cross_validation(split, "before", k)
    return out


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def f1_cell(s: dict) -> str:
    ap = "—" if s.get("average_precision") is None else f"{100 * s['average_precision']:.1f}"
    return f"{100 * s['precision']:.1f} / {100 * s['recall']:.1f} / **{100 * s['f1']:.1f}** / {ap} ({s['support']})"


def markdown(results: dict) -> str:
    lines = [
        "# GSR events: the levers of issue 17, part 2",
        "",
        f"Encoder `{results['model']}`; train.py arguments for every run: `{' '.join(results['train_args'])}`. "
        f"Test: {results['test_articles']} sentences, judged labels only; unjudged type read as a negative in "
        "training. Each run's machine is in the JSON; the latest: " + describe(results["machine"]) + ".",
        "",
        "| variant | seed | PROTEST P / R / F1 / AP (support) | ASSAULT P / R / F1 / AP (support) | F1 at 0.5: "
        "PROTEST / ASSAULT | training s |",
        "|---|---|---|---|---|---:|",
    ]
    runs = sorted(results["runs"], key=lambda r: (list(VARIANTS).index(r["variant"]), r["seed"]))
    for run in runs:
        fixed = run["at_0.5"]
        seconds = "—" if run.get("train_s") is None else f"{run['train_s']:.0f}"
        lines.append(
            f"| {run['variant']} | {run['seed']} | {f1_cell(run['tuned']['PROTEST'])} | "
            f"{f1_cell(run['tuned']['ASSAULT'])} | {100 * fixed['PROTEST']['f1']:.1f} / "
            f"{100 * fixed['ASSAULT']['f1']:.1f} | {seconds} |"
        )
    for cv in results["cv"]:
        if "cv_thresholds" in cv:
            t = cv["cv_thresholds"]
            lines.append(
                f"| base, thresholds from {cv['folds']}-fold out-of-fold probabilities | {cv['seed']} | "
                f"{f1_cell(t['PROTEST'])} | {f1_cell(t['ASSAULT'])} | — | — |"
            )
    if results.get("baseline"):
        b = results["baseline"]["test"]
        lines.append(f"| TF-IDF + logistic regression | — | {f1_cell(b['PROTEST'])} | {f1_cell(b['ASSAULT'])} | — | "
                     f"{b['fit_s']:.0f} (fit) |")  # fmt: skip
    lines += ["", "Means over seeds (tuned thresholds; range):", ""]
    best = {}
    for variant in VARIANTS:
        chosen = [r for r in runs if r["variant"] == variant]
        if not chosen:
            continue
        cells = []
        for label in LABELS:
            f1 = [r["tuned"][label]["f1"] for r in chosen]
            best[label] = max(best.get(label, 0.0), mean(f1))
            cells.append(f"{label} {100 * mean(f1):.1f} ({100 * min(f1):.1f}-{100 * max(f1):.1f})")
        lines.append(f"- {variant} ({len(chosen)} seed{'s' * (len(chosen) > 1)}): " + "; ".join(cells))
    if results["cv"] or results.get("baseline", {}).get("cv"):
        lines += ["", "Cross-validated F1 over train + validation (pooled out-of-fold; folds mean ± sd; positives):"]
        lines.append("")
        for cv in results["cv"]:
            cells = [
                f"{label} {100 * cv[label]['pooled_oof']['f1']:.1f}; {100 * cv[label]['fold_f1_mean']:.1f} ± "
                f"{100 * cv[label]['fold_f1_std']:.1f} ({cv[label]['pooled_oof']['support']})"
                for label in LABELS
            ]
            lines.append(f"- base, seed {cv['seed']}, {cv['folds']} folds: " + "; ".join(cells))
        if results.get("baseline", {}).get("cv"):
            cv = results["baseline"]["cv"]
            cells = [
                f"{label} {100 * cv[label]['pooled_oof']['f1']:.1f}; {100 * cv[label]['fold_f1_mean']:.1f} ± "
                f"{100 * cv[label]['fold_f1_std']:.1f} ({cv[label]['pooled_oof']['support']})"
                for label in LABELS
            ]
            lines.append(f"- TF-IDF + logistic regression, {cv['folds']} folds: " + "; ".join(cells))
    if best:
        lines += ["", f"Goal: positive-class F1 >= {100 * GOAL:.0f} for both labels on the test split (seed mean)."]
        for label in LABELS:
            gap = 100 * (GOAL - best[label])
            verdict = "met" if gap <= 0 else f"missed by {gap:.1f} points"
            lines.append(f"- {label}: best variant mean {100 * best[label]:.1f}: **{verdict}**")
    return "\n".join(lines) + "\n"


def public(result: dict, variant: str) -> dict:
    """What a run keeps in OUT.json: its scores, and for ``base`` its test probabilities (840 numbers), which a
    later ``--folds`` run re-decides with out-of-fold thresholds."""
    out = {k: v for k, v in result.items() if k != "test_probs"}
    if variant == "base":
        out["test_probs"] = np.round(result["test_probs"], 6).tolist()
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="encoder folder (the stand-in: ../shared/tools/offline_encoder.py)")
    p.add_argument("--gsr", type=Path, default=ROOT.parent / "shared" / "data" / "arabic_event_gsr")
    p.add_argument("--out", type=Path, required=True, help="results path without suffix")
    p.add_argument("--work", type=Path, required=True, help="folder for data, runs and packages")
    p.add_argument("--seeds", type=int, nargs="+", default=[42, 43])
    p.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--folds", type=int, default=0, help="K-fold cross-validation of base per seed (0: none)")
    p.add_argument("--no_baseline", action="store_true", help="skip the TF-IDF baseline (a minute or two)")
    p.add_argument("--train_args", default="", help="more train.py arguments for every run, e.g. '--bf16 true'")
    p.add_argument("--fresh", action="store_true", help="drop the runs already in OUT.json")
    p.add_argument("--score-only", action="store_true", help="score the packages already in WORK/models")
    args = p.parse_args(argv)
    if args.folds == 1 or args.folds < 0:
        p.error(f"--folds must be 0 (none) or at least 2, found {args.folds}")
    data = prepare(args.gsr, args.work)
    extra = shlex.split(args.train_args)
    results = {"model": args.model, "machine": machine(), "train_args": extra, "runs": [], "cv": []}
    earlier = args.out.with_suffix(".json")
    if earlier.is_file() and not args.fresh:
        kept = json.loads(earlier.read_text(encoding="utf-8"))
        if kept.get("train_args") != extra:
            raise SystemExit(f"{earlier}: its runs used train.py arguments {kept.get('train_args')}, not {extra}; "
                             "use the same --train_args or --fresh")  # fmt: skip
        results["runs"], results["cv"] = kept["runs"], kept.get("cv", [])
        results["baseline"] = kept.get("baseline")
    test, test_gold = data["negative"]["test"], gold(data["judged"]["test"])
    results["test_articles"] = len(test)
    results["ambiguous_added_to_training"] = len(data["ambiguous"])
    if not args.no_baseline:
        print("TF-IDF baseline ...", file=sys.stderr, flush=True)
        results["baseline"] = baseline(data, args.folds)
        write_results(args.out, results, markdown(results))
    files = {s: args.work / "data" / "negative" / f"{s}.jsonl" for s in ("train", "validation", "test")}
    base_probs = {r["seed"]: np.asarray(r["test_probs"]) for r in results["runs"] if r["variant"] == "base"}
    for seed in args.seeds:
        for variant in args.variants:
            name = f"{variant}-s{seed}"
            package, seconds = args.work / "models" / name, None
            if not (package / "manifest.json").is_file():
                if args.score_only:
                    print(f"{name}: no package in {package.parent}, skipped", file=sys.stderr)
                    continue
                train_files = files | ({"train": args.work / "data" / "ambiguous" / "train.jsonl"}
                                       if variant == "ambiguous" else {})  # fmt: skip
                seconds = train(args.model, train_files, args.work, name, seed, extra + VARIANTS[variant])
            result = evaluate(package, data["negative"]["validation"], test, test_gold)
            if variant == "base":
                base_probs[seed] = result["test_probs"]
            results["runs"] = [r for r in results["runs"] if (r["variant"], r["seed"]) != (variant, seed)]
            results["runs"].append(
                {"variant": variant, "seed": seed, "train_s": seconds, "machine": machine(), **public(result, variant)}
            )
            write_results(args.out, results, markdown(results))  # after every run: a session can end abruptly
        if args.folds:
            cv = run_folds(args, data, seed, extra)
            if cv is not None:
                if seed in base_probs:  # base re-decided with the out-of-fold thresholds
                    cv["cv_thresholds"] = scored(base_probs[seed], test_gold, cv["oof_thresholds"])
                results["cv"] = [c for c in results["cv"] if (c["seed"], c["folds"]) != (seed, args.folds)] + [cv]
                write_results(args.out, results, markdown(results))
    write_results(args.out, results, markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()

"""TF-IDF + logistic regression on the GSR event sentences: the baseline the fine-tuned models must beat.

    python bench/events_baseline.py --out bench/results/gsr-baseline [--gsr ../shared/data/arabic_event_gsr]

The same split ``akhbar prepare gsr`` writes (seed 13), the same arabertv02 normalization the packages apply,
one classifier per label (PROTEST, ASSAULT), ``class_weight="balanced"``, word 1-2-grams and character
2-5-grams within words. Two ways to treat the label a sentence was not judged for, as in
``bench/events_judged.py``: "before" (a negative) and "after" (left out of that label's training rows).
Thresholds are tuned on the validation split with akhbar's own ``tune_thresholds``, scores are akhbar's
judged-cell scores (``masked_multi_label``) plus average precision over judged sentences.

PROTEST has few test positives (8), so the script also reports 5-fold cross-validation over train +
validation (folds stratified on the label pattern; in each fold the threshold is tuned on a fifth of its
training part, held out from fitting): per-fold F1 (mean and spread) and the F1 of the pooled out-of-fold
predictions. Seconds: fitting on this machine, recorded with its CPU model.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import describe, machine, write_results  # bench/, the script's folder, is on sys.path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
LABELS = ("PROTEST", "ASSAULT")


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def normalized(articles: list[dict]) -> list[str]:
    from akhbar.preprocessing import PreprocessingConfig, normalize

    config = PreprocessingConfig.from_preset("arabertv02")
    return [normalize(a["text"], config).text for a in articles]


def gold(articles: list[dict], variant: str) -> np.ndarray:
    """Multi-hot rows, -1 where the sentence was not judged for the label ("after"; "before": a negative)."""
    from akhbar.tasks.events import gold_matrix

    if variant == "before":
        articles = [{k: v for k, v in a.items() if k != "judged"} for a in articles]
    return gold_matrix(articles, LABELS, multi_label=True)


def fit_predict(train_x: list[str], train_y: np.ndarray, test_x: list[list[str]]) -> list[np.ndarray]:
    """One pipeline per label fitted on the rows judged for it; probabilities for each list in ``test_x``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    out = [np.zeros((len(x), len(LABELS))) for x in test_x]
    for j in range(len(LABELS)):
        rows = np.flatnonzero(train_y[:, j] >= 0)
        model = make_pipeline(
            make_union(
                TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True),
            ),
            LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000),
        )
        model.fit([train_x[i] for i in rows], train_y[rows, j])
        for k, x in enumerate(test_x):
            out[k][:, j] = model.predict_proba(x)[:, 1]
    return out


def scores(probs: np.ndarray, y: np.ndarray, thresholds: dict[str, float]) -> dict:
    from sklearn.metrics import average_precision_score

    from akhbar.metrics import masked_multi_label

    pred = np.stack([probs[:, j] >= thresholds[label] for j, label in enumerate(LABELS)], axis=1)
    report = masked_multi_label(pred, y, LABELS)
    out = {"macro_f1": report["macro"]["f1"], "thresholds": thresholds}
    for j, label in enumerate(LABELS):
        judged = y[:, j] >= 0
        ap = float(average_precision_score(y[judged, j] == 1, probs[judged, j])) if (y[judged, j] == 1).any() else None
        out[label] = {**report["per_label"][label], "average_precision": ap}
    return out


def split_run(data: dict[str, list[dict]], variant: str) -> dict:
    from akhbar.events import tune_thresholds

    x = {name: normalized(rows) for name, rows in data.items()}
    y = {name: gold(rows, variant) for name, rows in data.items()}
    started = time.perf_counter()
    validation, test = fit_predict(x["train"], y["train"], [x["validation"], x["test"]])
    thresholds = tune_thresholds(validation, y["validation"], LABELS)
    # Test scored on judged labels only (the honest score), as bench/events_judged.py does.
    return {"fit_s": round(time.perf_counter() - started, 1), **scores(test, gold(data["test"], "after"), thresholds)}


def cross_validation(data: dict[str, list[dict]], variant: str, folds: int = 5, seed: int = 13) -> dict:
    from sklearn.model_selection import StratifiedKFold, train_test_split

    from akhbar.events import tune_thresholds

    rows = data["train"] + data["validation"]
    x = normalized(rows)
    y_fit, y_score = gold(rows, variant), gold(rows, "after")
    pattern = [
        "".join(str(int(v)) for v in row) for row in y_score
    ]  # stratify on the judged pattern: positives spread evenly
    oof = np.zeros((len(rows), len(LABELS)))
    per_fold = []
    for fold, (train_idx, test_idx) in enumerate(
        StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, pattern)
    ):
        fit_idx, tune_idx = train_test_split(
            train_idx, test_size=0.2, random_state=seed + fold, stratify=[pattern[i] for i in train_idx]
        )
        tune, held = fit_predict(
            [x[i] for i in fit_idx], y_fit[fit_idx], [[x[i] for i in tune_idx], [x[i] for i in test_idx]]
        )
        thresholds = tune_thresholds(tune, y_fit[tune_idx], LABELS)
        oof[test_idx] = np.stack([held[:, j] >= thresholds[label] for j, label in enumerate(LABELS)], axis=1)
        per_fold.append(scores(held, y_score[test_idx], thresholds))
    from akhbar.metrics import masked_multi_label

    pooled = masked_multi_label(oof.astype(bool), y_score, LABELS)
    out = {"folds": folds, "sentences": len(rows)}
    for label in LABELS:
        f1s = [f[label]["f1"] for f in per_fold]
        out[label] = {
            "pooled_oof": pooled["per_label"][label],
            "fold_f1_mean": float(np.mean(f1s)),
            "fold_f1_std": float(np.std(f1s)),
            "fold_f1": f1s,
        }
    return out


def markdown(results: dict) -> str:
    lines = [
        "# GSR events: TF-IDF + logistic regression baseline",
        "",
        f"Machine: {describe(results['machine'])}. Test: {results['test_articles']} sentences, judged labels only.",
        "",
        "| variant | PROTEST P / R / F1 / AP (support) | ASSAULT P / R / F1 / AP (support) | macro F1 | "
        "CV PROTEST F1 (pooled; folds mean ± sd) | CV ASSAULT F1 (pooled; folds mean ± sd) | fit s |",
        "|---|---|---|---:|---|---|---:|",
    ]
    for variant, run in results["variants"].items():
        cells = []
        for label in LABELS:
            s = run["test"][label]
            cells.append(
                f"{s['precision']:.3f} / {s['recall']:.3f} / **{s['f1']:.3f}** / {s['average_precision']:.3f} "
                f"({s['support']})"
            )
        cv = [
            f"{run['cv'][label]['pooled_oof']['f1']:.3f}; {run['cv'][label]['fold_f1_mean']:.3f} ± "
            f"{run['cv'][label]['fold_f1_std']:.3f} ({run['cv'][label]['pooled_oof']['support']})"
            for label in LABELS
        ]
        lines.append(f"| {variant} | {' | '.join(cells)} | {run['test']['macro_f1']:.3f} | {' | '.join(cv)} | "
                     f"{run['test']['fit_s']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:

    from akhbar.corpora import prepare_gsr

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gsr", type=Path, default=ROOT.parent / "shared" / "data" / "arabic_event_gsr")
    p.add_argument("--data", type=Path, help="an already prepared GSR folder (train/validation/test.jsonl)")
    p.add_argument("--out", type=Path, required=True, help="results path without suffix")
    p.add_argument("--folds", type=int, default=5)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data
        if folder is None:
            folder = Path(tmp) / "gsr"
            prepare_gsr(args.gsr, folder)
        data = {name: read(folder / f"{name}.jsonl") for name in ("train", "validation", "test")}
    results = {"machine": machine(), "test_articles": len(data["test"]), "variants": {}}
    for variant in ("before", "after"):
        print(f"{variant} ...", file=sys.stderr, flush=True)
        results["variants"][variant] = {
            "test": split_run(data, variant),
            "cv": cross_validation(data, variant, args.folds),
        }
    write_results(args.out, results, markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()

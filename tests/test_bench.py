"""Smoke test of the benchmark script (bench/run.py): a tiny model, a few steps, every part of the run.

The figures of a tiny random model mean nothing; this keeps the script from rotting (arguments, run
folders, scoring, inference timing, report files).
"""

import json
import re
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, SAMPLE

from akhbar.articles import read_articles


def write_conll(source, path):
    """Our sample articles as a CoNLL file: whitespace tokens, IOB2 tags from the gold spans."""
    lines = []
    for article in read_articles(source)[0]:
        tokens = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", article["text"])]
        tags = ["O"] * len(tokens)
        for e in article["entities"]:
            inside = [i for i, (a, b, _) in enumerate(tokens) if a < e["end"] and e["start"] < b]
            for k, i in enumerate(inside):
                tags[i] = ("B-" if k == 0 else "I-") + e["label"]
        lines += [f"{t} {tag}" for (_, _, t), tag in zip(tokens, tags)] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")


@pytest.mark.slow
def test_bench_smoke(tiny_model_dir, tmp_path):
    write_conll(SAMPLE / "train.jsonl", tmp_path / "train.txt")
    write_conll(SAMPLE / "test.jsonl", tmp_path / "test.txt")
    out = tmp_path / "results" / "smoke"
    command = [
        sys.executable, str(ROOT / "bench" / "run.py"), "--model", str(tiny_model_dir), "--out", str(out),
        "--work", str(tmp_path / "work"), "--seeds", "1", "--epochs", "1", "--max_steps", "2",
        "--train", str(tmp_path / "train.txt"), "--test", str(tmp_path / "test.txt"),
        "--long", str(SAMPLE / "test.jsonl"), "--long_min_tokens", "60", "--long_articles", "3",
        "--akhbar_set", "max_length=64", "stride=16", "join_sentences=40", "--long_join", "120",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert [r["name"] for r in results["runs"]] == ["standard", "akhbar-same-epochs", "akhbar-budget"]
    sentences = results["test_sentences"]
    assert sentences == len(read_articles(tmp_path / "test.txt")[0])
    for row in results["runs"]:
        q = row["quality"]
        assert 0.0 <= q["strict_f1"] <= 1.0 and q["entities"] > 0
        assert row["train_tokens_per_s"] > 0 and 0.0 <= row["padding_share"] < 1.0 and row["peak_rss_mib"] > 0
    # akhbar read the test sentences joined into articles, as configured, and still scored every sentence.
    assert results["runs"][1]["overrides"]["join_sentences"] == "40"
    parts = results["inference"]["parts"]
    assert results["inference"]["repeats"] == 2  # every timing is the fastest of two passes (the default)
    for part in parts.values():
        assert part["pipeline_batch_1"]["articles_per_s"] > 0
        # The pipeline with bfloat16 weights, timed and compared with the float32 pipeline.
        assert part["pipeline_bf16_batch_1"]["speedup_vs_pipeline_batch_1"] > 0
        assert 0.0 <= part["pipeline_bf16_batch_1"]["agreement_with_pipeline"]["agreement"] <= 1.0
        for engine in ("akhbar_torch_fp32", "akhbar_torch_bf16", "akhbar_onnx_fp32", "akhbar_onnx_int8"):
            row = part[engine]
            assert row["articles_per_s"] > 0 and row["speedup_vs_pipeline_batch_1"] > 0
            assert 0.0 <= row["agreement_with_pipeline"]["agreement"] <= 1.0
        # The reference agrees with itself; the float32 ONNX export gives the same entities as PyTorch.
        assert part["akhbar_torch_fp32"]["agreement_with_reference"]["agreement"] == 1.0
        assert part["akhbar_onnx_fp32"]["agreement_with_reference"]["agreement"] == 1.0
    assert results["parity"]["akhbar_onnx_fp32"]["strict_f1_minus_reference"] == 0.0
    # The same test read as longer articles (several windows each), every engine and pipeline scored.
    long = results["parity_long"]
    assert long["join_sentences"] == 120 and long["akhbar_onnx_fp32"]["strict_f1_minus_reference"] == 0.0
    assert 0.0 <= long["pipeline_first"]["strict_f1"] <= 1.0
    assert parts["long_articles"]["texts"] == 3
    assert {t["target"].split(" (")[0].split(" >=")[0] for t in results["targets"]} >= {
        "strict F1",
        "training tokens/s",
    }
    table = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| standard | 1 |" in table and "## Inference speed" in table and "parity on long articles" in table
    # bench/agreement.py: the same comparisons for one package, without training.
    package = tmp_path / "work" / "akhbar-e1-s1" / "model"
    agree = [
        sys.executable, str(ROOT / "bench" / "agreement.py"), str(package), "--out", str(tmp_path / "agree.json"),
        "--test", str(tmp_path / "test.txt"), "--long", str(SAMPLE / "test.jsonl"), "--long_min_tokens", "60",
        "--long_articles", "3", "--long_join", "120", "--explain",
    ]  # fmt: skip
    done = subprocess.run(agree, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads((tmp_path / "agree.json").read_text(encoding="utf-8"))
    assert figures["long_articles"]["texts"] == 3
    assert set(figures["parity_long"]) == {"akhbar_torch_fp32", "pipeline_simple", "pipeline_first"}
    assert "agreement_with_pipeline_first" in done.stdout
    assert (
        "timing akhbar and the pipeline on 3 long articles" in done.stderr
        and "explain the disagreements" in done.stderr
    )
    # --explain gives every entity on which akhbar and `simple` differ one cause.
    row = figures["long_articles"]["akhbar_torch_fp32"]["agreement_with_pipeline"]
    causes = figures["disagreements"]
    assert sum(causes["akhbar_only"].values()) == row["entities_akhbar"] - row["matching"]
    assert sum(causes["pipeline_only"].values()) == row["entities_pipeline"] - row["matching"]
    # bench/batching.py: every setting timed in each round, and the same entities whatever the batching.
    batching = [
        sys.executable, str(ROOT / "bench" / "batching.py"), str(package), "--out", str(tmp_path / "batching.json"),
        "--test", str(tmp_path / "test.txt"), "--long", str(SAMPLE / "test.jsonl"), "--long_min_tokens", "60",
        "--long_articles", "3", "--engines", "torch_fp32", "--settings", "size=1", "tokens=100", "size=4",
    ]  # fmt: skip
    done = subprocess.run(batching, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = json.loads((tmp_path / "batching.json").read_text(encoding="utf-8"))["runs"]
    settings = ("size=1", "tokens=100", "size=4")
    parts = ("test_sentences", "long_articles")
    assert [(r["texts"], r["setting"]) for r in runs] == [(t, s) for t in parts for s in settings]
    assert all(len(r["seconds"]) == 2 and r["best"] > 0 and r["agreement_with_first"] == 1.0 for r in runs)
    bad = subprocess.run(batching[:3] + ["--settings", "tokens=0"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "expected size=N or tokens=N with N >= 1" in bad.stderr
    # A second run reuses the finished run folders instead of training again.
    again = subprocess.run(command + ["--skip", "inference", "onnx"], cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "train.py" not in again.stderr and json.loads(out.with_suffix(".json").read_text())["runs"][0]["seed"] == 1


def test_precision_forward_times_the_three_variants(tiny_model_dir):
    command = [sys.executable, str(ROOT / "bench" / "precision_forward.py"), str(tiny_model_dir)]
    done = subprocess.run(
        command + ["--batch", "2", "--length", "16", "--repeats", "2"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if "tokens/s" in line]
    assert [r.split("  ")[0] for r in rows] == ["float32", "bfloat16 autocast", "bfloat16 weights"]
    assert all(len(r.split("all: ")[1].split(", ")) == 2 for r in rows)


def test_explain_sorts_disagreements_by_cause():
    sys.path.insert(0, str(ROOT / "bench"))
    from agreement import explain

    # One article read in two pipeline windows, words 0-4 and 3-7 (3 and 4 are read twice); each word's
    # sub-token tags in each window.
    article = [
        {0: ["B-PERS", "I-PERS"], 1: ["O", "I-LOC"], 2: ["O"], 3: ["O"], 4: ["B-LOC"]},
        {3: ["O"], 4: ["B-LOC"], 5: ["B-ORG", "B-ORG"], 6: ["I-ORG"], 7: ["B-PERS"]},
    ]
    akhbar = {(0, 0, "PERS"), (4, 4, "LOC"), (5, 6, "ORG"), (7, 7, "PERS")}
    pipeline = {(0, 0, "PERS"), (1, 1, "LOC"), (3, 4, "LOC"), (5, 5, "ORG"), (5, 6, "ORG"), (7, 7, "LOC")}
    assert explain([akhbar], [pipeline], [article]) == {
        "akhbar_only": {"window_overlap": 1, "other": 1},
        "pipeline_only": {"sub_tokens_disagree": 1, "window_overlap": 1, "begin_inside_word": 1, "other": 1},
    }


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT.parent / "shared" / "data" / "arabic_event_gsr").is_dir(), reason="no ../shared GSR")
def test_events_judged_smoke(tiny_model_dir, tmp_path):
    # bench/events_judged.py: both variants trained and scored, the judged-only scores and the reference ones.
    out = tmp_path / "judged"
    command = [
        sys.executable, str(ROOT / "bench" / "events_judged.py"), "--model", str(tiny_model_dir), "--out", str(out),
        "--work", str(tmp_path / "work"), "--seeds", "1", "--train_args", "--max_steps 2 --max_length 64 --stride 16",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert [r["variant"] for r in results["runs"]] == ["before", "after"]
    for run in results["runs"]:
        for scoring in ("judged_scoring", "all_judged_scoring"):
            assert 0.0 <= run[scoring]["macro_f1"] <= 1.0 and set(run[scoring]) >= {"PROTEST", "ASSAULT"}
        assert set(run["judged_at_0.5"]) == {"PROTEST", "ASSAULT"}  # the same model at a plain 0.5 cut
    text = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| after | 1 |" in text and "- after, seed 1: PROTEST" in text


@pytest.mark.slow
def test_flops_smoke(tiny_model_dir, tmp_path):
    # bench/flops.py: the machine's matrix products and the model's forward pass, measured in one run.
    out = tmp_path / "flops.json"
    command = [sys.executable, str(ROOT / "bench" / "flops.py"), str(tiny_model_dir), "--out", str(out)]
    done = subprocess.run([*command, "--n", "256", "--length", "32", "--batch", "2", "--repeats", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["matmul_float32_gflops"] > 0 and figures["forward_float32_tokens_per_s"] > 0
    assert figures["share_of_matmul_float32"] == pytest.approx(
        figures["forward_float32_gflops"] / figures["matmul_float32_gflops"], abs=1e-3
    )
    assert figures["machine"]["cpu_capability"]
    import torch

    from akhbar.inference.options import native_bfloat16

    # bfloat16's product at a quarter of the size where it is not native (minutes at full size on AVX2)
    assert figures["matmul_bfloat16_n"] == (256 if native_bfloat16(torch.device("cpu"))[0] else 64)
    assert figures["matmul_bfloat16_gflops"] > 0


def test_speed_smoke(random_packages, tmp_path):
    # bench/speed.py: the engines against pipeline(aggregation_strategy="first") on long articles and the forward
    # pass against the matmul, one table for this CPU kind with both targets judged.
    ner, _ = random_packages
    package = tmp_path / "ner"
    shutil.copytree(ner, package)
    out = tmp_path / "speed"
    command = [sys.executable, str(ROOT / "bench" / "speed.py"), str(package), "--out", str(out),
               "--long", str(SAMPLE / "test.jsonl"), "--min_tokens", "60", "--articles", "3", "--rounds", "2",
               "--skip_onnx"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    long = figures["long_articles"]
    assert long["texts"] == 3 and long["pipeline_first_batch_1"]["seconds"] > 0
    row = long["akhbar_torch_fp32"]
    assert row["speedup_vs_pipeline_first"] == pytest.approx(long["pipeline_first_batch_1"]["seconds"] / row["seconds"])
    assert 0 <= row["agreement_with_pipeline_first"]["agreement"] <= 1
    assert ("akhbar_torch_bf16" in long) == ("pipeline_bf16_batch_1" in long)  # both only where bf16 is native
    assert [t["target"][:12] for t in figures["targets"]] == ["long-article", "float32 forw"]
    assert figures["machine"]["cpu_capability"] and figures["machine"]["cpu_capability"] in out.with_suffix(
        ".md"
    ).read_text(encoding="utf-8")


def test_exported_copy_is_made_again_for_new_weights_or_another_quantization(random_packages, tmp_path):
    # bench/run.py's ONNX copy is reused only for the same package and the same per_channel setting.
    pytest.importorskip("onnxruntime")
    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    from run import exported_copy

    ner, _ = random_packages
    package = tmp_path / "model"
    shutil.copytree(ner, package)
    copy = exported_copy(package)
    assert copy == tmp_path / "model-onnx" and json.loads((tmp_path / "model-onnx.json").read_text())["per_channel"]
    made = (copy / "onnx" / "model.int8.onnx").stat().st_mtime_ns
    assert exported_copy(package).joinpath("onnx", "model.int8.onnx").stat().st_mtime_ns == made  # reused
    exported_copy(package, per_channel=False)
    assert not json.loads((tmp_path / "model-onnx.json").read_text())["per_channel"]
    again = (copy / "onnx" / "model.int8.onnx").stat().st_mtime_ns
    assert again != made
    manifest = json.loads((package / "manifest.json").read_text())  # a retrained package: another manifest
    manifest["created"] = "again"
    (package / "manifest.json").write_text(json.dumps(manifest))
    exported_copy(package, per_channel=False)
    assert (copy / "onnx" / "model.int8.onnx").stat().st_mtime_ns != again


def test_serve_load_smoke(random_packages, tmp_path):
    """bench/serve_load.py end to end on the random-head packages: every request answered with the in-process
    results, the server stopped with exit code 0, figures written."""
    pytest.importorskip("fastapi")
    ner, events = random_packages
    out = tmp_path / "serve-load"
    command = [
        sys.executable, str(ROOT / "bench" / "serve_load.py"), "--ner", str(ner), "--events", str(events),
        "--texts", str(SAMPLE / "test.jsonl"), "--clients", "3", "--requests", "9", "--duration", "120",
        "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert report["sent_requests"] == report["answered_200"] == 9 and report["other_statuses"] == []
    assert report["results_differing"] == 0
    # The warm-up request is counted by the server, not by the plan.
    assert report["server_batching"]["requests"] == 9 + 1
    assert report["results_equal_in_process"] + report["results_differing_in_scores_only"] == report["texts_served"]
    assert report["throughput_texts_per_s"] > 0 and report["ratio_to_in_process"] > 0
    assert report["latency_s"]["p50"] <= report["latency_s"]["p99"] and report["server_rss_mib"]["max"] > 0
    assert report["server_exit_code_after_sigterm"] == 0 and report["machine"]["cpu_capability"]
    assert "| ratio to in-process |" in out.with_suffix(".md").read_text(encoding="utf-8")


def test_events_baseline_on_sentences_written_for_it(tmp_path):
    # bench/events_baseline.py on a prepared folder of our own sentences, where a word gives the event away:
    # the TF-IDF model must find them (F1 1.0 on test), in both variants, with cross-validation run.
    words = {"PROTEST": "تظاهر", "ASSAULT": "هاجم"}
    fillers = ["المواطنون في المدينة", "الطلاب أمام الجامعة", "السكان قرب السوق", "العمال عند المصنع"]
    data = tmp_path / "gsr"
    data.mkdir()
    for split, n in (("train", 80), ("validation", 40), ("test", 40)):
        rows = []
        for i in range(n):
            label = ("PROTEST", "ASSAULT")[i % 2]
            positive = (i // 2) % 2 == 0
            verb = words[label] if positive else "اجتمع"
            text = f"{verb} {fillers[i % 4]} يوم {i}"
            rows.append({"id": f"{split}-{i}", "text": text, "events": [label] if positive else [], "judged": [label]})
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    out = tmp_path / "baseline"
    command = [sys.executable, str(ROOT / "bench" / "events_baseline.py"), "--data", str(data), "--out", str(out)]
    done = subprocess.run([*command, "--folds", "2"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    for variant in ("before", "after"):
        run = results["variants"][variant]
        assert run["test"]["PROTEST"]["f1"] == run["test"]["ASSAULT"]["f1"] == 1.0, variant
        assert run["test"]["PROTEST"]["support"] == 10 and run["cv"]["ASSAULT"]["pooled_oof"]["support"] == 30
    assert "| after |" in out.with_suffix(".md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_events_levers_smoke_runs_piecewise(tiny_model_dir, tmp_path):
    # bench/events_levers.py on GSR-shaped CSV files of our own sentences: variants, the baseline and the
    # folds, run in two pieces as sessions would; the second keeps the first's runs and re-decides its base
    # model with the out-of-fold thresholds.
    import csv

    gsr = tmp_path / "gsr"
    gsr.mkdir()
    places = ["أمام الوزارة", "في الساحة", "قرب الجامعة", "عند المصنع", "في السوق"]
    for event, verb, name in (("PROTEST", "تظاهر", "protest_gsr.csv"), ("ASSAULT", "هاجم", "assault_gsr.csv")):
        with (gsr / name).open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["", "accept", "event_type", "id", "label", "reject", "text", "total"])
            for i in range(60):
                label = ("yes", "easy no", "difficult no")[i % 3] if i < 54 else "ambiguous"
                text = f"{verb if label == 'yes' else 'اجتمع'} السكان {places[i % 5]} يوم {i} {event}"
                writer.writerow([i, 0, event, f"{event}-{i}", label, 0, text, 3])
    out, work = tmp_path / "levers", tmp_path / "work"
    command = [
        sys.executable, str(ROOT / "bench" / "events_levers.py"), "--model", str(tiny_model_dir), "--gsr", str(gsr),
        "--out", str(out), "--work", str(work), "--seeds", "1",
        "--train_args", "--max_steps 2 --max_length 64 --stride 16",
    ]  # fmt: skip
    done = subprocess.run([*command, "--variants", "base", "ambiguous"], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    first = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert [r["variant"] for r in first["runs"]] == ["base", "ambiguous"] and first["cv"] == []
    assert first["ambiguous_added_to_training"] == 12  # the 6 ambiguous rows of each file, all in training
    ambiguous_train = (work / "data" / "ambiguous" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    base_train = (work / "data" / "negative" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(ambiguous_train) == len(base_train) + 12 and ambiguous_train[: len(base_train)] == base_train
    assert first["baseline"]["test"]["PROTEST"]["support"] > 0
    for run in first["runs"]:
        for key in ("tuned", "at_0.5"):
            assert 0.0 <= run[key]["PROTEST"]["f1"] <= 1.0 and 0.0 <= run[key]["ASSAULT"]["f1"] <= 1.0
        assert run["at_0.5"]["thresholds"] == {"PROTEST": 0.5, "ASSAULT": 0.5}
        assert run["machine"]["cpu"] and run["train_s"] > 0
    assert len(first["runs"][0]["test_probs"]) == first["test_articles"]

    done = subprocess.run([*command, "--variants", "focal", "--folds", "2", "--no_baseline"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    second = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert [r["variant"] for r in second["runs"]] == ["base", "ambiguous", "focal"]
    assert second["runs"][:2] == first["runs"]  # kept as they were
    (cv,) = second["cv"]
    validation = (work / "data" / "negative" / "validation.jsonl").read_text(encoding="utf-8").splitlines()
    assert cv["folds"] == 2 and len(cv["per_fold"]) == 2 and cv["sentences"] == len(base_train) + len(validation)
    # Every train + validation sentence is predicted once, out of fold: the pooled support is every positive.
    positives = sum(len(json.loads(line)["events"]) for line in base_train + validation)
    assert cv["PROTEST"]["pooled_oof"]["support"] + cv["ASSAULT"]["pooled_oof"]["support"] == positives > 0
    assert set(cv["oof_thresholds"]) == {"PROTEST", "ASSAULT"} and set(cv["cv_thresholds"]) >= {"PROTEST", "ASSAULT"}
    text = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| focal | 1 |" in text and "| TF-IDF + logistic regression |" in text
    assert "thresholds from 2-fold out-of-fold probabilities | 1 |" in text and "- base, seed 1, 2 folds:" in text
    assert re.search(r"- PROTEST: best variant mean \d+\.\d: \*\*(met|missed by \d+\.\d points)\*\*", text)


# ------------------------------------------------------------------------------------ peers (run.py --peers)


def peer_modules():
    for folder in ("bench", "bench/peers"):
        if str(ROOT / folder) not in sys.path:
            sys.path.insert(0, str(ROOT / folder))
    import peer_bench
    import peer_common

    return peer_bench, peer_common


def test_peer_predictions_are_scored_on_the_test_words(tmp_path):
    peer_bench, peer_common = peer_modules()
    from common import conll_sentences

    write_conll(SAMPLE / "test.jsonl", tmp_path / "test.txt")
    _, gold = conll_sentences(tmp_path / "test.txt")
    records = peer_bench.sentence_records(str(tmp_path / "test.txt"), join=0)
    # The peers' test sentences are the gold sentences, word for word, in the same order.
    assert [r["tags"] for r in records] == gold
    # Tags -> spans -> tags is the identity on IOB2; overlapping spans keep the first placed.
    for tags in gold:
        assert peer_common.spans_to_tags(len(tags), peer_common.tag_spans(tags)) == tags
    assert peer_common.spans_to_tags(4, [(0, 2, "PERS"), (1, 3, "LOC"), (3, 9, "ORG")]) == [
        "B-PERS",
        "I-PERS",
        "O",
        "B-ORG",
    ]
    # A perfect peer scores 1.0 with akhbar's scorer; one that misses every entity scores 0.
    from run import quality

    assert quality(gold, peer_bench.peer_predictions({"peer": "p", "predictions": gold}, gold))["strict_f1"] == 1.0
    empty = [["O"] * len(t) for t in gold]
    assert quality(gold, peer_bench.peer_predictions({"peer": "p", "predictions": empty}, gold))["strict_f1"] == 0.0
    with pytest.raises(ValueError, match=r"p: 1 predicted sentences for \d+ test sentences"):
        peer_bench.peer_predictions({"peer": "p", "predictions": gold[:1]}, gold)
    with pytest.raises(ValueError, match=r"p: test sentence 0 has \d+ words but 1 predicted tags"):
        peer_bench.peer_predictions({"peer": "p", "predictions": [["O"]] + gold[1:]}, gold)
    with pytest.raises(ValueError, match="tags that are not IOB2: \\['PERS'\\]"):
        peer_bench.peer_predictions({"peer": "p", "predictions": [["PERS"] + g[1:] for g in gold]}, gold)


def test_peer_documents_words_and_schedule(tmp_path):
    peer_bench, peer_common = peer_modules()
    # Sentences joined into documents of up to N words, as akhbar's join_sentences reads them.
    (tmp_path / "t.txt").write_text("a O\nb B-LOC\n\nc O\n\nd B-PERS\ne I-PERS\n", encoding="utf-8")
    records = peer_bench.sentence_records(str(tmp_path / "t.txt"), join=3)
    assert [(r["document_id"], r["sentence_id"], r["tokens"]) for r in records] == [
        (0, 0, ["a", "b"]),
        (0, 1, ["c"]),
        (1, 0, ["d", "e"]),
    ]
    assert records[2]["tags"] == ["B-PERS", "I-PERS"]
    # Long articles: punctuation split off the words, tashkeel kept, one document per article.
    assert peer_bench.words("«قالَ» الرئيس، أمس.") == ["«", "قالَ", "»", "الرئيس", "،", "أمس", "."]
    long = peer_bench.long_records(["جملة أولى. جملة ثانية؟", "نص آخر"])
    assert [(r["document_id"], r["sentence_id"]) for r in long] == [(0, 0), (0, 1), (1, 0)]
    # The recipe's schedule over the clock: warm-up over the first 10%, then linear decay to 0 at the budget.
    clock = peer_common.WallClockSchedule(100.0)
    clock.started = 0.0
    for elapsed, factor in [(5.0, 0.5), (10.0, 1.0), (55.0, 0.5), (100.0, 0.0), (150.0, 0.0)]:
        clock.elapsed = lambda e=elapsed: e
        assert clock.factor() == pytest.approx(factor)
    assert clock.done()
    with pytest.raises(ValueError, match="budget_s must be > 0, got 0"):
        peer_common.WallClockSchedule(0)


def test_peer_options_add_up_and_keep_their_budget_apart(tmp_path):
    peer_bench, _ = peer_modules()
    from run import parse_args

    args = parse_args(["--model", "m", "--out", "o", "--peers", "--flair_args=--learning_rate=5e-5",
                       "--flair_args=--batch_size=8"])  # fmt: skip
    assert args.flair_args == ["--learning_rate=5e-5", "--batch_size=8"] and args.spanmarker_args == []
    assert (
        peer_bench.peer_budget(args) == 1200 and peer_bench.peer_folder(tmp_path, "flair", 42, args).name == "flair-s42"
    )
    args = parse_args(["--model", "m", "--out", "o", "--peers", "--peer_budget_s", "4800"])
    assert peer_bench.peer_folder(tmp_path, "flair", 42, args).name == "flair-budget4800-s42"
    with pytest.raises(SystemExit):
        parse_args(["--model", "m", "--out", "o", "--peers", "--peer_budget_s", "0"])


def test_peer_targets_and_table():
    peer_bench, _ = peer_modules()

    def row(name, f1, per_s):
        speed = {"articles_per_s": per_s, "sub_tokens_per_s": 100 * per_s}
        long = {"float32": speed, "bfloat16": {**speed, "articles_per_s": per_s / 2}} if name == "akhbar" else speed
        q = {"strict_f1": f1, "strict_precision": f1, "strict_recall": f1, "lenient_f1": f1, "per_type_strict_f1": {}}
        return {"name": name, "seed": 1, "quality": q, "train_s": 10.0, "epochs": 0.5, "train_tokens_per_s": 50.0,
                "trained_steps": 3, "peak_rss_mib": 900.0, "long_articles": long}  # fmt: skip

    results = {"runs": [row("akhbar", 0.80, 4.0), row("spanmarker", 0.795, 1.0), row("flair", 0.75, 3.0)]}
    met = peer_bench.targets(results)
    assert [t["met"] for t in met] == [False, False]  # +0.5 points only; 4.0/3.0 < 2x
    assert "akhbar 80.0 vs spanmarker 79.5 (+0.5 points" in met[0]["measured"]
    assert "vs flair 3.00 articles/s (1.33x)" in met[1]["measured"]
    results["runs"][0]["quality"]["strict_f1"] = 0.805
    results["runs"][0]["long_articles"]["float32"]["articles_per_s"] = 6.0
    assert [t["met"] for t in peer_bench.targets(results)] == [True, True]
    results.update(
        model="enc", budget_s=60, command="python bench/run.py --peers", types=[], join_sentences=120,
        data={"train": 3}, test_sentences=2, long_articles={"articles": 1, "sub_tokens": 600},
        machine={"cpu": "CPU", "cores": 2, "torch_threads": 2, "cpu_capability": "AVX2", "load_average_at_start": 1.0,
                 "python": "3.11", "torch": "2"},
    )  # fmt: skip
    results["targets"] = peer_bench.targets(results)
    table = peer_bench.render(results)
    assert "| akhbar | 1 | 10 | 3 | 0.500 |" in table and "CPU capability AVX2" in table
    assert "| flair | 1 | 50 | 900 | 3.00 | 300 | own predict API |" in table and "— **met**" in table
    assert "akhbar reads articles of up to 120 words, the peers documents of up to 120 words" in table
    results.update(join_sentences=0, peer_documents=120)  # akhbar sentence by sentence (its short-budget recipe)
    assert "akhbar reads one sentence at a time, the peers documents of up to 120 words" in peer_bench.render(results)
    # Peers given more time than akhbar (--peer_budget_s): a lead still meets the target, and both budgets show.
    results["peer_budget_s"] = 240
    more = peer_bench.targets(results)
    assert more[0]["met"] and "akhbar trained 60 s, the peers 240 s" in more[0]["measured"]
    assert "training budget akhbar 60 s, peers 240 s" in peer_bench.render(results)
    results["peer_budget_s"] = 30  # less time than akhbar: a lead shows nothing about the same budget
    assert not peer_bench.targets(results)[0]["met"]


@pytest.mark.parametrize("peer", ["spanmarker", "flair"])
def test_peer_runner_smoke(peer, tiny_model_dir, tmp_path):
    """The peer's runner in its environment, a few seconds of training on the sample data; skipped when
    ``python bench/peers/envs.py PEER`` has not made the environment."""
    peer_bench, peer_common = peer_modules()
    import envs

    if not envs.ready(peer):
        pytest.skip(f"no {peer} environment: python bench/peers/envs.py {peer}")
    write_conll(SAMPLE / "train.jsonl", tmp_path / "train.txt")
    write_conll(SAMPLE / "test.jsonl", tmp_path / "test.txt")
    texts = [a["text"] for a in read_articles(SAMPLE / "test.jsonl")[0]][:3]
    peer_bench.write_data(tmp_path / "data", str(tmp_path / "train.txt"), str(tmp_path / "test.txt"), 0, texts)
    command = [
        str(envs.python_of(peer)), str(ROOT / "bench" / "peers" / f"{peer}_runner.py"), "--model", str(tiny_model_dir),
        "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--budget_s", "3", "--seed", "1",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "out" / "result.json").read_text(encoding="utf-8"))
    from common import conll_sentences
    from run import quality

    _, gold = conll_sentences(tmp_path / "test.txt")
    assert 0.0 <= quality(gold, peer_bench.peer_predictions(result, gold))["strict_f1"] <= 1.0
    # Stopped at the first step after the budget: at least one step, not many seconds over.
    assert result["trained_steps"] >= 1 and 3.0 <= result["train_s"] < 60
    assert result["train_tokens_per_s"] > 0 and result["peak_rss_mib"] > 0
    assert result["long_articles"]["articles"] == 3 and result["long_articles"]["articles_per_s"] > 0


@pytest.mark.slow
def test_peers_bench_smoke(tiny_model_dir, tmp_path):
    """``run.py --peers`` end to end on the sample data with a 3-second budget: akhbar under
    bench/budget_train.py and every peer whose environment exists; the table and the targets written."""
    peer_modules()  # bench/ and bench/peers/ on sys.path
    import envs

    peers = [p for p in ("spanmarker", "flair") if envs.ready(p)]
    if not peers:
        pytest.skip("no peer environment: python bench/peers/envs.py spanmarker flair")
    write_conll(SAMPLE / "train.jsonl", tmp_path / "train.txt")
    write_conll(SAMPLE / "test.jsonl", tmp_path / "test.txt")
    out = tmp_path / "results" / "peers"
    command = [
        sys.executable, str(ROOT / "bench" / "run.py"), "--model", str(tiny_model_dir), "--out", str(out),
        "--work", str(tmp_path / "work"), "--seeds", "1", "--peers", "--budget_s", "3", "--peer_names", *peers,
        "--train", str(tmp_path / "train.txt"), "--test", str(tmp_path / "test.txt"),
        "--long", str(SAMPLE / "test.jsonl"), "--long_min_tokens", "60", "--long_articles", "3",
        "--akhbar_set", "max_length=64", "stride=16",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert [r["name"] for r in results["runs"]] == ["akhbar", *peers]
    for row in results["runs"]:
        assert 0.0 <= row["quality"]["strict_f1"] <= 1.0 and row["train_s"] >= 3.0
        assert row["train_tokens_per_s"] > 0 and row["peak_rss_mib"] > 0
    akhbar = results["runs"][0]
    assert akhbar["long_articles"]["float32"]["articles"] == 3 and akhbar["train_s"] < 60  # stopped by the budget
    assert results["machine"]["cpu_capability"] and [t["target"][:9] for t in results["targets"]][0] == "strict F1"
    assert "| akhbar | 1 |" in out.with_suffix(".md").read_text(encoding="utf-8")
    # The same command gives this CPU kind's speed table, on akhbar's package of the run.
    speed = json.loads((out.parent / "peers-speed.json").read_text(encoding="utf-8"))
    assert speed["package"] == akhbar["package"] and speed["long_articles"]["texts"] == 3
    assert "akhbar_onnx_int8" in speed["long_articles"] and len(speed["targets"]) == 2

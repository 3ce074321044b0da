"""ONNX export of packaged models and the onnx inference backend, on packages built from the tiny encoder."""

import json
import shutil
import sys

import numpy as np
import pytest
from conftest import SAMPLE, train_args

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from akhbar.cli import main as cli  # noqa: E402
from akhbar.inference import EventClassifier, NerTagger  # noqa: E402
from akhbar.manifest import verify_manifest  # noqa: E402
from akhbar.onnx import MissingDependency  # noqa: E402
from akhbar.onnx.export import export_onnx  # noqa: E402
from akhbar.training import main as train  # noqa: E402

pytestmark = pytest.mark.slow
TEST_TEXTS = [json.loads(line)["text"] for line in (SAMPLE / "test.jsonl").read_text(encoding="utf-8").splitlines()]
SCHEMA = ["PERS", "LOC", "ORG", "MISC"]
TRAIN_TEXTS = [json.loads(line)["text"] for line in (SAMPLE / "train.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def ner_package(random_packages):
    """A packaged NER model with a random head that tags many words (never exported: tests copy it before
    writing into it)."""
    return random_packages[0]


@pytest.fixture(scope="module")
def ner_exported(ner_package, tmp_path_factory):
    package = tmp_path_factory.mktemp("onnx-ner-exported") / "ner-sample"
    shutil.copytree(ner_package, package)
    return package, export_onnx(package, quantize="int8")


def without_scores(results):
    return [[{k: v for k, v in e.items() if k != "score"} for e in entities] for entities in results]


def manifest_info(package):
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    return {k: v for k, v in manifest.items() if k != "files"}


def test_export_writes_fp32_and_int8_and_the_package_still_verifies(ner_package, ner_exported):
    package, result = ner_exported
    assert sorted(p.name for p in (package / "onnx").iterdir()) == ["model.int8.onnx", "model.onnx"]
    assert set(result["files"]) == {"onnx/model.onnx", "onnx/model.int8.onnx"}
    assert result["files"]["onnx/model.int8.onnx"] < result["files"]["onnx/model.onnx"]
    assert result["task"] == "ner" and result["inputs"][:2] == ["input_ids", "attention_mask"]
    assert result["windows"] >= 3
    fp32, int8 = result["parity"]["onnx/model.onnx"], result["parity"]["onnx/model.int8.onnx"]
    assert fp32["max_abs_diff"] < 1e-4 and fp32["argmax_agreement"] == 1.0 and fp32["compared"] > 100
    assert np.isfinite(int8["max_abs_diff"]) and 0.0 <= int8["argmax_agreement"] <= 1.0
    print(f"parity fp32 {fp32}, int8 {int8}")
    manifest = verify_manifest(package)  # the rewritten manifest lists the new files, and only them
    assert {"onnx/model.onnx", "onnx/model.int8.onnx"} <= set(manifest["files"])
    assert manifest_info(package) == manifest_info(ner_package)
    assert [p.name for p in package.parent.iterdir()] == ["ner-sample"]  # no partial folder left beside it

    import onnxruntime as ort

    session = ort.InferenceSession(str(package / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape) for i in session.get_inputs()][:2] == [
        ("input_ids", ["batch", "sequence"]),
        ("attention_mask", ["batch", "sequence"]),
    ]
    assert [o.name for o in session.get_outputs()] == ["logits"]


def test_int8_weights_have_one_scale_per_output_channel(ner_exported):
    """Per-channel weight quantization (measured: 89% entity agreement with the pipeline vs 81% per-tensor)."""
    import onnx
    from onnx import numpy_helper

    package, _ = ner_exported
    graph = onnx.load(str(package / "onnx" / "model.int8.onnx")).graph
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    matmuls = [n for n in graph.node if n.op_type == "MatMulInteger"]
    assert len(matmuls) >= 4  # the attention and feed-forward products of every layer at least
    for node in matmuls:
        weight = values[node.input[1]]  # int8 [in, out]; its zero point is input 3, its scale multiplies after
        assert weight.dtype == np.int8 and weight.ndim == 2
        assert values[node.input[3]].shape == (weight.shape[1],), node.name  # one zero point per output channel
    scales = [v for name, v in values.items() if name.endswith("_scale") and v.ndim == 1 and v.size > 1]
    assert scales and all(np.all(v > 0) for v in scales)


def test_onnx_tagger_matches_torch_on_the_sample_texts(ner_exported):
    package, _ = ner_exported
    torch_tagger = NerTagger.from_pretrained(package, device="cpu", precision="float32")
    onnx_tagger = NerTagger.from_pretrained(package, backend="onnx")
    assert onnx_tagger.backend == "onnx" and torch_tagger.backend == "torch"
    expected, got = torch_tagger.tag(TEST_TEXTS), onnx_tagger.tag(TEST_TEXTS)
    assert [t.tags for t in got] == [t.tags for t in expected]
    np.testing.assert_allclose(sum((t.scores for t in got), []), sum((t.scores for t in expected), []), atol=1e-5)
    entities = torch_tagger.predict(TEST_TEXTS)
    assert sum(map(len, entities)) > 20, "many entities, or this comparison proves little"
    assert without_scores(onnx_tagger.predict(TEST_TEXTS)) == without_scores(entities)

    int8 = NerTagger.from_pretrained(package, backend="onnx", onnx_file="model.int8.onnx").tag(TEST_TEXTS)
    labels = set(torch_tagger.id2label.values())
    assert [len(t.tags) for t in int8] == [len(t.tags) for t in expected]
    assert all(tag in labels for t in int8 for tag in t.tags)
    pairs = [(a, b) for t, e in zip(int8, expected) for a, b in zip(t.tags, e.tags)]
    agreement = sum(a == b for a, b in pairs) / len(pairs)
    print(f"int8 vs torch: {agreement:.2%} of {len(pairs)} word tags agree")
    # A loose floor, not a promise: quantization error is small beside this model's logit margins.
    assert agreement >= 0.9


def test_bfloat16_precision_tags_every_word_and_is_checked(ner_package):
    # (Here for the package fixture; bfloat16 is the torch backend's.) Same words, valid tags, mostly the
    # float32 tags: bfloat16 keeps 8 bits of mantissa, so only near-ties may flip.
    fp32 = NerTagger.from_pretrained(ner_package, device="cpu", precision="float32").tag(TEST_TEXTS)
    tagger = NerTagger.from_pretrained(ner_package, device="cpu", precision="bfloat16")
    bf16 = tagger.tag(TEST_TEXTS)
    assert tagger.precision == "bfloat16"
    assert [len(t.tags) for t in bf16] == [len(t.tags) for t in fp32]
    pairs = [(a, b) for t, e in zip(bf16, fp32) for a, b in zip(t.tags, e.tags)]
    agreement = sum(a == b for a, b in pairs) / len(pairs)
    print(f"bfloat16 vs float32: {agreement:.2%} of {len(pairs)} word tags agree")
    assert agreement >= 0.9
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        NerTagger.from_pretrained(ner_package, precision="fp8")


def test_long_text_in_many_windows_and_batches(ner_exported):
    package, _ = ner_exported
    from akhbar.windows import encode_words

    long_text = "\n\n".join(TRAIN_TEXTS)
    expected = NerTagger.from_pretrained(package, device="cpu", precision="float32").tag([long_text, "قال"])
    tagger = NerTagger.from_pretrained(package, backend="onnx", batch_size=4)  # batches of unequal padding
    got = tagger.tag([long_text, "قال"])
    settings = tagger.settings
    assert len(encode_words(tagger.tokenizer, got[0].words, settings.max_length, settings.stride).input_ids) > 20
    assert [t.tags for t in got] == [t.tags for t in expected]
    assert got[0].missing_words == expected[0].missing_words
    # The onnx backend's CPU default: passes of at most 1,024 padded tokens (BENCHMARKS.md); the same tags.
    default = NerTagger.from_pretrained(package, backend="onnx")
    assert (default.batch_size, default.batch_tokens) == (None, 1024)
    assert [t.tags for t in default.tag([long_text, "قال"])] == [t.tags for t in expected]


def test_missing_export_and_bad_options_say_what_to_do(ner_package, capsys, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"onnx/model\.onnx: not found.*run `akhbar export-onnx .*ner-sample`"):
        NerTagger.from_pretrained(ner_package, backend="onnx")
    with pytest.raises(FileNotFoundError, match=r"export-onnx .*ner-sample --quantize int8`"):
        NerTagger.from_pretrained(ner_package, backend="onnx", onnx_file="model.int8.onnx")
    with pytest.raises(ValueError, match=r"unknown backend 'tf'"):
        NerTagger.from_pretrained(ner_package, backend="tf")
    with pytest.raises(ValueError, match=r"onnx_file must be a file name"):
        NerTagger.from_pretrained(ner_package, backend="onnx", onnx_file="../model.onnx")
    with pytest.raises(ValueError, match=r"unknown quantization 'fp16'"):
        export_onnx(ner_package, quantize="fp16")
    with pytest.raises(ValueError, match=r"opset 13 is too old"):
        export_onnx(ner_package, opset=13)
    inputs = tmp_path / "in.txt"
    inputs.write_text("زار الوزير بيروت\n", encoding="utf-8")
    assert cli(["predict", "--model", str(ner_package), "--backend", "onnx", str(inputs)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "run `akhbar export-onnx" in err
    assert cli(["export-onnx", str(ner_package.parent / "nothing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert not (ner_package / "onnx").exists()


def test_without_onnxruntime_the_error_says_how_to_install(ner_exported, monkeypatch):
    package, _ = ner_exported
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(MissingDependency, match=r'pip install "akhbar\[onnx\]"') as raised:
        NerTagger.from_pretrained(package, backend="onnx")
    assert isinstance(raised.value, ImportError) and isinstance(raised.value, ValueError)  # CLI: one line, exit 2
    NerTagger.from_pretrained(package, device="cpu", precision="float32").predict(
        "زار الوزير بيروت"
    )  # torch inference still works


def test_cli_predict_with_the_onnx_backend(ner_exported, capsys, tmp_path):
    package, _ = ner_exported
    inputs = tmp_path / "in.txt"
    inputs.write_text("\n".join(TEST_TEXTS[:2]) + "\n", encoding="utf-8")
    outputs = {}
    for backend in ("torch", "onnx"):
        args = ["predict", "--model", str(package), "--backend", backend, "--device", "cpu", "--precision", "float32"]
        assert cli([*args, str(inputs)]) == 0
        outputs[backend] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(outputs["onnx"]) == 2
    assert [[(e["start"], e["end"], e["label"]) for e in o["entities"]] for o in outputs["onnx"]] == [
        [(e["start"], e["end"], e["label"]) for e in o["entities"]] for o in outputs["torch"]
    ]
    args = ["predict", "--model", str(package), "--backend", "onnx", "--onnx_file", "model.int8.onnx", str(inputs)]
    assert cli(args) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    # The float32 export reproduces the report the package was made with.
    args = ["evaluate", "--model", str(package), "--data", str(SAMPLE / "test.jsonl"), "--backend", "onnx"]
    assert cli([*args, "--output", str(tmp_path / "eval")]) == 0
    packaged = json.loads((package / "eval_report.json").read_text(encoding="utf-8"))
    again = json.loads((tmp_path / "eval" / "eval_report.json").read_text(encoding="utf-8"))
    assert again["strict"] == packaged["strict"] and again["lenient"] == packaged["lenient"]


def test_event_package_export_cli_and_classifier(tiny_model_dir, ner_exported, tmp_path, capsys):
    train(train_args("events-sample.yaml", tiny_model_dir, tmp_path, max_steps=4, early_stopping_patience=1000))
    package = tmp_path / "models" / "events-sample"
    capsys.readouterr()  # drop the training logs
    assert cli(["export-onnx", str(package), "--quantize", "int8"]) == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    # Progress on stderr before each step; a warning when int8 changes more than 1% of the check's predictions.
    assert "exporting events-sample to ONNX" in captured.err and "checking parity with PyTorch on" in captured.err
    agreement = float(out[1].split("argmax agreement ")[1].split("%")[0]) / 100
    assert ("warning: onnx/model.int8.onnx picks another label" in captured.err) == (agreement < 0.99)
    assert out[0].startswith(f"wrote {package / 'onnx' / 'model.onnx'}") and "max |logit diff|" in out[0]
    assert out[1].startswith(f"wrote {package / 'onnx' / 'model.int8.onnx'}") and "argmax agreement" in out[1]
    assert "rewrote" in out[-1] and "--backend onnx" in out[-1]
    verify_manifest(package)

    texts = [*TEST_TEXTS, "\n".join(TRAIN_TEXTS[:4]), "تظاهر الطلاب"]
    expected = EventClassifier.from_pretrained(package, device="cpu", precision="float32").scores(texts)
    got = EventClassifier.from_pretrained(package, backend="onnx").scores(texts)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    int8 = EventClassifier.from_pretrained(package, backend="onnx", onnx_file="model.int8.onnx").scores(texts)
    assert int8.shape == expected.shape and ((int8 >= 0) & (int8 <= 1)).all()
    print(f"events int8 vs torch: max |probability difference| {np.abs(int8 - expected).max():.2g}")

    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    results = {}
    capsys.readouterr()
    for backend in ("torch", "onnx"):
        args = ["analyze", "--ner", str(ner_exported[0]), "--events", str(package), "--backend", backend]
        args += ["--precision", "float32"]
        assert cli([*args, "--device", "cpu", str(inputs)]) == 0
        results[backend] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(results["onnx"]) == len(texts)
    for a, b in zip(results["onnx"], results["torch"]):
        assert [(e["start"], e["label"]) for e in a["entities"]] == [(e["start"], e["label"]) for e in b["entities"]]
        assert [e["label"] for e in a["events"]] == [e["label"] for e in b["events"]]

    # A new export replaces the onnx/ folder as a whole: without --quantize the int8 file is gone.
    assert cli(["export-onnx", str(package), "--no-check"]) == 0
    assert "parity check skipped" in capsys.readouterr().out
    assert [p.name for p in (package / "onnx").iterdir()] == ["model.onnx"]
    verify_manifest(package)
    with pytest.raises(FileNotFoundError, match=r"model\.int8\.onnx: not found.*--quantize int8"):
        EventClassifier.from_pretrained(package, backend="onnx", onnx_file="model.int8.onnx")

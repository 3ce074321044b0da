"""Event classification: pooling, thresholds, mode checks, and end to end on the sample (tiny model)."""

import json
import re

import numpy as np
import pytest
import torch
from conftest import SAMPLE, train_args
from transformers import AutoModelForSequenceClassification, pipeline

from akhbar.cli import main as cli
from akhbar.events import decide, pool_logits, tune_thresholds
from akhbar.inference import Analyzer, EventClassifier
from akhbar.training import main as train

EVENTS = ["PROTEST", "ASSAULT", "ARREST", "ELECTION", "AIRSTRIKE"]


def test_pooling_mean_and_max():
    logits = torch.tensor([[1.0, 2.0], [3.0, 0.0], [5.0, 5.0]])
    article = torch.tensor([0, 0, 1])
    assert pool_logits(logits, article, 2, "mean").tolist() == [[2.0, 1.0], [5.0, 5.0]]
    assert pool_logits(logits, article, 2, "max").tolist() == [[3.0, 2.0], [5.0, 5.0]]
    with pytest.raises(ValueError, match="unknown pooling 'sum'"):
        pool_logits(logits, article, 2, "sum")


def test_thresholds_maximize_f1_and_decide_uses_them():
    probs = np.array([[0.9, 0.1], [0.4, 0.2], [0.6, 0.7], [0.3, 0.65]])
    gold = np.array([[1, 0], [0, 0], [1, 1], [0, 1]])
    thresholds = tune_thresholds(probs, gold, ["A", "B"])
    assert thresholds == {"A": 0.6, "B": 0.65}
    assert decide(probs, ["A", "B"], True, thresholds) == [
        [{"label": "A", "score": 0.9}],
        [],
        [{"label": "B", "score": 0.7}, {"label": "A", "score": 0.6}],
        [{"label": "B", "score": 0.65}],
    ]
    assert decide(probs, ["A", "B"], False, None)[3] == [{"label": "B", "score": 0.65}]
    # A positive at 0.97496: rounding the candidate up (to 0.975) would put the positive under its own threshold.
    probs, gold = np.array([[0.97496], [0.97496], [0.02]]), np.array([[1], [1], [0]])
    (threshold,) = tune_thresholds(probs, gold, ["A"]).values()
    assert threshold == 0.9749 and [len(d) for d in decide(probs, ["A"], True, {"A": threshold})] == [1, 1, 0]


def sample_args(model, folder, **overrides):
    settings = {"max_steps": 30, "early_stopping_patience": 1000, **overrides}
    return train_args("events-sample.yaml", model, folder, **settings)


def test_single_label_mode_rejects_articles_with_several_events(tiny_model_dir, tmp_path):
    with pytest.raises(
        ValueError,
        match=r"train\.jsonl \(article 'sample-train-\d+'\): has [02] event labels .* "
        r"single-label mode needs exactly one; set multi_label: true",
    ):
        train(sample_args(tiny_model_dir, tmp_path, multi_label="false"))
    assert not (tmp_path / "run").exists()


def test_unknown_event_label_is_rejected(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match=r"event label\(s\) \['ELECTION'\] not in the schema"):
        train(sample_args(tiny_model_dir, tmp_path, event_labels=["PROTEST", "ASSAULT", "ARREST", "AIRSTRIKE"]))


def test_focal_loss_and_oversampling_reach_training(tiny_model_dir, tmp_path, caplog):
    # The levers are config keys: a short run says what it did (how many rows, which loss) and packages.
    with caplog.at_level("INFO", logger="akhbar"):
        train(sample_args(tiny_model_dir, tmp_path, max_steps=4, event_loss="focal", oversample_positives=3))
    said = caplog.text
    found = re.search(r"oversample_positives: (\d+) articles with an event label repeated 3 times: (\d+) training "
                      r"rows instead of (\d+)", said)  # fmt: skip
    assert found, said[-2000:]
    positives, rows, before = map(int, found.groups())
    assert positives > 0 and rows == before + 2 * positives
    assert "loss: focal, gamma 2" in said
    assert (tmp_path / "models" / "events-sample" / "model.safetensors").is_file()


@pytest.fixture(scope="module")
def multi(tiny_model_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("events-multi")
    train(sample_args(tiny_model_dir, folder))
    return folder / "models" / "events-sample"


@pytest.mark.slow
def test_multi_label_package_saves_and_reloads_thresholds(multi):
    settings = json.loads((multi / "akhbar.json").read_text(encoding="utf-8"))
    assert settings["task"] == "events" and settings["multi_label"] and settings["event_labels"] == EVENTS
    assert set(settings["thresholds"]) == set(EVENTS) and all(0 < t < 1 for t in settings["thresholds"].values())
    classifier = EventClassifier.from_pretrained(multi, precision="float32")
    assert classifier.settings.thresholds == settings["thresholds"]
    model = AutoModelForSequenceClassification.from_pretrained(multi)
    assert model.config.problem_type == "multi_label_classification"
    assert [model.config.id2label[i] for i in range(5)] == EVENTS
    scores = pipeline("text-classification", model=str(multi), top_k=None, device="cpu")("تظاهر الطلاب أمام الوزارة")
    assert {s["label"] for s in scores[0]} == set(EVENTS)
    report = json.loads((multi / "eval_report.json").read_text(encoding="utf-8"))
    assert report["mode"] == "multi-label" and "subset_accuracy" in report and 0 <= report["macro"]["f1"] <= 1
    assert report["data"]["articles"] == 5
    assert {p.name for p in multi.glob("pr_curve_*.png")} >= {"pr_curve_PROTEST.png"}


@pytest.mark.slow
def test_long_article_windows_are_pooled(multi):
    classifier = EventClassifier.from_pretrained(multi, precision="float32")
    articles = [json.loads(line) for line in (SAMPLE / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    long_text = "\n".join(a["text"] for a in articles[:4])
    probs = classifier.scores([long_text])
    # By hand: every window through the model, logits averaged, sigmoid.
    from akhbar.windows import encode_article

    settings = classifier.settings
    _, enc = encode_article(
        classifier.tokenizer, long_text, settings.preprocessing, settings.max_length, settings.stride
    )
    assert len(enc.input_ids) > 5
    with torch.inference_mode():
        logits = torch.cat([classifier.model(input_ids=torch.tensor([ids])).logits for ids in enc.input_ids])
    expected = torch.sigmoid(logits.mean(dim=0)).numpy()
    np.testing.assert_allclose(probs[0], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_single_label_end_to_end(tiny_model_dir, tmp_path):
    # One label per article: the sample's single-event articles, the others as NONE.
    for split in ("train", "validation", "test"):
        rows = [json.loads(line) for line in (SAMPLE / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]
        for row in rows:
            row["events"] = row["events"][:1] or ["NONE"]
        (tmp_path / f"{split}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8"
        )
    train(
        sample_args(
            tiny_model_dir, tmp_path, data=tmp_path, multi_label="false", pooling="max", event_labels=[*EVENTS, "NONE"]
        )
    )
    package = tmp_path / "models" / "events-sample"
    report = json.loads((package / "eval_report.json").read_text(encoding="utf-8"))
    assert report["mode"] == "single-label" and report["pooling"] == "max"
    assert len(report["confusion_matrix"]["matrix"]) == 6 and (package / "confusion_matrix.png").is_file()
    predictions = EventClassifier.from_pretrained(package).predict(["تظاهر الطلاب", "فاز الفريق"])
    assert [len(p) for p in predictions] == [1, 1]
    assert (
        AutoModelForSequenceClassification.from_pretrained(package).config.problem_type == "single_label_classification"
    )


@pytest.mark.slow
def test_analyzer_and_cli(multi, tiny_model_dir, tmp_path, capsys):
    # An NER package from the same tiny encoder, then both models on a long article.
    train(train_args("ner-sample.yaml", tiny_model_dir, tmp_path, max_steps=60, early_stopping_patience=1000))
    ner = tmp_path / "models" / "ner-sample"
    articles = [json.loads(line) for line in (SAMPLE / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    long_text = "\n".join(a["text"] for a in articles)
    analyzer = Analyzer.from_pretrained(ner=ner, events=multi, precision="float32")
    (result,) = analyzer.predict([long_text])
    assert set(result) == {"entities", "events"}
    assert result["entities"], "the NER model should find entities in its own training text"
    for e in result["entities"]:
        assert long_text[e["start"] : e["end"]] == e["text"]
    assert all(e["label"] in EVENTS for e in result["events"])
    # A text with no word has no entity and no event (the model would still answer for [CLS] [SEP]).
    assert analyzer.predict(["", " \u0640 ", "\u064e"]) == [{"entities": [], "events": []}] * 3

    inputs = tmp_path / "in.jsonl"
    inputs.write_text(
        json.dumps({"text": long_text}, ensure_ascii=False) + "\nتظاهر الطلاب في عمّان\n", encoding="utf-8"
    )
    capsys.readouterr()  # drop the training logs
    assert cli(["analyze", "--ner", str(ner), "--events", str(multi), "--precision", "float32", str(inputs)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and lines[0]["entities"] == result["entities"] and [r["line"] for r in lines] == [1, 2]
    assert (
        cli(
            [
                *["evaluate", "--model", str(multi), "--data", str(SAMPLE / "test.jsonl")],
                *["--output", str(tmp_path / "ev"), "--precision", "float32"],
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "ev" / "eval_report.json").read_text(encoding="utf-8"))
    packaged = json.loads((multi / "eval_report.json").read_text(encoding="utf-8"))
    assert again["macro"] == packaged["macro"] and again["per_label"] == packaged["per_label"]


def test_unjudged_labels_are_unknown_not_negative(tmp_path, capsys):
    # "judged" is validated with the article; an unjudged label is -1 in the targets: out of the loss, the
    # scores and threshold tuning.
    import torch

    from akhbar.articles import read_articles
    from akhbar.events import tune_thresholds
    from akhbar.metrics import classification_scores
    from akhbar.tasks.events import ArticleLoss, gold_matrix

    path = tmp_path / "a.jsonl"
    rows = [
        {"id": "a", "text": "تظاهر الطلاب", "events": ["PROTEST"], "judged": ["PROTEST"]},
        {"id": "b", "text": "هاجم مسلحون", "events": [], "judged": ["ASSAULT"]},
        {"id": "c", "text": "افتتح الوزير معرضا", "events": []},
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    articles, _ = read_articles(path)
    assert [a.get("judged") for a in articles] == [["PROTEST"], ["ASSAULT"], None]
    assert cli(["validate", str(path)]) == 0
    said = capsys.readouterr().out
    assert "; 0 entities (none); events: PROTEST 1" in said
    assert (
        "judged: 2 of 3 articles judged only some labels (PROTEST 1, ASSAULT 1); the others judged every label" in said
    )
    gold = gold_matrix(articles, ["PROTEST", "ASSAULT"], True)
    assert gold.tolist() == [[1, -1], [-1, 0], [0, 0]]

    # Article a says nothing about ASSAULT: predicting it there is no false positive.
    probs = np.array([[0.9, 0.9], [0.9, 0.1], [0.1, 0.1]])
    scores = classification_scores(probs, gold, ["PROTEST", "ASSAULT"], True, None)
    assert scores["per_label"]["ASSAULT"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert scores["per_label"]["PROTEST"]["precision"] == 1.0 and scores["per_label"]["PROTEST"]["recall"] == 1.0
    assert scores["subset_accuracy"] == 1.0 and scores["judged_cells"] == 4
    assert tune_thresholds(probs, gold, ["PROTEST", "ASSAULT"])["PROTEST"] == 0.9

    # The loss of an unjudged cell is zero whatever the logit.
    loss = ArticleLoss("mean", True)
    labels = torch.tensor([[1.0, -1.0]])

    def model(**inputs):
        return type("Out", (), {"logits": logits})()

    inputs = {"input_ids": torch.zeros((1, 3), dtype=torch.long), "attention_mask": torch.ones((1, 3))}
    inputs.update(labels=labels, window_article=torch.tensor([0]))
    logits = torch.tensor([[2.0, 5.0]])
    first, _ = loss(model, inputs)
    logits = torch.tensor([[2.0, -5.0]])
    second, _ = loss(model, inputs)
    assert torch.isclose(first, second)

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "text": "نص", "events": ["PROTEST"], "judged": ["ASSAULT"]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:1 .*events \['PROTEST'\] are not in 'judged' \['ASSAULT'\]"):
        read_articles(bad)


def test_judged_lists_survive_jsonl_and_are_not_lost_silently_elsewhere(tmp_path):
    from akhbar.articles import read_articles
    from akhbar.formats import WriteOptions, write_articles

    article = {"id": "a", "text": "تظاهر الطلاب", "entities": [], "events": ["PROTEST"], "judged": ["PROTEST"]}
    write_articles([article], tmp_path / "a.jsonl", "jsonl")
    assert read_articles(tmp_path / "a.jsonl")[0] == [article]
    with pytest.raises(ValueError, match="was judged for \\['PROTEST'\\] only, and label-studio has no place"):
        write_articles([article], tmp_path / "a.json", "label-studio")
    options = write_articles([article], tmp_path / "a.json", "label-studio", WriteOptions(skip_unrepresentable=True))
    assert options.dropped["judged lists"] == 1


def test_focal_loss_is_cross_entropy_at_gamma_zero_and_favours_hard_examples():
    # event_loss: focal (issue 17's lever): gamma 0 is the cross-entropy exactly; with gamma 2 an example the
    # model already gets right loses far more of its weight than one it gets wrong; unjudged cells stay out.
    from akhbar.tasks.events import ArticleLoss

    def loss_of(loss, logits, labels):
        inputs = {"input_ids": torch.zeros((len(labels), 3), dtype=torch.long)}
        inputs.update(attention_mask=torch.ones((len(labels), 3)), labels=labels)
        inputs["window_article"] = torch.arange(len(labels))
        return loss(lambda **_: type("Out", (), {"logits": logits})(), inputs)[0]

    multi = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
    logits = torch.tensor([[3.0, -2.0], [0.5, 4.0]])
    weights = torch.tensor([4.0, 2.0])
    for w in (None, weights):
        plain = loss_of(ArticleLoss("mean", True, w), logits, multi)
        assert torch.isclose(loss_of(ArticleLoss("mean", True, w, focal_gamma=0.0), logits, multi), plain)
    single = torch.tensor([0, 1, 1])
    three = torch.tensor([[2.0, -1.0], [0.0, 3.0], [1.0, -1.0]])
    for w in (None, torch.tensor([1.0, 3.0])):
        plain = loss_of(ArticleLoss("mean", False, w), three, single)
        assert torch.isclose(loss_of(ArticleLoss("mean", False, w, focal_gamma=0.0), three, single), plain)

    easy, hard = torch.tensor([[4.0]]), torch.tensor([[-1.0]])
    target = torch.tensor([[1.0]])
    focal, plain = ArticleLoss("mean", True, focal_gamma=2.0), ArticleLoss("mean", True)
    examples = {"easy": easy, "hard": hard}
    ratio = {name: loss_of(focal, x, target) / loss_of(plain, x, target) for name, x in examples.items()}
    assert ratio["easy"] < 0.001 and ratio["hard"] > 0.5  # (1 - p)^2: p = 0.982 and 0.269
    # The unjudged cell (-1) adds nothing, whatever its logit.
    other = torch.tensor([[3.0, -2.0], [0.5, -9.0]])
    assert torch.isclose(loss_of(focal, logits, multi), loss_of(focal, other, multi))


def test_oversampling_repeats_articles_with_an_event_and_keeps_the_rest_in_order():
    import datasets

    from akhbar.tasks.events import oversampled

    rows = datasets.Dataset.from_dict(
        {"windows": [[[1]], [[2]], [[3]], [[4]]], "labels": [[0, 0], [1, -1], [-1, 0], [0, 1]], "length": [1] * 4}
    )
    out = oversampled(rows, 3)
    assert [w[0][0] for w in out["windows"]] == [1, 2, 3, 4, 2, 4, 2, 4]
    assert oversampled(rows.select([0, 2]), 3)["windows"] == [[[1]], [[3]]]  # no positives: unchanged

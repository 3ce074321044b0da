"""Sentence events on articles: aggregation over sentences and the evidence each event carries."""

import dataclasses
import json

import numpy as np
import pytest
from conftest import ROOT

from akhbar.inference import EventClassifier, SentenceEventClassifier, load_package

LEGACY = ROOT / "tests" / "data" / "legacy" / "events-sample"

# Written for this test: a long article whose only protest is reported in its third sentence.
ARTICLE = (
    "افتتح وزير الثقافة صباح اليوم معرض الكتاب في دورته الجديدة بحضور عدد من الكتاب والناشرين.\n"
    "وقال الوزير في كلمته إن المعرض يضم أكثر من ألف دار نشر من عشرين بلدا.  "
    "وفي المساء تظاهر مئات الطلاب أمام مبنى الوزارة احتجاجا على رفع الرسوم الجامعية! "
    "وتستمر فعاليات المعرض حتى نهاية الشهر المقبل؟ نعم، بحسب المنظمين."
)


def classifier(aggregation="max", thresholds=None):
    directory, settings = load_package(LEGACY)
    labels = settings.event_labels
    settings = dataclasses.replace(
        settings, task="sentence_events", aggregation=aggregation, thresholds=thresholds or dict.fromkeys(labels, 0.5)
    )
    return SentenceEventClassifier.from_verified(directory, settings, verified=False)


@pytest.fixture
def scripted(monkeypatch):
    """Sentence probabilities from the words in them, so that what the model reads is known."""

    def scores(self, texts, show_progress=False, words=None):
        rows = []
        for text in texts:
            row = np.full(len(self.settings.event_labels), 0.1)
            if "تظاهر" in text:
                row[self.settings.event_labels.index("PROTEST")] = 0.9
            if "الوزير" in text:
                row[self.settings.event_labels.index("ELECTION")] = 0.3
            rows.append(row)
        return np.array(rows)

    monkeypatch.setattr(EventClassifier, "scores", scores)


def test_the_event_points_to_its_sentence(scripted):
    (events,) = classifier().predict([ARTICLE])
    assert [e["label"] for e in events] == ["PROTEST"]
    (evidence,) = events[0]["evidence"]
    assert ARTICLE[evidence["start"] : evidence["end"]] == (
        "وفي المساء تظاهر مئات الطلاب أمام مبنى الوزارة احتجاجا على رفع الرسوم الجامعية!"
    )
    assert events[0]["score"] == evidence["score"] == 0.9
    assert classifier().predict(["", "  \n "]) == [[], []]


def test_noisy_or_adds_up_weak_mentions(scripted):
    # One sentence at 0.3 for ELECTION and four at 0.1: max 0.3 stays below 0.5, noisy-OR 1 - 0.7 * 0.9^4 = 0.54
    # passes. No sentence passes on its own, so the evidence is the most confident one.
    labels = ["PROTEST", "ASSAULT", "ARREST", "ELECTION", "AIRSTRIKE"]
    assert "ELECTION" not in [e["label"] for e in classifier("max").predict([ARTICLE])[0]]
    events = {e["label"]: e for e in classifier("noisy_or").predict([ARTICLE])[0]}
    assert events["ELECTION"]["score"] == pytest.approx(1 - 0.7 * 0.9**4, abs=1e-4)
    (evidence,) = events["ELECTION"]["evidence"]
    assert "الوزير" in ARTICLE[evidence["start"] : evidence["end"]]
    probs = classifier("noisy_or").scores([ARTICLE, "كلمة"])
    assert probs.shape == (2, len(labels)) and ((probs >= 0) & (probs <= 1)).all()


def sentence_package(tmp_path):
    """A sentence-events package made from the legacy one (its akhbar.json re-written, the manifest rehashed)."""
    import shutil

    from akhbar.manifest import write_manifest

    package = tmp_path / "sentence-events"
    shutil.copytree(LEGACY, package)
    settings = json.loads((package / "akhbar.json").read_text(encoding="utf-8"))
    settings.update(task="sentence_events", aggregation="max", thresholds=dict.fromkeys(settings["event_labels"], 0.5))
    (package / "akhbar.json").write_text(json.dumps(settings), encoding="utf-8")
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    write_manifest(package, {k: v for k, v in manifest.items() if k not in ("format", "files")})
    return package


def test_the_analyzer_returns_evidence(scripted, tmp_path, capsys):
    from akhbar.cli import main as cli

    package = sentence_package(tmp_path)
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(json.dumps({"id": "a-1", "text": ARTICLE}, ensure_ascii=False) + "\n", encoding="utf-8")
    ner = ROOT / "tests" / "data" / "legacy" / "ner-sample"
    assert cli(["analyze", "--ner", str(ner), "--events", str(package), str(inputs)]) == 0
    (result,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert result["id"] == "a-1" and [e["label"] for e in result["events"]] == ["PROTEST"]
    (evidence,) = result["events"][0]["evidence"]
    assert "تظاهر" in ARTICLE[evidence["start"] : evidence["end"]]


def test_the_service_and_ray_return_evidence(scripted, tmp_path):
    # The same package behind akhbar serve (/v1/analyze, /v1/events) and in Ray Data rows: the evidence comes along.
    pytest.importorskip("fastapi")
    httpx = pytest.importorskip("httpx")
    from conftest import live_server

    from akhbar.serve.app import create_app
    from akhbar.serve.models import ServedModels

    package = sentence_package(tmp_path)
    ner = ROOT / "tests" / "data" / "legacy" / "ner-sample"
    models = ServedModels.load(ner, package, device="cpu", precision="float32")
    assert models.info["events"]["task"] == "sentence_events"
    with live_server(create_app(models)) as base, httpx.Client(base_url=base, timeout=60) as client:
        for route in ("/v1/analyze", "/v1/events"):
            (result,) = client.post(route, json={"texts": [ARTICLE]}).json()["results"]
            (event,) = result["events"]
            (evidence,) = event["evidence"]
            assert event["label"] == "PROTEST" and "تظاهر" in ARTICLE[evidence["start"] : evidence["end"]], route

    pytest.importorskip("ray")
    from akhbar.ray_data import AkhbarAnalyzer

    pa = pytest.importorskip("pyarrow")
    rows = AkhbarAnalyzer(ner, package, device="cpu", precision="float32")(
        pa.table({"id": ["a-1"], "text": [ARTICLE]})
    ).to_pylist()
    (event,) = rows[0]["events"]
    (evidence,) = event["evidence"]
    assert event["label"] == "PROTEST" and "تظاهر" in ARTICLE[evidence["start"] : evidence["end"]]


def test_the_report_gives_the_evidence_and_the_sentence_behind_each_wrong_event(scripted, tmp_path):
    # An article where the protest sentence is found (right), one where a protest is found though the article's
    # gold says none (wrong: the report quotes the sentence that made the model decide), and one not judged for
    # PROTEST (its protest is no error and is not quoted).
    from akhbar.tasks import get_task

    task = get_task("sentence_events")
    model = classifier()
    articles = [
        {"id": "right", "text": ARTICLE, "entities": [], "events": ["PROTEST"]},
        {"id": "wrong", "text": "خبر أول. وتظاهر العمال في الساحة.", "entities": [], "events": []},
        {"id": "unjudged", "text": "تظاهر السكان.", "entities": [], "events": [], "judged": ["ASSAULT"]},
    ]
    report = task.evaluate(model, articles, "mine.jsonl", show_progress=False)
    assert report["task"] == "sentence_events" and report["aggregation"] == "max"
    assert report["evidence"]["PROTEST"] == {"events": 3, "sentences_mean": 1.0, "one_sentence_share": 1.0}
    assert [e["article"] for e in report["errors"]] == ["wrong"]
    (span,) = report["errors"][0]["evidence"]["PROTEST"]
    assert span["text"] == "وتظاهر العمال في الساحة." and span["score"] == 0.9
    task.write_report(report, tmp_path, "sentence events")
    text = (tmp_path / "eval_report.md").read_text(encoding="utf-8")
    assert "## Evidence (max over sentences)" in text and "| PROTEST | 3 | 1.00 | 100.0% |" in text
    assert "- `wrong` PROTEST (0.90), characters 9-33: وتظاهر العمال في الساحة." in text
    assert "`unjudged`" not in text.split("## Evidence")[1]
    card = "\n".join(task.card_intro("gsr", model.settings, report))
    assert "Evidence on `mine.jsonl`: PROTEST 3 events found, 1.00 sentences each." in card

"""The web page of ``akhbar serve`` in a real browser: Debian's headless Chromium, driven by Playwright (which
downloads no browser of its own here), loads the page from a running service, submits articles (pasted and
uploaded), and the DOM is checked against the service's own answer (entities, events, evidence sentences and
arguments). Screenshots are saved (to ``$AKHBAR_SCREENSHOTS`` when set, else the test's temporary folder).

Skips when Chromium or Playwright is missing, unless ``AKHBAR_REQUIRE_BROWSER`` is set (CI sets it), when
that is a failure.
"""

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import live_server

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from akhbar.serve.app import create_app  # noqa: E402
from akhbar.serve.models import ServedModels  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags that work on a machine without network or GPU, as root (see the project's notes on this machine).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Our own text: an emoji (one code point, two UTF-16 code units) before the entities, and two paragraphs.
ARTICLE = "📢 تظاهر مئات الطلاب أمام وزارة التربية في إربد صباح الأحد.\n\nوقال متحدث باسم الشرطة إن الوفد وصل إلى عمّان."
UPLOADED = [
    {"id": "up-1", "text": "زار وزير الخارجية عمّان أمس والتقى الملك عبد الله الثاني."},
    {"id": "up-2", "text": "أعلنت اللجنة العليا للانتخابات في تونس موعد الاقتراع المقبل."},
]


def js_percent(score: float) -> str:
    """The page's ``(100 * score).toFixed(1) + "%"``: JavaScript rounds an exact tie (43.25) up, Python's format
    to even, so the expected text is rounded the way the page does it."""
    from decimal import ROUND_HALF_UP, Decimal

    return f"{Decimal(100 * score).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def browser():
    """Playwright's sync API, or a skip (a failure under ``AKHBAR_REQUIRE_BROWSER``) saying what is missing."""
    missing = None
    if not Path(CHROMIUM).is_file():
        missing = "Debian's chromium is not installed (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = missing or 'playwright is not installed (pip install -e ".[dev]")'
    if missing:
        if os.environ.get("AKHBAR_REQUIRE_BROWSER"):
            pytest.fail(f"{missing}, and AKHBAR_REQUIRE_BROWSER is set")
        pytest.skip(f"{missing}; set AKHBAR_REQUIRE_BROWSER=1 to make this a failure")
    return sync_playwright


@pytest.fixture(scope="module")
def service(random_packages):
    models = ServedModels.load(*random_packages, device="cpu")
    with live_server(create_app(models)) as base:
        yield base, models


def open_page(chromium, base: str):
    """The page at ``base`` in a new tab, and the list its script errors and console errors are added to."""
    page = chromium.new_page(viewport={"width": 1100, "height": 900})
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base + "/")
    return page, errors


def test_the_page_highlights_entities_and_shows_events(service, tmp_path):
    sync_playwright = browser()
    base, models = service
    expected = httpx.post(f"{base}/v1/analyze", json={"texts": [ARTICLE]}, timeout=60).json()["results"][0]
    assert len(expected["entities"]) >= 3, "the random-head model tags several words, or this test proves little"
    labels = models.info["ner"]["labels"]
    shots = Path(os.environ.get("AKHBAR_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    upload = tmp_path / "articles.jsonl"
    upload.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in UPLOADED), encoding="utf-8")

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page, errors = open_page(chromium, base)
            assert page.get_attribute("html", "dir") == "rtl" and page.get_attribute("html", "lang") == "ar"
            page.wait_for_selector("#legend .legend-item")
            # The legend: every entity type of the model, each in its own colour.
            legend = page.eval_on_selector_all(
                "#legend .legend-item", "els => els.map(e => [e.dataset.label, e.className])"
            )
            assert [label for label, _ in legend] == labels
            assert [cls.split()[-1] for _, cls in legend] == [f"color-{i}" for i in range(len(labels))]

            # Nothing to analyze: said, no request.
            page.click("#analyze")
            assert "nothing to analyze" in page.inner_text("#status")

            page.fill("#text", ARTICLE)
            page.click("#analyze")
            page.wait_for_selector("article.result")
            card = page.locator("article.result").first
            # The article right-to-left, its text whole (the marks' labels are drawn by CSS, not text).
            body = card.locator("p.article-text")
            assert body.get_attribute("dir") == "rtl" and body.get_attribute("lang") == "ar"
            assert body.evaluate("e => getComputedStyle(e).direction") == "rtl"
            assert body.evaluate("e => e.textContent") == ARTICLE
            marks = card.locator("mark.entity").evaluate_all(
                """els => els.map(e => ({text: e.textContent, label: e.dataset.label, cls: e.className,
                    start: +e.dataset.start, end: +e.dataset.end, score: +e.dataset.score, tip: e.dataset.tip,
                    title: e.title}))"""
            )
            assert len(marks) == len(expected["entities"])
            for mark, entity in zip(marks, expected["entities"]):
                assert mark["text"] == entity["text"] == ARTICLE[entity["start"] : entity["end"]]
                assert (mark["label"], mark["start"], mark["end"]) == (entity["label"], entity["start"], entity["end"])
                assert mark["cls"] == f"entity color-{labels.index(entity['label'])}"
                assert mark["score"] == entity["score"]
                assert mark["tip"] == f"{entity['label']} · {js_percent(entity['score'])}"
                assert mark["title"] == f"{entity['label']} · score {entity['score']}"
            # Hover shows label and score (a CSS tooltip from data-tip).
            first = card.locator("mark.entity").first
            first.hover()
            tip = first.evaluate("e => getComputedStyle(e, '::before').content")
            assert tip == json.dumps(marks[0]["tip"], ensure_ascii=False)
            events = card.locator("li.event").evaluate_all("els => els.map(e => [e.dataset.label, +e.dataset.score])")
            assert events == [[e["label"], e["score"]] for e in expected["events"]]
            page.screenshot(path=str(shots / "page.png"), full_page=True)

            # The JSON of the same result, one click away.
            page.click("#show-json")
            assert page.is_visible("#json") and not page.is_visible("#results")
            shown = json.loads(page.inner_text("#json"))
            assert shown["results"] == [{"id": "pasted", **expected}]
            assert shown["model_version"] == models.model_version
            page.screenshot(path=str(shots / "json.png"))
            page.click("#show-text")

            # Uploaded JSON Lines: one article per line, their ids kept, after the pasted one.
            page.set_input_files("#files", str(upload))
            page.click("#analyze")
            page.wait_for_function("document.querySelectorAll('article.result').length === 3")
            ids = page.locator("article.result").evaluate_all("els => els.map(e => e.dataset.id)")
            assert ids == ["pasted", "up-1", "up-2"]
            uploaded = httpx.post(f"{base}/v1/analyze", json={"articles": UPLOADED}, timeout=60).json()["results"]
            for i, result in enumerate(uploaded, start=1):
                texts = page.locator("article.result").nth(i).locator("mark.entity").all_text_contents()
                assert texts == [e["text"] for e in result["entities"]]
            assert errors == []
        finally:
            chromium.close()


# Our own text, long: the protest is told in the fourth of six sentences, after an emoji.
LONG = (
    "📢 افتتح وزير الثقافة صباح اليوم معرض الكتاب في دورته الجديدة بحضور عدد من الكتاب والناشرين من عمّان وبيروت.\n"
    "وقال الوزير في كلمته إن المعرض يضم أكثر من ألف دار نشر من عشرين بلدا عربيا وأجنبيا. "
    "وأضاف أن وزارة الثقافة خصصت جناحا لكتب الأطفال وآخر للمخطوطات النادرة. "
    "وفي المساء تظاهر مئات الطلاب أمام مبنى وزارة التعليم العالي في إربد احتجاجا على رفع الرسوم الجامعية! "
    "وقال متحدث باسم الشرطة إن التظاهرة انتهت دون حوادث.\n\n"
    "وتستمر فعاليات المعرض حتى نهاية الشهر المقبل بحسب اللجنة المنظمة."
)


def protest_sentences(self, texts, show_progress=False, words=None):
    """Sentence probabilities: PROTEST for the sentence that says تظاهر, nothing else, so the page's evidence is
    known."""
    import numpy as np

    rows = np.full((len(texts), len(self.settings.event_labels)), 0.1)
    rows[["تظاهر " in t for t in texts], self.settings.event_labels.index("PROTEST")] = 0.9
    return rows


def test_the_page_marks_evidence_and_lists_arguments(sentence_packages, monkeypatch, tmp_path):
    from akhbar.inference import EventClassifier

    sync_playwright = browser()
    monkeypatch.setattr(EventClassifier, "scores", protest_sentences)
    ner, sentence_events, arguments = sentence_packages
    models = ServedModels.load(ner, sentence_events, arguments=arguments, device="cpu")
    shots = Path(os.environ.get("AKHBAR_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with live_server(create_app(models)) as base, sync_playwright() as p:
        expected = httpx.post(f"{base}/v1/analyze", json={"texts": [LONG]}, timeout=60).json()["results"][0]
        (event,) = expected["events"]
        (evidence,) = event["evidence"]
        sentence = LONG[evidence["start"] : evidence["end"]]
        assert "تظاهر" in sentence and event["arguments"], "the random argument head tags some words"
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page, errors = open_page(chromium, base)
            page.wait_for_selector("#legend .legend-item")
            # The headline of each package by the figure its evaluation has: no "NaN" for sentence events.
            line = page.inner_text("#models")
            assert (
                "events: sentence_events-sample (macro F1 " in line and "arguments: arguments-sample (strict F1" in line
            )
            assert "NaN" not in line and models.model_version in line

            page.fill("#text", LONG)
            page.click("#analyze")
            page.wait_for_selector("article.result")
            card = page.locator("article.result").first
            assert card.locator("p.article-text").evaluate("e => e.textContent") == LONG
            # The evidence sentence: one span around it, named after its event, the entities inside it marked.
            spans = card.locator("span.evidence").evaluate_all(
                """els => els.map(e => ({text: e.textContent, event: e.dataset.event, score: +e.dataset.score,
                    start: +e.dataset.start, end: +e.dataset.end}))"""
            )
            assert spans == [{"text": sentence, "event": "PROTEST", **evidence}]
            inside = [e["text"] for e in expected["entities"] if evidence["start"] <= e["start"] < evidence["end"]]
            assert inside, "the random NER head tags words of the sentence, or the nesting is not tested"
            assert card.locator("span.evidence mark.entity").all_text_contents() == inside
            assert card.locator("mark.entity").all_text_contents() == [e["text"] for e in expected["entities"]]
            # Each argument a "ROLE: text" chip on its event; pointing at the event lights its sentence up.
            chips = card.locator("li.event .argument").evaluate_all(
                "els => els.map(e => [e.textContent, e.dataset.role])"
            )
            assert chips == [[f"{a['role']}: {a['text']}", a["role"]] for a in event["arguments"]]
            page.screenshot(path=str(shots / "evidence.png"), full_page=True)
            card.locator("li.event").hover()
            assert "active" in card.locator("span.evidence").get_attribute("class")
            # An entity across a sentence bound (the models do not give one, but) is cut there, not lost.
            cut = page.evaluate(
                """() => {
                  const p = highlighted("أ ب. ج د", [{start: 2, end: 6, label: "LOC", score: 0.5}],
                                        [{label: "PROTEST", score: 0.9, evidence: [{start: 0, end: 4, score: 0.9}]}]);
                  return [p.textContent, [...p.querySelectorAll("mark")].map(m => m.textContent),
                          p.querySelector("span.evidence").textContent];
                }"""
            )
            assert cut == ["أ ب. ج د", ["ب.", " ج"], "أ ب."]
            assert errors == []
        finally:
            chromium.close()

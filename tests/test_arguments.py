"""Event arguments: windows that read the event type first, the tagger conditioned on it, the task's checks."""

import pytest
from conftest import ROLES, SAMPLE, random_head_package

from akhbar.articles import read_articles
from akhbar.preprocessing import PreprocessingConfig, split_words
from akhbar.windows import encode_words, marker_ids

# Written for these tests.
SENTENCE = "تظاهر مئات الطلاب أمام مبنى وزارة التعليم في العاصمة احتجاجا على رفع الرسوم."


@pytest.fixture(scope="module")
def argument_package(tiny_model_dir, tmp_path_factory):
    return random_head_package(tiny_model_dir, tmp_path_factory.mktemp("arguments"), "arguments")


def test_every_window_reads_the_marker_first(tiny_tokenizer):
    words = split_words(" ".join([SENTENCE] * 6), PreprocessingConfig.from_preset("arabertv02"))
    marker = marker_ids(tiny_tokenizer, "PROTEST")
    assert marker[-1] == tiny_tokenizer.sep_token_id and len(marker) >= 2
    plain = encode_words(tiny_tokenizer, words, 48, 8)
    marked = encode_words(tiny_tokenizer, words, 48, 8, marker)
    assert len(marked.input_ids) > 1  # several windows, each of at most 48 tokens and each with the marker
    for ids, index, owner in zip(marked.input_ids, marked.word_index, marked.token_word):
        assert len(ids) <= 48 and ids[0] == tiny_tokenizer.cls_token_id
        assert ids[1 : 1 + len(marker)] == marker
        assert index[1 : 1 + len(marker)] == owner[1 : 1 + len(marker)] == [-1] * len(marker)
    # The marker belongs to no word: the words and their first sub-tokens are the same as without it.
    assert {w for i in marked.word_index for w in i if w >= 0} == {w for i in plain.word_index for w in i if w >= 0}
    with pytest.raises(ValueError, match="stride 45 must be .* below max_length - .* special and marker tokens"):
        encode_words(tiny_tokenizer, words, 48, 45, marker)


def test_event_types_must_be_told_apart(tiny_tokenizer):
    from akhbar.tiny import build_tokenizer
    from akhbar.windows import event_markers

    assert set(event_markers(tiny_tokenizer, ["PROTEST", "ASSAULT"])) == {"PROTEST", "ASSAULT"}
    with pytest.raises(ValueError, match=r"reads event types as unknown tokens: ΩΨ; .* \(rename the event labels"):
        event_markers(tiny_tokenizer, ["PROTEST", "ΩΨ"])
    # BERT's normalizer deletes the soft hyphen: two labels, one input.
    tokenizer = build_tokenizer(["PROTEST ASSAULT"] * 5, vocab_size=60)
    with pytest.raises(ValueError, match="reads event types the same: PROTEST and PRO\u00adTEST"):
        event_markers(tokenizer, ["PROTEST", "PRO\u00adTEST"])


def test_the_tagger_reads_each_text_for_its_event(argument_package):
    from akhbar.inference import ArgumentTagger, load_predictor

    tagger = ArgumentTagger.from_pretrained(argument_package, device="cpu", precision="float32")
    assert isinstance(load_predictor(argument_package), ArgumentTagger)
    protest, assault = tagger.tag([SENTENCE, SENTENCE], events=["PROTEST", "ASSAULT"])
    assert protest.words.original_spans == assault.words.original_spans
    assert protest.scores != assault.scores  # the event type is part of the input
    (found,) = tagger.predict([SENTENCE], events=[["ASSAULT"]])
    assert found and {a["event"] for a in found} == {"ASSAULT"} and {a["role"] for a in found} <= set(ROLES)
    from akhbar.formats import predictions_to_articles  # what predict --format writes: the role as the label

    (article,) = predictions_to_articles([SENTENCE], [found])
    assert [(e["start"], e["label"]) for e in article["entities"]] == [(a["start"], a["role"]) for a in found]
    for a in found:
        assert SENTENCE[a["start"] : a["end"]] == a["text"] and 0 <= a["score"] <= 1
    # By default every event type the model knows.
    (every,) = tagger.predict(SENTENCE)
    assert [a for a in every if a["event"] == "ASSAULT"] == found
    assert {a["event"] for a in every} <= set(tagger.settings.event_labels)
    assert tagger.predict(["", SENTENCE], events=[["PROTEST"], []]) == [[], []]
    with pytest.raises(ValueError, match=r"event 'STRIKE' is not one the argument model knows \(PROTEST, ASSAULT"):
        tagger.predict([SENTENCE], events=[["STRIKE"]])
    with pytest.raises(ValueError, match="one list of event types per text, found 2 for 1 texts"):
        tagger.predict([SENTENCE], events=[["PROTEST"], ["ASSAULT"]])


def test_the_report_scores_each_role_and_event_type(argument_package):
    import json

    report = json.loads((argument_package / "eval_report.json").read_text(encoding="utf-8"))
    articles, _ = read_articles(SAMPLE / "arguments" / "test.jsonl")
    assert report["task"] == "arguments" and report["data"]["articles"] == len(articles)
    assert report["data"]["events"] == {"ARREST": 1, "AIRSTRIKE": 1, "PROTEST": 1, "ASSAULT": 1}
    assert sum(s["support"] for s in report["strict"]["per_type"].values()) == sum(len(a["entities"]) for a in articles)
    assert set(report["by_event"]) == set(report["data"]["events"])
    assert sum(part["articles"] for part in report["by_event"].values()) == len(articles)
    markdown = (argument_package / "eval_report.md").read_text(encoding="utf-8")
    assert "## By event type (strict)" in markdown and "### PROTEST (1 sentences)" in markdown
    card = (argument_package / "README.md").read_text(encoding="utf-8")
    assert "ArgumentTagger.from_pretrained" in card and "SOURCE, TRIGGER, TARGET" in card


@pytest.mark.parametrize(
    ("lines", "config", "message"),
    [
        ([], "", "task arguments needs event_labels"),
        (
            ['{"id": "two", "text": "تظاهر الطلاب", "entities": [], "events": ["PROTEST", "ASSAULT"]}'],
            "event_labels: [PROTEST, ASSAULT]\n",
            r"train\.jsonl \(article 'two'\): events \['PROTEST', 'ASSAULT'\]; an argument article is one sentence "
            "read for exactly one event type",
        ),
        (
            ['{"id": "other", "text": "تظاهر الطلاب", "entities": [], "events": ["STRIKE"]}'],
            "event_labels: [PROTEST, ASSAULT]\n",
            r"\(article 'other'\): events \['STRIKE'\]",
        ),
    ],
)
def test_argument_data_is_checked(tmp_path, tiny_model_dir, lines, config, message):
    from akhbar.training import main as train

    good = '{"id": "ok", "text": "تظاهر الطلاب", "entities": [{"start": 0, "end": 5, "label": "TRIGGER"}], '
    good += '"events": ["PROTEST"]}'
    (tmp_path / "train.jsonl").write_text("\n".join([good, *lines]) + "\n", encoding="utf-8")
    (tmp_path / "run.yaml").write_text(
        f"task: arguments\ntrain_file: {tmp_path / 'train.jsonl'}\n{config}max_length: 64\nstride: 16\n",
        encoding="utf-8",
    )
    args = ["--config", str(tmp_path / "run.yaml"), "--model_name_or_path", str(tiny_model_dir)]
    args += ["--output_dir", str(tmp_path / "run"), "--package_dir", str(tmp_path / "models")]
    with pytest.raises(ValueError, match=message):
        train(args)


# Written for this test: a long article whose protest is reported in its third sentence, far from the start.
ARTICLE = (
    "افتتح وزير الثقافة صباح اليوم معرض الكتاب في دورته الجديدة بحضور عدد من الكتاب والناشرين.\n"
    + "وقال الوزير في كلمته إن المعرض يضم أكثر من ألف دار نشر من عشرين بلدا. " * 20
    + "وفي المساء تظاهر مئات الطلاب أمام مبنى الوزارة احتجاجا على رفع الرسوم الجامعية! "
    "وتستمر فعاليات المعرض حتى نهاية الشهر المقبل."
)


def test_the_analyzer_gives_each_event_its_arguments_in_the_article(argument_package, random_packages, monkeypatch):
    import dataclasses

    import numpy as np
    from conftest import ROOT

    from akhbar.inference import (
        Analyzer,
        ArgumentTagger,
        EventClassifier,
        NerTagger,
        SentenceEventClassifier,
        load_package,
    )

    def scores(self, texts, show_progress=False, words=None):  # the protest sentence, and only it
        rows = np.full((len(texts), len(self.settings.event_labels)), 0.1)
        rows[["تظاهر" in t for t in texts], self.settings.event_labels.index("PROTEST")] = 0.9
        return rows

    monkeypatch.setattr(EventClassifier, "scores", scores)
    directory, settings = load_package(ROOT / "tests" / "data" / "legacy" / "events-sample")
    thresholds = dict.fromkeys(settings.event_labels, 0.5)
    settings = dataclasses.replace(settings, task="sentence_events", thresholds=thresholds)
    events = SentenceEventClassifier.from_verified(directory, settings, verified=False)
    ner = NerTagger.from_pretrained(random_packages[0], precision="float32")
    arguments = ArgumentTagger.from_pretrained(argument_package, precision="float32")
    (result,) = Analyzer(ner, events, arguments).predict([ARTICLE])
    (protest,) = result["events"]
    (evidence,) = protest["evidence"]
    sentence = ARTICLE[evidence["start"] : evidence["end"]]
    assert sentence.startswith("وفي المساء تظاهر") and evidence["start"] > 1000
    assert protest["arguments"], "the random head tags some words of the sentence"
    (direct,) = arguments.predict([sentence], events=[["PROTEST"]])
    shift = evidence["start"]
    assert [(a["role"], a["start"] - shift, a["end"] - shift) for a in protest["arguments"]] == [
        (a["role"], a["start"], a["end"]) for a in direct
    ]
    for a in protest["arguments"]:
        assert ARTICLE[a["start"] : a["end"]] == a["text"] and shift <= a["start"] < a["end"] <= evidence["end"]
        assert set(a) == {"role", "start", "end", "text", "score"}
    assert Analyzer(ner, events, arguments).predict(["", "نص بلا حدث."]) == [
        {"entities": [], "events": []},
        {"entities": ner.predict(["نص بلا حدث."])[0], "events": []},
    ]
    # An article-level event model has no sentences to read.
    article_level = EventClassifier.from_verified(directory, load_package(directory)[1])
    with pytest.raises(ValueError, match="only a sentence event model gives; this event model is of task 'events'"):
        Analyzer(ner, article_level, arguments)


def test_ray_rows_carry_the_arguments(sentence_packages):
    # AkhbarAnalyzer is called in this process, as a Ray worker calls it: no cluster needed.
    pytest.importorskip("ray")
    pa = pytest.importorskip("pyarrow")
    from akhbar.inference import Analyzer
    from akhbar.ray_data import AkhbarAnalyzer

    ner, events, arguments = sentence_packages
    analyzer = AkhbarAnalyzer(ner, events, arguments=arguments, device="cpu", precision="float32")
    (row,) = analyzer(pa.table({"id": ["a-1"], "text": [ARTICLE]})).to_pylist()
    in_process = Analyzer.from_pretrained(ner, events, arguments=arguments, device="cpu", precision="float32")
    (expected,) = in_process.predict([ARTICLE])
    assert row["events"] == expected["events"] and any(e["arguments"] for e in row["events"])
    with pytest.raises(ValueError, match="reads the sentences of a sentence event model: give events"):
        AkhbarAnalyzer(ner, None, arguments=arguments)

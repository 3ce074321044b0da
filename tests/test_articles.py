import json

import pytest
from conftest import ANERCORP, SAMPLE, needs_anercorp

from akhbar.articles import AnnotationError, read_articles
from akhbar.labels import tags_to_spans
from akhbar.preprocessing import PreprocessingConfig, split_words
from akhbar.windows import word_tags

SCHEMA = ["PERS", "LOC", "ORG", "MISC"]
GOOD = {"id": "a1", "text": "زار محمد بيروت.", "entities": [{"start": 4, "end": 8, "label": "PERS"}], "events": []}


def write_jsonl(path, records):
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records),
        encoding="utf-8",
    )
    return path


def test_sample_splits_load_with_the_schema():
    for split in ("train", "validation", "test"):
        articles, report = read_articles(SAMPLE / f"{split}.jsonl", SCHEMA)
        assert report.read == report.used == len(articles) > 0
        assert all(e["label"] in SCHEMA for a in articles for e in a["entities"])


@pytest.mark.parametrize(
    ("record", "fault"),
    [
        ("{not json", r"invalid JSON"),
        ({"text": "نص"}, r"missing field 'id'"),
        ({"id": 3, "text": "نص"}, r"field 'id' must be a string"),
        ({"id": "x", "text": "   "}, r"empty text"),
        ({**GOOD, "entities": [{"start": 4, "end": 99, "label": "PERS"}]}, r"span \[4, 99\) is not a non-empty range"),
        ({**GOOD, "entities": [{"start": 8, "end": 4, "label": "PERS"}]}, r"span \[8, 4\)"),
        ({**GOOD, "entities": [{"start": 4, "end": 8, "label": "PER"}]}, r"label 'PER' is not in the schema"),
        (
            {**GOOD, "entities": [{"start": 4, "end": 8, "label": "PERS"}, {"start": 6, "end": 14, "label": "LOC"}]},
            r"entities overlap",
        ),
        ({**GOOD, "entities": [{"start": "4", "end": 8, "label": "PERS"}]}, r"entities\[0\]\.start must be int"),
        ({**GOOD, "entities": [{"start": 4, "end": 8, "label": "PERS", "text": "بيروت"}]}, r"says text 'بيروت'"),
        ({**GOOD, "events": "PROTEST"}, r"'events' must be a list"),
        ({**GOOD, "extra": 1}, r"unknown field\(s\) \['extra'\]"),
    ],
)
def test_bad_records_name_file_line_and_fault(tmp_path, record, fault):
    path = write_jsonl(tmp_path / "bad.jsonl", [GOOD | {"id": "ok"}, record])
    with pytest.raises(AnnotationError, match=rf"bad\.jsonl:2.*{fault}"):
        read_articles(path, SCHEMA)


def test_skip_invalid_counts_what_it_skips(tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", [GOOD, "{broken", GOOD | {"id": "a2"}, GOOD])
    articles, report = read_articles(path, SCHEMA, skip_invalid=True)
    assert [a["id"] for a in articles] == ["a1", "a2"]
    assert report.read == 4 and report.used == 2 and len(report.skipped) == 2
    assert "duplicate id 'a1' (first on line 1)" in report.skipped[1]


def test_bom_and_crlf_are_read(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(("\ufeff" + json.dumps(GOOD, ensure_ascii=False) + "\r\n").encode("utf-8"))
    articles, _ = read_articles(path, SCHEMA)
    assert articles[0]["text"] == GOOD["text"]


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + b'{"id": "\xe9"}\n')
    with pytest.raises(AnnotationError, match=r"latin1\.jsonl:2: invalid UTF-8"):
        read_articles(path)


def test_conll_iob1_and_iob2_give_the_same_spans(tmp_path):
    iob2 = "-DOCSTART- O\n\nزار O\nمحمد B-PERS\nعلي I-PERS\nبيروت B-LOC\n\nوعمان B-LOC\n"
    iob1 = "-DOCSTART- O\n\nزار O\nمحمد I-PERS\nعلي I-PERS\nبيروت I-LOC\n\nوعمان I-LOC\n"
    (tmp_path / "a.txt").write_text(iob2, encoding="utf-8")
    (tmp_path / "b.txt").write_text(iob1, encoding="utf-8")
    a, _ = read_articles(tmp_path / "a.txt")
    b, _ = read_articles(tmp_path / "b.txt")
    assert [x["entities"] for x in a] == [x["entities"] for x in b]
    assert a[0]["text"] == "زار محمد علي بيروت"
    assert a[0]["entities"] == [{"start": 4, "end": 12, "label": "PERS"}, {"start": 13, "end": 18, "label": "LOC"}]
    assert tags_to_spans(["B-LOC", "B-LOC", "I-LOC", "O", "I-ORG"]) == [(0, 1, "LOC"), (1, 3, "LOC"), (4, 5, "ORG")]


@pytest.mark.parametrize(
    ("line", "fault"),
    [
        ("الصالحية ونايفة O", r"expected 2 columns .* found 3"),
        ("محمد", r"found 1 column"),
        (" O", r"empty token"),
        ("محمد B_PERS", r"tag 'B_PERS' is not O, B-TYPE or I-TYPE"),
        ("محمد B-PER", r"entity type 'PER' is not in the schema"),
    ],
)
def test_bad_conll_lines(tmp_path, line, fault):
    path = tmp_path / "bad.txt"
    path.write_text(f"زار O\n{line}\nبيروت B-LOC\n", encoding="utf-8")
    with pytest.raises(AnnotationError, match=rf"bad\.txt:2: .*{fault}"):
        read_articles(path, SCHEMA)
    # With skip_invalid the sentence holding the bad line is skipped whole and counted.
    path.write_text(path.read_text(encoding="utf-8") + "\nعمان B-LOC\n", encoding="utf-8")
    articles, report = read_articles(path, SCHEMA, skip_invalid=True)
    assert report.read == 2 and report.used == 1 and len(report.skipped) == 1
    assert articles[0]["text"] == "عمان"


@needs_anercorp
def test_anercorp_conll_to_article_to_bio_round_trip():
    # Real ANERcorp lines: CoNLL -> article (text + char spans) -> word tags gives back the file's tags
    # (in IOB2), with preprocessing off (words = tokens) and, for the spans, with AraBERT preprocessing on.
    lines = (ANERCORP / "train.txt").read_text(encoding="utf-8").split("\n\n")[:300]
    articles, _ = read_articles(ANERCORP / "train.txt")
    arabert = PreprocessingConfig()
    for block, article in zip(lines, articles):
        tokens, tags = zip(*(line.split() for line in block.strip().split("\n")))
        expected = ["O"] * len(tags)
        for a, b, kind in tags_to_spans(tags):
            expected[a:b] = [f"B-{kind}"] + [f"I-{kind}"] * (b - a - 1)
        words = split_words(article["text"], PreprocessingConfig.from_preset("none"))
        assert [article["text"][s:e] for s, e in words.original_spans] == list(tokens)
        assert word_tags(words, article["entities"]) == expected
        normalized = split_words(article["text"], arabert)
        spans = normalized.original_spans
        recovered = []
        for a, b, kind in tags_to_spans(word_tags(normalized, article["entities"])):
            recovered.append({"start": spans[a][0], "end": spans[b - 1][1], "label": kind})
        assert recovered == article["entities"], article["id"]


def test_join_sentences_keeps_spans_documents_and_counts(tmp_path):
    # Two documents; sentences joined (one per line) up to 5 words, never across -DOCSTART-.
    text = (
        "-DOCSTART- O\n\nزار O\nمحمد B-PERS\nبيروت B-LOC\n\nثم O\nعاد O\n\nإلى O\nعمان B-LOC\n\n"
        "-DOCSTART- O\n\nقال O\nعلي B-PERS\n"
    )
    path = tmp_path / "doc.txt"
    path.write_text(text, encoding="utf-8")
    single, _ = read_articles(path, SCHEMA)
    joined, report = read_articles(path, SCHEMA, join_sentences=5)
    assert [a["text"] for a in joined] == ["زار محمد بيروت\nثم عاد", "إلى عمان", "قال علي"]
    assert [a["id"] for a in joined] == ["doc:3-7", "doc:10", "doc:15"]
    # Every gold span still covers the same words, shifted into the joined text.
    assert (
        [a["text"][e["start"] : e["end"]] for a in joined for e in a["entities"]]
        == [a["text"][e["start"] : e["end"]] for a in single for e in a["entities"]]
        == ["محمد", "بيروت", "عمان", "علي"]
    )
    # The report counts sentences, not joined articles.
    assert report.read == report.used == 4 and not report.skipped
    # A sentence longer than the limit stays whole; 0 turns joining off; a negative limit is an error.
    assert len(read_articles(path, SCHEMA, join_sentences=1)[0]) == 4
    with pytest.raises(ValueError, match="join_sentences"):
        read_articles(path, SCHEMA, join_sentences=-1)

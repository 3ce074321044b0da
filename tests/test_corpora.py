"""Corpus converters: real lines from ../shared (skipped when absent) and our own small fixtures."""

import csv
import json

import pytest
from conftest import SHARED

from akhbar.articles import read_articles
from akhbar.corpora import prepare_ant, prepare_gsr

GSR = SHARED / "arabic_event_gsr"
ANT = SHARED / "antcorpus"
needs_gsr = pytest.mark.skipif(not GSR.is_dir(), reason="../shared/data/arabic_event_gsr is not present")
needs_ant = pytest.mark.skipif(not ANT.is_dir(), reason="../shared/data/antcorpus is not present")


def read_split(folder, name):
    return read_articles(folder / f"{name}.jsonl")[0]


def write_gsr(folder, protest_rows, assault_rows):
    folder.mkdir()
    for name, rows in (("protest_gsr.csv", protest_rows), ("assault_gsr.csv", assault_rows)):
        with (folder / name).open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["", "accept", "event_type", "id", "label", "reject", "text", "total"])
            for i, (label, text) in enumerate(rows):
                writer.writerow([i, 0, name.split("_")[0].upper(), f"s{i}", label, 0, text, 3])


def test_gsr_mapping_and_duplicates(tmp_path):
    protest = [("yes", f"تظاهر المئات في المدينة رقم {i}") for i in range(10)]
    protest += [("easy no", f"افتتح الوزير معرضا للكتاب رقم {i}") for i in range(10)]
    protest += [
        ("ambiguous", "تجمع عدد من السكان قرب البلدية"),
        ("yes", "خرج الطلاب في مسيرة"),
        ("easy no", "خرج الطلاب في مسيرة"),
    ]  # disagreeing duplicate -> ambiguous
    assault = [("yes", f"هاجم مسلحون نقطة تفتيش رقم {i}") for i in range(10)]
    assault += [("difficult no", f"نفت الشرطة وقوع اعتداء رقم {i}") for i in range(10)]
    write_gsr(tmp_path / "gsr", protest, assault)
    report = prepare_gsr(tmp_path / "gsr", tmp_path / "out")
    assert report["unique_sentences"] == 42 and report["excluded_ambiguous"] == {"PROTEST": 2}
    articles = [a for split in ("train", "validation", "test") for a in read_split(tmp_path / "out", split)]
    assert len(articles) == report["articles"] == 40
    by_text = {a["text"]: a["events"] for a in articles}
    assert by_text["تظاهر المئات في المدينة رقم 3"] == ["PROTEST"]
    assert by_text["نفت الشرطة وقوع اعتداء رقم 3"] == []
    assert "خرج الطلاب في مسيرة" not in by_text
    # Each sentence was judged for its file's event type only: the other is unknown, not negative.
    judged = {a["text"]: a["judged"] for a in articles}
    assert judged["تظاهر المئات في المدينة رقم 3"] == ["PROTEST"] and judged["نفت الشرطة وقوع اعتداء رقم 3"] == [
        "ASSAULT"
    ]
    kept = prepare_gsr(tmp_path / "gsr", tmp_path / "pos", ambiguous="positive")
    assert kept["articles"] == 42


@needs_gsr
def test_gsr_real_corpus_counts_add_up_and_splits_are_disjoint(tmp_path):
    report = prepare_gsr(GSR, tmp_path / "a")
    again = prepare_gsr(GSR, tmp_path / "b")
    splits = {name: read_split(tmp_path / "a", name) for name in ("train", "validation", "test")}
    assert sum(len(s) for s in splits.values()) == report["articles"]
    assert report["articles"] + sum(report["excluded_ambiguous"].values()) == report["unique_sentences"]
    texts = [a["text"] for s in splits.values() for a in s]
    assert len(set(texts)) == len(texts)  # no sentence in two splits
    assert all(set(a["events"]) <= {"PROTEST", "ASSAULT"} for a in splits["train"])
    for name in splits:  # fixed seed: the same files twice
        assert (tmp_path / "a" / f"{name}.jsonl").read_bytes() == (tmp_path / "b" / f"{name}.jsonl").read_bytes()
    assert again["splits"] == report["splits"]


@needs_ant
def test_ant_real_corpus(tmp_path):
    with pytest.raises(ValueError, match=r"antcorpus/\w+/JA-\w+-\d+-\d+\.txt: empty or missing TEXT field"):
        prepare_ant(ANT, tmp_path / "strict")
    report = prepare_ant(ANT, tmp_path / "ant", skip_invalid=True)
    assert report["articles"] + len(report["skipped"]) == report["files"]
    train = read_split(tmp_path / "ant", "train")
    assert all(len(a["events"]) == 1 for a in train)
    assert {a["events"][0] for a in train} == {
        "culture",
        "diverse",
        "economy",
        "internationalNews",
        "localNews",
        "politic",
        "society",
        "sport",
        "technology",
    }
    assert all(a["id"].split("-")[1] == a["events"][0] for a in train)  # JA-<category>-N-date
    counts = {name: split["articles"] for name, split in report["splits"].items()}
    assert counts["validation"] == counts["test"] and counts["train"] > 7 * counts["test"]


def test_ant_fixture_layout_errors(tmp_path):
    folder = tmp_path / "ant" / "sport"
    folder.mkdir(parents=True)
    doc = (
        "<DOC>\n<DOCNO>JA-sport-1-20170101</DOCNO>\n<CAT>{cat}</CAT>\n<TITLE>فوز الفريق</TITLE>\n"
        "<TEXT>\n{text}\n</TEXT>\n</DOC>"
    )
    (folder / "JA-sport-1-20170101.txt").write_text(doc.format(cat="culture", text="فاز الفريق"), encoding="utf-8")
    with pytest.raises(ValueError, match=r"CAT 'culture' disagrees with its folder 'sport'"):
        prepare_ant(tmp_path / "ant", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="no <category>/<article>.txt files"):
        prepare_ant(tmp_path / "empty", tmp_path / "out")


def test_prepare_report_is_json(tmp_path):
    protest = [("yes", f"تظاهر المئات رقم {i}") for i in range(10)] + [
        ("easy no", f"نص عادي رقم {i}") for i in range(10)
    ]
    assault = [("yes", f"هاجم مسلحون رقم {i}") for i in range(10)] + [
        ("easy no", f"خبر آخر رقم {i}") for i in range(10)
    ]
    write_gsr(tmp_path / "gsr", protest, assault)
    prepare_gsr(tmp_path / "gsr", tmp_path / "out")
    report = json.loads((tmp_path / "out" / "prepare_report.json").read_text(encoding="utf-8"))
    assert report["seed"] == 13 and report["mapping"]["ambiguous"] == "exclude"

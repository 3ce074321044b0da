"""Corpus converters: real lines from ../shared (skipped when absent) and our own small fixtures."""

import csv
import json

import pytest
from conftest import SHARED

from akhbar.articles import read_articles
from akhbar.cli import main as cli
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


def test_gsr_mapping_and_duplicates(tmp_path, capsys):
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
    # --unjudged negative: the same sentences and split, no "judged" (the other type reads as a negative).
    assert cli(["prepare", "gsr", "--input", str(tmp_path / "gsr"), "--output", str(tmp_path / "neg"),
                "--unjudged", "negative"]) == 0  # fmt: skip
    # Again into the same folder: refused, the splits kept as they are (they were replaced silently).
    before = {f.name: f.read_bytes() for f in (tmp_path / "neg").iterdir()}
    assert cli(["prepare", "gsr", "--input", str(tmp_path / "gsr"), "--output", str(tmp_path / "neg")]) == 2
    assert {f.name: f.read_bytes() for f in (tmp_path / "neg").iterdir()} == before
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'neg'} already holds train.jsonl, validation.jsonl, test.jsonl, prepare_report.json; "
        "pass --overwrite to replace them\n"
    )
    assert cli(["prepare", "gsr", "--input", str(tmp_path / "gsr"), "--output", str(tmp_path / "neg"),
                "--unjudged", "negative", "--overwrite"]) == 0  # fmt: skip
    for split in ("train", "validation", "test"):
        unknown = read_split(tmp_path / "out", split)
        assert read_split(tmp_path / "neg", split) == [{k: v for k, v in a.items() if k != "judged"} for a in unknown]


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


# --- argument spans (our own sentences, in the shape of arabic_event_gsr's *_spans.json) ----------------------


def span_record(rid, text, *variants, event="PROTEST"):
    return {
        "_id": rid,
        "source": "fixture",
        "text": text,
        "event_type": event,
        "spans": [
            {
                "source_actor": s,
                "verb": v,
                "target_actor": t,
                "source_role": {"main": "LBN", "role": "EDU"} if s else {},
                "target_role": {},
            }
            for s, v, t in variants
        ],
        "source_gold": "",
        "verb_gold": "",
        "target_gold": "",
    }


def write_spans(folder, protest, assault):
    folder.mkdir()
    for name, records in (("protest_spans.json", protest), ("assault_spans.json", assault)):
        (folder / name).write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")


def test_token_lists_align_exactly_after_normalization_or_not():
    from akhbar.corpora import token_occurrences

    text = "وأفاد شهود بأن «شاحنة محملة» اصطدمت قرب مبنى البلدية في قرية (س . ع) شمال المدينة."
    how, places = token_occurrences(text, ["اصطدمت", "قرب"])
    assert how == "exact" and [text[a:b] for a, b in places] == ["اصطدمت قرب"]
    # The tool split punctuation off: «شاحنة محملة» is found with its quotes trimmed off the span.
    how, places = token_occurrences(text, ["«", "شاحنة", "محملة", "»"])
    assert how == "normalized" and [text[a:b] for a, b in places] == ["شاحنة محملة"]
    how, places = token_occurrences(text, ["س", ".", "ع"])
    assert how == "normalized" and [text[a:b] for a, b in places] == ["س . ع"]
    assert token_occurrences(text, ["شاحنة", "اصطدمت"]) == ("discontiguous", [])
    assert token_occurrences(text, ["طائرة"]) == ("missing", [])
    assert token_occurrences(text, ["مدينة"]) == ("missing", [])  # only inside another word: not a place
    # A word twice: both places, for the roles to choose from.
    assert token_occurrences("البلدية قرب البلدية", ["البلدية"]) == ("exact", [(0, 7), (12, 19)])


def test_gsr_arguments_policy_counts_and_offsets(tmp_path):
    from akhbar.corpora import gsr_argument_articles, prepare_gsr_arguments

    sit_in = "اعتصم مئات المعلمين أمام مقر وزارة التربية احتجاجاً على تأخر الرواتب."
    protest = [
        span_record(
            "p1",
            sit_in,
            (["المعلمين"], ["اعتصم"], []),  # the odd one out
            (["مئات", "المعلمين"], ["اعتصم"], ["وزارة", "التربية"]),  # the closest to the others
            (["مئات", "المعلمين"], ["اعتصم"], ["مقر", "وزارة", "التربية"]),
            (["مئات", "المعلمين"], ["اعتصم", "أمام"], []),  # a discontiguous verb: not usable
        ),
        # Only a discontiguous verb: no usable variant, counted and left out.
        span_record("p2", "لم يتردد الطلاب عن التظاهر أمس", (["الطلاب"], ["لم", "يتردد", "عن"], [])),
    ]
    assault = [
        span_record(
            "a1",
            "هاجم مسلحون «نقطة تفتيش» للجيش فجر اليوم",
            ([], ["هاجم"], ["«", "نقطة", "تفتيش", "»"]),
            event="ASSAULT",
        )
    ]
    write_spans(tmp_path / "gsr", protest, assault)
    articles, report = gsr_argument_articles(tmp_path / "gsr")
    assert report["records"] == {"PROTEST": 2, "ASSAULT": 1} and report["variants"] == 6
    assert report["alignment"] == {"exact": 11, "normalized": 1, "discontiguous": 2, "missing": 0}
    assert report["sentences"] == 2 and report["sentences_without_usable_variant"] == 1
    by_id = {a["id"]: a for a in articles}
    first = by_id["protest-p1"]
    # consensus: of the usable variants 0-2, variant 1 overlaps the other two most.
    assert first["meta"]["variant"] == 1 and first["events"] == ["PROTEST"]
    assert [(sit_in[e["start"] : e["end"]], e["label"]) for e in first["entities"]] == [
        ("اعتصم", "TRIGGER"),
        ("مئات المعلمين", "SOURCE"),
        ("وزارة التربية", "TARGET"),
    ]
    target = by_id["assault-a1"]["entities"][1]
    assert by_id["assault-a1"]["text"][target["start"] : target["end"]] == "نقطة تفتيش"
    firsts, _ = gsr_argument_articles(tmp_path / "gsr", policy="first")
    assert {a["id"]: a["meta"]["variant"] for a in firsts}["protest-p1"] == 0

    # Ten copies per event type for a stratified split; the files read back as valid articles.
    copies = [[dict(r, _id=f"{r['_id']}-{i}") for i in range(10) for r in records] for records in (protest, assault)]
    write_spans(tmp_path / "many", *copies)
    report = prepare_gsr_arguments(tmp_path / "many", tmp_path / "out")
    kept = [a for name in ("train", "validation", "test") for a in read_split(tmp_path / "out", name)]
    assert len(kept) == report["sentences"] == 20 and report["splits"]["test"]["articles"] == 4
    assert json.loads((tmp_path / "out" / "prepare_report.json").read_text(encoding="utf-8"))["policy"] == "consensus"


def test_prepare_gsr_arguments_command(tmp_path, capsys):
    from akhbar.cli import main as cli

    record = span_record("p1", "اعتصم مئات المعلمين أمام الوزارة", (["مئات", "المعلمين"], ["اعتصم"], ["الوزارة"]))
    write_spans(tmp_path / "gsr", [dict(record, _id=f"p{i}") for i in range(10)], [])
    args = ["prepare", "gsr-arguments", "--input", str(tmp_path / "gsr"), "--output", str(tmp_path / "out")]
    assert cli([*args, "--policy", "first"]) == 0
    out = capsys.readouterr().out
    assert "30 token lists in 10 variants: 30 exact, 0 after normalization" in out
    assert "10 sentences kept (first variant), 0 without a usable variant" in out
    (tmp_path / "gsr" / "assault_spans.json").write_text('{"not": "a list"}', encoding="utf-8")
    assert cli([*args, "--overwrite"]) == 2
    assert "assault_spans.json: expected a JSON list of records, found dict" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("record", "fault"),
    [
        ({"_id": "x", "text": "نص", "spans": "none"}, r"record 0 \(_id 'x'\): 'spans' must be a list of variants"),
        (
            {"_id": "x", "text": "نص", "spans": [{"verb": "هاجم"}]},
            r"record 0 \(_id 'x'\): spans\[0\]\.verb must be a list of token strings, found 'هاجم'",
        ),
        ({"_id": "x", "text": "", "spans": []}, r"record 0 \(_id 'x'\): 'text' must be a non-empty string"),
        (
            {"_id": "x", "text": "نص", "spans": [], "event_type": "ASSAULT"},
            r"record 0 \(_id 'x'\): event_type 'ASSAULT' in the PROTEST file",
        ),
    ],
)
def test_gsr_arguments_bad_records_name_file_record_fault(tmp_path, record, fault):
    from akhbar.corpora import gsr_argument_articles

    write_spans(tmp_path / "gsr", [record], [])
    with pytest.raises(ValueError, match=r"protest_spans\.json: " + fault):
        gsr_argument_articles(tmp_path / "gsr")
    with pytest.raises(ValueError, match="policy must be one of consensus, first, found 'vote'"):
        gsr_argument_articles(tmp_path / "gsr", policy="vote")


@needs_gsr
def test_gsr_arguments_real_corpus_counts_add_up(tmp_path):
    from akhbar.corpora import prepare_gsr_arguments

    report = prepare_gsr_arguments(GSR, tmp_path / "out")
    aligned = report["alignment"]
    assert sum(aligned.values()) == report["token_lists"]
    assert (
        report["variants_usable"] + report["variants_unaligned"] + report["variants_roles_overlap"]
        == (report["variants"])
    )
    assert report["sentences"] + report["sentences_without_usable_variant"] == sum(report["records"].values())
    assert sum(s["articles"] for s in report["splits"].values()) == report["sentences"]

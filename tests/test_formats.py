"""Every outside format: fixtures written from each tool's documented format read into the expected articles,
a round trip through each writer leaves articles unchanged, offsets are checked and converted, several
annotators are resolved by the policy and their agreement is measured, and what akhbar cannot hold stops
with an error unless skipped (counted)."""

import json

import pytest
from conftest import ROOT

from akhbar.articles import AnnotationError, ReadOptions, read_articles
from akhbar.cli import main as cli
from akhbar.formats import WriteOptions, find_format, formats, predictions_to_articles, write_articles

FIXTURES = ROOT / "tests" / "data" / "formats"
SCHEMA = ["PERS", "LOC", "ORG", "MISC"]
T1 = "زار وزير الخارجية عمّان أمس والتقى الملك عبد الله الثاني."
T2 = "📢 تظاهر مئات الطلاب أمام وزارة التربية في إربد."
T3 = "اعتقلت الشرطة في بيروت ثلاثة رجال بعد اشتباك مع قوات الأمن."


def spans(article: dict) -> list[tuple[str, str]]:
    return [(article["text"][e["start"] : e["end"]], e["label"]) for e in article["entities"]]


def read(name: str, **options) -> tuple[list[dict], object]:
    return read_articles(FIXTURES / name, SCHEMA, options=ReadOptions(**options))


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("label_studio.json", "label-studio"),
        ("label_studio_min.json", "label-studio"),
        ("label_studio_predictions.json", "label-studio"),
        ("doccano.jsonl", "doccano"),
        ("doccano_entities.jsonl", "doccano"),
        ("doccano_textcat.jsonl", "doccano"),
        ("doccano_users", "doccano"),
        ("brat", "brat"),
        ("webanno.tsv", "webanno-tsv"),
        ("prodigy.jsonl", "prodigy"),
    ],
)
def test_formats_are_detected_from_content(name, fmt):
    assert find_format(FIXTURES / name).name == fmt


def test_native_files_are_detected_and_a_wrong_format_name_is_refused(tmp_path):
    assert find_format(ROOT / "data" / "sample" / "train.jsonl").name == "jsonl"
    conll = tmp_path / "x.txt"
    conll.write_text("زار O\nعمان B-LOC\n", encoding="utf-8")
    assert find_format(conll).name == "conll"
    with pytest.raises(ValueError, match="unknown data format 'labelstudio'; choose one of .*label-studio"):
        read_articles(conll, options=ReadOptions(data_format="labelstudio"))
    odd = tmp_path / "notes.md"
    odd.write_text("# some notes\n", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot tell the format .* --format"):
        read_articles(odd)


def test_an_empty_file_and_a_folder_of_jsonl_files_say_so(tmp_path, capsys):
    # Both said "cannot tell the format ... name it with --format", which sent a new user to the wrong fix.
    empty = tmp_path / "train.jsonl"
    empty.write_text("\n \n", encoding="utf-8")
    (tmp_path / "none").mkdir()
    folder = tmp_path / "splits"
    folder.mkdir()
    (folder / "test.jsonl").write_text((ROOT / "data" / "sample" / "test.jsonl").read_text("utf-8"), "utf-8")
    for argv, fault in [
        ([str(empty)], f"{empty}: the file is empty (no records to read)"),
        ([str(tmp_path / "none")], f"{tmp_path / 'none'}: the folder is empty (no records to read)"),
        ([str(folder)], f"{folder}: a folder of .jsonl files: give one file (such as {folder / 'test.jsonl'})"),
        ([str(folder), "--format", "jsonl"], f"{folder}: a folder; jsonl is read one file at a time"),  # [Errno 21]
    ]:
        assert cli(["validate", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fault in err[0] and "cannot tell the format" not in err[0]


def test_label_studio_export():
    articles, report = read("label_studio.json")
    by_id = {a["id"]: a for a in articles}
    # Task 1: two annotators; the default policy takes the first (alice, created earlier).
    assert spans(by_id["1"]) == [("عمّان", "LOC"), ("عبد الله الثاني", "PERS")]
    assert by_id["1"]["events"] == ["ELECTION"]
    # Task 2: the browser counted UTF-16 code units (an emoji before both spans): converted, and counted.
    assert spans(by_id["2"]) == [("وزارة التربية", "ORG"), ("إربد", "LOC")]
    assert report.converted == {"utf16": 2}
    # Task 3: the cancelled annotation is left out (counted); the other one is used.
    assert spans(by_id["3"]) == [("الشرطة", "ORG"), ("بيروت", "LOC")] and by_id["3"]["events"] == ["ARREST", "ASSAULT"]
    assert report.not_used == {"cancelled": 1}
    assert "2 spans from utf16" in report.summary() and "1 cancelled" in report.summary()


def test_label_studio_json_min_and_predictions_forms():
    articles, _ = read("label_studio_min.json")
    assert [a["id"] for a in articles] == ["1", "3"]
    assert spans(articles[0]) == [("عمّان", "LOC"), ("عبد الله الثاني", "PERS")] and articles[0]["events"] == [
        "ELECTION"
    ]
    assert articles[1]["events"] == ["ARREST", "ASSAULT"]
    (article,), _ = read("label_studio_predictions.json")
    assert spans(article) == [("الشرطة", "ORG"), ("بيروت", "LOC")]


def test_label_studio_text_field_is_configurable(tmp_path):
    task = {"id": 4, "data": {"body": T3}, "annotations": [{"result": []}]}
    path = tmp_path / "export.json"
    path.write_text(json.dumps([task], ensure_ascii=False), encoding="utf-8")
    with pytest.raises(AnnotationError, match=r"export\.json:1 \(task 4\): data has no text field 'text' .*'body'"):
        read_articles(path)
    (article,), _ = read_articles(path, options=ReadOptions(text_field="body"))
    assert article["text"] == T3 and article["entities"] == []


def test_doccano_forms():
    articles, _ = read("doccano.jsonl")
    assert spans(articles[1]) == [("وزارة التربية", "ORG"), ("إربد", "LOC")] and articles[1]["events"] == ["PROTEST"]
    (article,), _ = read("doccano_entities.jsonl")
    assert article["id"] == "5" and spans(article) == [("الشرطة", "ORG"), ("بيروت", "LOC")]
    articles, _ = read("doccano_textcat.jsonl")
    assert [a["events"] for a in articles] == [["ARREST", "ASSAULT"], ["PROTEST"]]
    assert all(a["entities"] == [] for a in articles)


def test_doccano_grapheme_offsets_with_the_unit_named(tmp_path):
    # Without span text a conversion cannot be checked: auto refuses (tests/data/bad), the named unit reads it.
    bad = ROOT / "tests" / "data" / "bad" / "doccano_grapheme_offsets.jsonl"
    articles, report = read_articles(bad, SCHEMA, options=ReadOptions(offset_unit="grapheme"))
    assert spans(articles[1]) == [("بَيْرُوتَ", "LOC")]
    assert report.converted == {"grapheme": 2}  # both records' spans move (the first has a shadda before its span)


def test_several_annotators_policies_and_agreement():
    first, report = read("doccano_users")
    # alice and carol agree on record 1's spans, bob ends the person one word early.
    assert report.agreement["pairs"]["alice / bob"] == {"records": 2, "span_f1": 0.75, "event_f1": 1.0}
    assert report.agreement["pairs"]["alice / carol"]["span_f1"] == 1.0
    assert report.agreement["records_with_several_annotators"] == 2
    assert spans(first[0])[1] == ("عبد الله الثاني", "PERS")
    bob, _ = read("doccano_users", annotator_policy="annotator:bob")
    assert spans(bob[0])[1] == ("عبد الله", "PERS")
    majority, _ = read("doccano_users", annotator_policy="majority")
    # 2 of 3 gave the long person span and ELECTION; only carol added PROTEST.
    assert spans(majority[0]) == [("عمّان", "LOC"), ("عبد الله الثاني", "PERS")] and majority[0]["events"] == [
        "ELECTION"
    ]
    latest, _ = read("label_studio.json", annotator_policy="latest")
    assert spans(latest[0])[1] == ("عبد الله", "PERS")  # bob's annotation is the later one
    with pytest.raises(AnnotationError, match=r"\(task 1\): no usable annotation by 'carol' .*alice@example\.org"):
        read("label_studio.json", annotator_policy="annotator:carol")
    with pytest.raises(ValueError, match="annotator_policy must be one of first, latest, majority or annotator:NAME"):
        ReadOptions(annotator_policy="vote")


def test_brat_webanno_prodigy():
    articles, _ = read("brat")
    assert [a["id"] for a in articles] == ["amman", "irbid"]
    assert spans(articles[0]) == [("عمّان", "LOC"), ("عبد الله الثاني", "PERS")]
    (doc,), report = read("webanno.tsv")
    # The clitic's sub-token row gives بيروت inside وبيروت; [1] joins three tokens; offsets were UTF-16.
    assert spans(doc) == [("بيروت", "LOC"), ("عبد الله الثاني", "PERS"), ("عمّان", "LOC")]
    assert doc["text"].startswith("📢 وصل") and "\n" in doc["text"] and report.converted == {"utf16": 3}
    articles, report = read("prodigy.jsonl")
    assert [a["id"] for a in articles] == ["amman", "beirut"] and articles[1]["events"] == ["ARREST"]
    assert report.not_used == {"rejected (Prodigy)": 1, "ignored (Prodigy)": 1}
    assert report.agreement["pairs"]["news-alice / news-bob"]["span_f1"] == 0.5


def test_unrepresentable_items_error_or_are_skipped_and_counted(tmp_path):
    bad = ROOT / "tests" / "data" / "bad"
    with pytest.raises(AnnotationError, match=r"discontinuous span T1"):
        read_articles(bad / "brat_discontinuous")
    (article,), report = read_articles(bad / "brat_discontinuous", options=ReadOptions(skip_unrepresentable=True))
    assert spans(article) == [("بيروت", "LOC")] and report.unrepresentable == {"discontinuous span": 1}
    articles, report = read_articles(bad / "ls_overlapping_spans.json", options=ReadOptions(skip_unrepresentable=True))
    assert spans(articles[1]) == [("قرب دمشق", "LOC")] and report.unrepresentable == {"nested span": 1}
    # brat relations and notes are refused the same way.
    (tmp_path / "d.txt").write_text(T3, encoding="utf-8")
    (tmp_path / "d.ann").write_text(
        "T1\tORG 7 13\tالشرطة\nT2\tLOC 17 22\tبيروت\nR1\tIn Arg1:T1 Arg2:T2\n", encoding="utf-8"
    )
    with pytest.raises(AnnotationError, match=r"d\.ann \(document 'd'\): relation R1"):
        read_articles(tmp_path)


def article_set(sample_articles) -> list[dict]:
    extra = {
        "id": "emoji/1",
        "text": "📢 مسيرة في عمّان.\nوقال مُحَمَّد إن «الاتحاد» سيشارك.",
        "entities": [],
        "events": ["PROTEST"],
    }
    text = extra["text"]
    for word, label in (("عمّان", "LOC"), ("مُحَمَّد", "PERS"), ("الاتحاد", "ORG")):
        start = text.index(word)
        extra["entities"].append({"start": start, "end": start + len(word), "label": label})
    return [*sample_articles[:12], extra]


@pytest.mark.parametrize("name", sorted(formats()))
def test_round_trip_is_lossless_where_the_format_holds_the_data(name, tmp_path, sample_articles):
    fmt = formats()[name]
    articles = article_set(sample_articles)
    if not fmt.holds_events:
        with pytest.raises(ValueError, match=f"{name} has no place for article events.*--skip-unrepresentable"):
            write_articles(articles, tmp_path / "refused", name)
        options = write_articles(articles, tmp_path / "dropped", name, WriteOptions(skip_unrepresentable=True))
        assert options.dropped["article events"] == sum(len(a["events"]) for a in articles)
        articles = [{**a, "events": []} for a in articles]
    out = tmp_path / ("out" if fmt.folder else f"out.{name}")
    write_articles(articles, out, name)
    back, report = read_articles(out, SCHEMA)
    assert report.data_format == name and report.read == report.used == len(articles)
    if fmt.holds_text:
        key = {a["id"]: a for a in back}
        assert [key[a["id"]] for a in articles] == articles
    else:  # CoNLL: whole tokens and no spacing; every span keeps its text and label, in order
        assert [spans(a) for a in back] == [spans(a) for a in articles]
        assert ["".join(a["text"].split()) for a in back] == ["".join(a["text"].split()) for a in articles]
        again = tmp_path / "again.conll"
        write_articles(back, again, name)
        assert read_articles(again, SCHEMA)[0] == [{**a, "id": a["id"].replace("out:", "again:")} for a in back]


def test_label_studio_predictions_have_version_scores_and_names(tmp_path):
    results = [
        {
            "entities": [{"start": 7, "end": 13, "label": "ORG", "text": "الشرطة", "score": 0.91}],
            "events": [{"label": "ARREST", "score": 0.88}, {"label": "ASSAULT", "score": 0.61}],
        }
    ]
    out = tmp_path / "tasks.json"
    options = WriteOptions(
        predictions=True, model_version="ner@abc", from_name="ner", to_name="article", choices_name="topic"
    )
    write_articles(predictions_to_articles([T3], results, ["a-1"]), out, "label-studio", options)
    (task,) = json.loads(out.read_text(encoding="utf-8"))
    assert task["data"] == {"text": T3, "article_id": "a-1"} and "annotations" not in task
    (prediction,) = task["predictions"]
    assert prediction["model_version"] == "ner@abc" and prediction["score"] == round((0.91 + 0.88 + 0.61) / 3, 4)
    region, *choices = prediction["result"]
    assert region["from_name"] == "ner" and region["to_name"] == "article" and region["score"] == 0.91
    assert region["value"] == {"start": 7, "end": 13, "text": "الشرطة", "labels": ["ORG"]}
    assert [(c["from_name"], c["value"]["choices"], c["score"]) for c in choices] == [
        ("topic", ["ARREST"], 0.88),
        ("topic", ["ASSAULT"], 0.61),
    ]
    # The file reads back (predictions form) into the same spans and events.
    (article,), _ = read_articles(out)
    assert spans(article) == [("الشرطة", "ORG")] and article["events"] == ["ARREST", "ASSAULT"]


def test_convert_cli(tmp_path, capsys):
    out = tmp_path / "brat"
    assert cli(["convert", str(FIXTURES / "label_studio.json"), str(out), "--to", "brat"]) == 2
    err = capsys.readouterr().err
    # The input file is named as well as the article (it named only the article).
    assert err.startswith(f"error: {FIXTURES / 'label_studio.json'}: article ")
    assert "has no place for article events" in err
    assert (
        cli(["convert", str(FIXTURES / "label_studio.json"), str(out), "--to", "brat", "--skip-unrepresentable"]) == 0
    )
    printed = capsys.readouterr().out
    assert "wrote 3 articles" in printed and "left out 4 article events" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "1.ann",
        "1.txt",
        "2.ann",
        "2.txt",
        "3.ann",
        "3.txt",
        "annotation.conf",
    ]
    assert (out / "2.ann").read_text(encoding="utf-8").splitlines()[0] == "T1\tORG 25 38\tوزارة التربية"
    assert cli(["convert", str(out), str(tmp_path / "x.jsonl"), "--to", "jsonl"]) == 0
    assert cli(["convert", str(out), str(tmp_path / "x.jsonl"), "--to", "jsonl"]) == 2  # exists
    assert "exists; pass --overwrite" in capsys.readouterr().err
    # An output in a folder that is not there: one line naming it, nothing made (was a bare [Errno 2]).
    missing = tmp_path / "no" / "x.jsonl"
    assert cli(["convert", str(out), str(missing), "--to", "jsonl"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"the folder {missing.parent} does not exist" in err[0]
    assert not missing.parent.exists()
    (back,) = [a for a in read_articles(tmp_path / "x.jsonl")[0] if a["id"] == "2"]
    assert spans(back) == [("وزارة التربية", "ORG"), ("إربد", "LOC")]


def test_config_keys_reach_the_reader(tmp_path):
    from akhbar.config import ConfigError, parse_config

    config = ROOT / "configs" / "ner-sample.yaml"
    _, data, *_ = parse_config(["--config", str(config), "--data_format", "brat", "--annotator_policy", "latest"])
    assert data.read_options() == ReadOptions(data_format="brat", annotator_policy="latest")
    with pytest.raises(ConfigError, match="unknown data format 'labelstudio'"):
        parse_config(["--config", str(config), "--data_format", "labelstudio"])
    with pytest.raises(ConfigError, match="offset_unit must be one of auto, codepoint, utf16, grapheme"):
        parse_config(["--config", str(config), "--offset_unit", "bytes"])


def test_a_forced_offset_unit_is_named_in_the_error():
    bad = ROOT / "tests" / "data" / "bad" / "ls_span_text_mismatch.json"
    with pytest.raises(
        AnnotationError, match=r"the tool says 'حلب' .*; read as UTF-16 code units \(offset_unit utf16\)"
    ):
        read_articles(bad, options=ReadOptions(offset_unit="utf16"))


def test_validate_counts_in_words_a_person_would_write(tmp_path, capsys):
    one = tmp_path / "one.conll"
    one.write_text("زار\tO\nأحمد\tB-PER\nبيروت\tB-LOC\n\n", encoding="utf-8")
    assert cli(["validate", str(one), "--entity-labels", "PER", "LOC"]) == 0
    assert "read 1 record, used 1, skipped 0 (conll); 2 entities (PER 1, LOC 1)" in capsys.readouterr().out
    one.write_text("زار\tO\nأحمد\tB-PER\n\n", encoding="utf-8")
    assert cli(["validate", str(one)]) == 0
    assert "; 1 entity (PER 1); events: none" in capsys.readouterr().out

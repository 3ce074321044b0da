"""Every malformed input in tests/data/bad gets a one-line error naming file, line and fault; exit code 2."""

import re

import pytest
from conftest import ROOT

from akhbar.cli import main as cli
from akhbar.cli import run_user_command
from akhbar.training import main as train

BAD = ROOT / "tests" / "data" / "bad"
ODD = ROOT / "tests" / "data" / "odd"
SCHEMA = ["--entity-labels", "PERS", "LOC", "ORG", "MISC"]

# file -> (line, fault)
DATA_FAULTS = {
    "invalid_json.jsonl": (2, r"invalid JSON: Expecting value at column 55"),
    "missing_field.jsonl": (2, r"\(article 'x-2'\): missing field 'text'"),
    "wrong_type.jsonl": (2, r"field 'entities' must be a list, found str"),
    # On the first line it made the file unrecognisable ("cannot tell the format"), hiding the fault.
    "wrong_type_first_line.jsonl": (1, r"\(article 'x-1'\): field 'entities' must be a list, found dict"),
    "offset_out_of_range.jsonl": (2, r"span \[21, 40\) is not a non-empty range inside the text \(length 25\)"),
    "offset_reversed.jsonl": (2, r"span \[25, 21\) is not a non-empty range"),
    "overlapping_spans.jsonl": (2, r"entities overlap: \[6, 17\) ORG and \[12, 25\) LOC"),
    "surrogate_split.jsonl": (2, r"unpaired surrogate U\+D83D at index 0"),
    "utf16_offsets.jsonl": (2, r"span \[13, 17\) .* offsets counted in UTF-16 code units"),
    "span_text_mismatch.jsonl": (2, r"says text 'حلب' but \[21, 25\) is 'دمشق'"),
    "unknown_label.jsonl": (2, r"label 'CITY' is not in the schema"),
    "empty_article.jsonl": (2, r"empty text"),
    "duplicate_id.jsonl": (2, r"duplicate id 'ok-1' \(first on line 1\)"),
    "bom_mid_file.jsonl": (2, r"invalid JSON: Unexpected UTF-8 BOM"),
    "invisible_span_edge.jsonl": (2, r"starts or ends on the invisible character U\+200F"),
    "number_too_long.jsonl": (2, r"invalid JSON: a number too long to read \(Exceeds the limit \(4300 digits\)"),
    "nested_too_deep.jsonl": (2, r"invalid JSON: nested too deeply to read"),
    "invalid_utf8.jsonl": (2, r"invalid UTF-8 at byte 26"),
    "conll_extra_column.txt": (6, r"expected 2 columns .* found 3"),
    "conll_missing_column.txt": (6, r"found 1 column\(s\) in 'الوفد'"),
    "conll_empty_token.txt": (6, r"an empty token"),
    "conll_direction_mark.txt": (6, r"invisible character U\+200F at position 4"),
    "conll_bad_tag.txt": (6, r"tag 'B_LOC' is not O, B-TYPE or I-TYPE"),
    # Annotation tools' exports (line: where the bad task starts; None: a folder, the error names its file).
    "ls_span_text_mismatch.json": (
        3,
        r"\(task 5, annotation 51 by 2\): span result 'r1' \[22, 26\) LOC: the tool says 'حلب' but "
        r"text\[22:26\] is 'دمشق'; no offset unit makes every span",
    ),
    "ls_cancelled.json": (3, r"\(task 6\): no usable annotation \(found: 1 cancelled\)"),
    "ls_unknown_label.json": (3, r"\(article '7'\): entities\[0\] label 'CITY' is not in the schema"),
    "ls_overlapping_spans.json": (
        3,
        r"\(task 8, annotation 81 by 2\): nested spans \[18, 26\) LOC .* skip_unrepresentable",
    ),
    "ls_relation.json": (3, r"relation r1 -> r2 cannot be represented .*--skip-unrepresentable"),
    "doccano_grapheme_offsets.jsonl": (
        2,
        r"\(example 2\): span label\[0\] \[13, 18\) LOC splits a letter from its diacritics .* as grapheme "
        r"clusters it would be 'بَيْرُوتَ'.* set offset_unit",
    ),
    "brat_discontinuous": (None, r"beirut\.ann \(document 'beirut'\): discontinuous span T1 \(ORG 6 20;22 30"),
    "prodigy_span_text_mismatch.jsonl": (2, r"span spans\[0\] \[6, 12\) ORG: the tool says 'الجيش' but .* 'الشرطة'"),
    "webanno_token_offsets.tsv": (7, r"row 1-2: token 'الوفد' at \[4, 8\) is not where the #Text lines put it"),
}
# Faults found without a schema too (the schema is then inferred from the data): labels that are not types.
NO_SCHEMA_FAULTS = {
    "label_with_space.jsonl": (2, r"entities\[0\] label 'LOC ' contains whitespace"),
    "label_empty.jsonl": (2, r"entities\[0\] label '' is empty"),
    "label_is_tag.jsonl": (2, r"entities\[0\] label 'B-LOC' is a tag, not a type"),
    "conll_tag_in_tag.txt": (6, r"label 'B-LOC' is a tag, not a type"),
}
TOOL_PREFIXES = ("ls_", "doccano_", "brat_", "prodigy_", "webanno_")
CONFIG_FAULTS = {
    "config_unknown_key.yaml": (2, r"unknown key 'max_lenght' \(did you mean 'max_length'\?\)"),
    "config_wrong_type.yaml": (2, r"num_train_epochs expects a float, found 'three'"),
}


def test_every_bad_file_is_covered():
    covered = set(DATA_FAULTS) | set(NO_SCHEMA_FAULTS) | set(CONFIG_FAULTS)
    assert {p.name for p in BAD.iterdir() if p.name != "README.md"} == covered


@pytest.mark.parametrize("name", sorted(DATA_FAULTS) + sorted(NO_SCHEMA_FAULTS))
def test_bad_data_file(name, capsys):
    line, fault = DATA_FAULTS.get(name) or NO_SCHEMA_FAULTS[name]
    schema = [] if name in NO_SCHEMA_FAULTS else SCHEMA
    assert cli(["validate", str(BAD / name), *schema]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.rstrip("\n")
    assert "\n" not in err and "Traceback" not in err
    assert re.match(re.escape(f"error: {BAD / name}") + (f":{line}[ :]" if line else "/"), err), err
    assert re.search(fault, err), err


@pytest.mark.parametrize("name", sorted(CONFIG_FAULTS))
def test_bad_config_file(name, capsys, tmp_path):
    line, fault = CONFIG_FAULTS[name]
    out = tmp_path / "run"
    assert run_user_command(train, ["--config", str(BAD / name), "--output_dir", str(out)]) == 2
    err = capsys.readouterr().err.rstrip("\n")
    assert "\n" not in err and err.startswith(f"error: {BAD / name}:{line}: ")
    assert re.search(fault, err), err
    assert not out.exists()


def test_bad_training_data_changes_nothing(capsys, tmp_path):
    # An existing run folder and package must survive a run that stops on bad data.
    out, packages = tmp_path / "run", tmp_path / "models"
    out.mkdir()
    (out / "keep.txt").write_text("previous run")
    args = [
        "--config",
        str(ROOT / "configs" / "ner-sample.yaml"),
        "--train_file",
        str(BAD / "overlapping_spans.jsonl"),
        "--output_dir",
        str(out),
        "--package_dir",
        str(packages),
        "--overwrite_output_dir",
        "true",
    ]
    assert run_user_command(train, args) == 2
    assert "overlapping_spans.jsonl:2" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and not packages.exists()


def test_skip_invalid_reports_and_counts(tmp_path, capsys):
    # All bad JSONL lines in one file between good ones: every record is either used or skipped.
    lines = []
    for name in sorted(DATA_FAULTS):
        native = name.endswith(".jsonl") and not name.startswith(TOOL_PREFIXES)
        if native and name not in ("invalid_utf8.jsonl", "duplicate_id.jsonl"):
            lines.append((BAD / name).read_text(encoding="utf-8").splitlines()[DATA_FAULTS[name][0] - 1])
    good = (BAD / "invalid_json.jsonl").read_text(encoding="utf-8").splitlines()[0]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(
        "\n".join([good] + [line.replace('"x-2"', f'"x-{i}"') for i, line in enumerate(lines)]) + "\n", encoding="utf-8"
    )
    assert cli(["validate", str(mixed), *SCHEMA, "--skip-invalid"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{mixed}: read {len(lines) + 1} records, used 1, skipped {len(lines)}")
    assert len([line for line in out if line.startswith("  skipped: ")]) == len(lines)


@pytest.mark.parametrize("name", sorted(p.name for p in ODD.iterdir()))
def test_odd_but_valid_files_are_read(name, capsys):
    assert cli(["validate", str(ODD / name), *SCHEMA]) == 0
    assert "skipped 0" in capsys.readouterr().out


def test_direction_marks_in_text_do_not_split_words():
    from akhbar.articles import read_articles
    from akhbar.preprocessing import PreprocessingConfig, split_words
    from akhbar.windows import word_tags

    (article,), _ = read_articles(ODD / "direction_marks_in_text.jsonl")
    words = split_words(article["text"], PreprocessingConfig())
    assert [words.mapped.text[a:b] for a, b in words.spans] == ["أعلنت", "وزارة", "الصحة", "في", "دمشق"]
    assert word_tags(words, article["entities"]) == ["O", "B-ORG", "I-ORG", "O", "B-LOC"]


def sample_run(out, packages, *extra):
    return [
        "--config",
        str(ROOT / "configs" / "ner-sample.yaml"),
        "--output_dir",
        str(out),
        "--package_dir",
        str(packages),
        *extra,
    ]


def test_overwrite_never_deletes_what_no_run_wrote(capsys, tmp_path):
    # The training data lives in the output folder: --overwrite_output_dir must not delete it.
    out = tmp_path / "v"
    out.mkdir()
    (out / "train.jsonl").write_bytes((ROOT / "data" / "sample" / "train.jsonl").read_bytes())
    args = sample_run(
        out, tmp_path / "models", "--train_file", str(out / "train.jsonl"), "--overwrite_output_dir", "true"
    )
    assert run_user_command(train, [*args, "--model_name_or_path", "/nope"]) == 2
    err = capsys.readouterr().err
    assert "holds files a training run does not write (train.jsonl)" in err and len(err.splitlines()) == 1
    assert [p.name for p in out.iterdir()] == ["train.jsonl"]


def test_overwrite_keeps_the_previous_run_until_the_new_one_can_start(capsys, tmp_path):
    # A previous run's folder (only what runs write) and a base model that does not load: nothing moves.
    out = tmp_path / "run"
    (out / "checkpoint-4").mkdir(parents=True)
    (out / "checkpoint-4" / "trainer_state.json").write_text("{}")
    (out / "run_config.json").write_text("{}")
    args = sample_run(out, tmp_path / "models", "--overwrite_output_dir", "true", "--model_name_or_path", "/nope")
    assert run_user_command(train, args) == 2
    assert "'/nope' is not a local folder" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-4", "run_config.json"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unwritable_destinations_are_found_before_training(capsys, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    for key in ("package_dir", "output_dir"):
        args = sample_run(tmp_path / "run", tmp_path / "models", f"--{key}", str(tmp_path / "file" / "sub"))
        assert run_user_command(train, [*args, "--model_name_or_path", "/nope"]) == 2
        assert (
            f"{key} {tmp_path / 'file' / 'sub'}: {tmp_path / 'file'} is a file, not a folder" in capsys.readouterr().err
        )


def test_pipes_are_refused_with_the_reason(capsys, tmp_path):
    import os

    fifo = tmp_path / "in.jsonl"
    os.mkfifo(fifo)
    assert cli(["validate", str(fifo)]) == 2
    assert (
        capsys.readouterr().err
        == f"error: {fifo}: not a regular file or folder (a pipe or a device); save it to a file first\n"
    )


@pytest.mark.parametrize(
    "argv, fault",
    [
        (
            ["validate", "x.jsonl", "--skip_invalid"],
            "akhbar validate: unrecognized arguments: --skip_invalid (did you mean --skip-invalid?); "
            "`akhbar validate --help` lists the options",
        ),
        (["analyze", "--ner", "m", "in.txt"], "akhbar analyze: the following arguments are required: --events"),
        (["evaluate", "--model", "m", "--data", "d", "--batch-size", "x"], "invalid int value: 'x'"),
        ([], "akhbar: the following arguments are required: command"),
    ],
)
def test_command_line_mistakes_are_one_line(argv, fault, capsys):
    # argparse printed a usage block, for a stray flag the top-level one, and no "did you mean".
    with pytest.raises(SystemExit) as stop:
        cli(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and fault in err and err.startswith("error: ")


def test_a_reader_that_goes_away_ends_the_command_quietly():
    # `akhbar info M | head -1` printed a BrokenPipeError traceback. The read end is closed before the command
    # writes anything, so its first line meets the closed pipe whatever the timing.
    import subprocess
    import sys

    code = "import sys; from akhbar.cli import main; sys.exit(main())"
    command = [sys.executable, "-c", code, "info", str(ROOT / "tests" / "data" / "legacy" / "ner-sample")]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr

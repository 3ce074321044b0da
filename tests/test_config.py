import time
from pathlib import Path

import pytest
from conftest import ROOT

from akhbar.config import ConfigError, parse_config
from akhbar.tasks import task_names

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_parses(config):
    model_args, data_args, prep_args, training_args, path = parse_config(["--config", str(config)])
    assert path == config
    assert model_args.model_name == config.stem
    assert data_args.train_file and training_args.output_dir
    prep_args.to_config()


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_overrides_win_over_the_file(tmp_path):
    path = write(tmp_path, "train_file: a.jsonl\nlearning_rate: 1.0e-4\nentity_labels: [PERS, LOC]\n")
    model_args, data_args, _, training_args, _ = parse_config(
        ["--config", path, "--learning_rate", "3e-5", "--max_steps", "7"]
    )
    assert training_args.learning_rate == 3e-5 and training_args.max_steps == 7
    assert data_args.entity_labels == ["PERS", "LOC"]
    assert model_args.model_name == "run"
    assert training_args.metric_for_best_model == "strict_f1" and training_args.load_best_model_at_end


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "train_file: a.jsonl\nlearning_rat: 1\n",
            r"run\.yaml:2: unknown key 'learning_rat' \(did you mean 'learning_rate'\?\)",
        ),
        ("train_file: a.jsonl\n\nlearning_rate: fast\n", r"run\.yaml:3: learning_rate expects a float, found 'fast'"),
        ("max_length: [1, 2]\n", r"run\.yaml:1: max_length takes a single value"),
        ("bf16: maybe\n", r"run\.yaml:1: bf16 expects a bool"),
        ("stride: 200\nmax_length: 128\n", r"stride must be between 0 and max_length/2"),
        ("join_sentences: -5\n", r"join_sentences must be 0 \(off\) or a number of words, found -5"),
        ("event_loss: focus\n", r"run\.yaml:1: event_loss must be one of \['cross_entropy', 'focal'\], found 'focus'"),
        ("focal_gamma: -1\n", r"focal_gamma must be 0 or more, found -1"),
        ("oversample_positives: 0\n", r"oversample_positives must be 1 \(off\) or more, found 0"),
        ("oversample_positives: 3\n", r"oversample_positives needs multi_label: true"),
        # -1 stopped the run at its first evaluation and 0 silently never stopped it; null is "never".
        ("early_stopping_patience: -1\n", r"early_stopping_patience must be at least 1 \(null: never\), found -1"),
        ("early_stopping_patience: 0\n", r"early_stopping_patience must be at least 1 \(null: never\), found 0"),
        # The last of two was taken without a word.
        (
            "learning_rate: 1e-4\nseed: 1\nlearning_rate: 5e-5\n",
            r"run\.yaml:3: learning_rate is given twice \(first on line 1\)",
        ),
        ("- a\n- b\n", r"expected a mapping"),
        ("a: [unclosed\n", r"run\.yaml:\d+: invalid YAML"),
        ("preprocessing: arabertv2\n", None),
    ],
)
def test_bad_config_values_name_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    if message is None:  # the preset is checked when the preprocessing settings are built
        _, _, prep_args, _, _ = parse_config(["--config", path])
        with pytest.raises(ConfigError, match="unknown preprocessing preset 'arabertv2'"):
            prep_args.to_config()
        return
    with pytest.raises(ConfigError, match=message):
        parse_config(["--config", path])


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml: config file not found"):
        parse_config(["--config", str(tmp_path / "nope.yaml")])
    # A folder is there: it said "config file not found" for it too.
    with pytest.raises(IsADirectoryError, match=f"{tmp_path}: a folder; --config takes a YAML file"):
        parse_config(["--config", str(tmp_path)])


def test_misspelt_override_is_not_taken_as_an_abbreviation(tmp_path):
    path = write(tmp_path, "train_file: a.jsonl\n")
    with pytest.raises(
        ConfigError,
        match=r"unknown command-line argument\(s\) \['--learning_rat', '1'\] \(did you mean --learning_rate\?\)",
    ):
        parse_config(["--config", path, "--learning_rat", "1"])


def test_null_in_the_file_and_on_the_command_line(tmp_path):
    # The README documents `early_stopping_patience: null` (never stop early); `--key null` drops a value the
    # config file sets, e.g. to hold out validation_split instead of the file's validation_file.
    path = write(tmp_path, "train_file: a.jsonl\nvalidation_file: v.jsonl\nearly_stopping_patience: null\n")
    _, data_args, _, training_args, _ = parse_config(["--config", path])
    assert training_args.early_stopping_patience is None and data_args.validation_file == "v.jsonl"
    _, data_args, _, training_args, _ = parse_config(
        ["--config", path, "--validation_file", "null", "--validation_split", "0.2", "--early_stopping_patience", "2"]
    )
    assert data_args.validation_file is None and data_args.validation_split == 0.2
    assert training_args.early_stopping_patience == 2
    _, _, _, training_args, _ = parse_config(["--config", path, "--early_stopping_patience", "null"])
    assert training_args.early_stopping_patience is None
    with pytest.raises(ConfigError, match="--learning_rate cannot be null: it needs a value"):
        parse_config(["--config", path, "--learning_rate", "null"])
    with pytest.raises(ConfigError, match="run.yaml:1: learning_rate cannot be null"):
        parse_config(["--config", write(tmp_path, "learning_rate: null\n")])


def test_alias_bombs_and_deep_nesting_are_refused_quickly(tmp_path):
    # "Billion laughs" under known keys: 606 bytes that expand to 9^9 labels. Refused before expansion.
    lines = ['x: &a0 ["LOC","LOC","LOC","LOC","LOC","LOC","LOC","LOC","LOC"]']
    lines += [f"y{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 8)]
    bomb = "train_file: a.jsonl\n" + "\n".join(lines) + "\nentity_labels: [" + ", ".join(["*a7"] * 9) + "]\n"
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="run.yaml: the config expands to more than 100,000 values: YAML aliases"):
        parse_config(["--config", write(tmp_path, bomb)])
    with pytest.raises(ConfigError, match="run.yaml: values nested too deeply to read"):
        parse_config(["--config", write(tmp_path, "entity_labels: " + "[" * 20000 + "]" * 20000 + "\n")])
    assert time.perf_counter() - started < 10
    # Aliases that stay small are fine.
    _, data_args, _, _, _ = parse_config(["--config", write(tmp_path, "train_file: &f a.jsonl\ntest_file: *f\n")])
    assert data_args.test_file == "a.jsonl"


@pytest.mark.parametrize("epochs", ["0", "-3", "nan", "inf"])
def test_a_run_that_would_train_nothing_is_refused(tmp_path, epochs):
    path = write(tmp_path, "train_file: a.jsonl\n")
    with pytest.raises(ConfigError, match=f"num_train_epochs must be a positive number .*found {epochs}"):
        parse_config(["--config", path, "--num_train_epochs", epochs])
    _, _, _, training_args, _ = parse_config(["--config", path, "--num_train_epochs", epochs, "--max_steps", "5"])
    assert training_args.max_steps == 5


def test_help_is_short_and_names_config(capsys):
    with pytest.raises(SystemExit) as stop:
        parse_config(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: train.py [--config FILE]") and "--help-all" in text
    assert "--entity_labels" in text and "--early_stopping_patience" in text and "--save_total_limit" in text
    task_help = next(line for line in text.splitlines() if line.lstrip().startswith("--task "))
    assert all(name in task_help for name in task_names())
    assert len(text.splitlines()) < 80
    with pytest.raises(SystemExit):
        parse_config(["--help-all"])
    assert "--gradient_accumulation_steps" in capsys.readouterr().out


def test_command_line_type_errors_are_one_line(tmp_path, capsys):
    from akhbar.cli import run_user_command
    from akhbar.training import main as train

    path = write(tmp_path, "train_file: a.jsonl\n")
    assert run_user_command(train, ["--config", path, "--learning_rate", "abc"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: command line: argument --learning_rate/--learning-rate: invalid float value: 'abc'; "
        "`python train.py --help` lists the keys\n"
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("learning_rate", "-1", ">= 0"),
        ("learning_rate", "nan", ">= 0"),
        ("per_device_train_batch_size", "0", "at least 1"),
        ("per_device_eval_batch_size", "0", "at least 1"),
        ("gradient_accumulation_steps", "0", "at least 1"),
        ("weight_decay", "-0.1", ">= 0"),
    ],
)
def test_values_torch_would_refuse_after_setup_are_refused_first(tmp_path, key, value, expected):
    path = write(tmp_path, "train_file: a.jsonl\n")
    with pytest.raises(ConfigError, match=f"{key} must be {expected}, found"):
        parse_config(["--config", path, f"--{key}", value])

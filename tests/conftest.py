"""Shared fixtures: a tiny BERT + WordPiece tokenizer built offline from the shipped sample text."""

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # tests never touch the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SHARED = ROOT.parent / "shared" / "data"
ANERCORP = SHARED / "anercorp" / "derived_camel_style_split"

needs_anercorp = pytest.mark.skipif(not ANERCORP.is_dir(), reason="../shared/data/anercorp is not present")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from akhbar.tiny import build_tiny_model, read_texts

    files = sorted(SAMPLE.glob("*.jsonl"))
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-bert", read_texts(files), source="data/sample")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def sample_articles() -> list[dict]:
    from akhbar.articles import read_articles

    return [a for split in ("train", "validation", "test") for a in read_articles(SAMPLE / f"{split}.jsonl")[0]]


def train_args(config: str, model, folder: Path, data: Path = SAMPLE, **overrides) -> list[str]:
    """``train.py`` arguments for a shipped config on the tiny model, writing under ``folder``.

    Small windows (64 tokens, stride 16) so that every sample article is read in several windows.
    ``overrides``: more ``--key value`` pairs; a list value gives several words.
    """
    values = {
        "config": ROOT / "configs" / config,
        "model_name_or_path": model,
        "train_file": data / "train.jsonl",
        "validation_file": data / "validation.jsonl",
        "test_file": data / "test.jsonl",
        "output_dir": folder / "run",
        "package_dir": folder / "models",
        "max_length": 64,
        "stride": 16,
        "learning_rate": 3e-3,
        "warmup_steps": 0,
        "disable_tqdm": "true",
        **overrides,
    }
    args = []
    for key, value in values.items():
        args += [f"--{key}", *(str(v) for v in (value if isinstance(value, list) else [value]))]
    return args

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

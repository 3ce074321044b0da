"""Shared fixtures: a tiny BERT + WordPiece tokenizer built offline from the shipped sample text."""

import contextlib
import os
import socket
import threading
import time
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


EVENTS = ["PROTEST", "ASSAULT", "ARREST", "ELECTION", "AIRSTRIKE"]
ROLES = ["SOURCE", "TRIGGER", "TARGET"]


def random_head_package(tiny_model, folder: Path, task: str = "ner", std: float = 0.5) -> Path:
    """A package over the tiny encoder with a seeded random head, without training, in ``folder/models``
    (``task``: ner, events, sentence_events or arguments).

    The head is drawn large enough that many words get entity tags (NER) and labels clear their thresholds
    (events): a tiny model trained for a few steps tags every word O (so did 15, 30 and 45 steps, and 12 steps
    at learning rate 3e-2), and tests that compare entities would then prove nothing; training until it finds
    entities takes about a minute on CPU. ``package_run`` evaluates it on the sample test articles.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

    from akhbar import __version__
    from akhbar.labels import bio_labels
    from akhbar.packaging import package_run
    from akhbar.preprocessing import PreprocessingConfig
    from akhbar.settings import PackageSettings

    tagger = task in ("ner", "arguments")  # a token classifier: entity types, or roles read for an event type
    schema = ROLES if task == "arguments" else ["PERS", "LOC", "ORG", "MISC"]
    labels = bio_labels(schema) if tagger else EVENTS
    model_class = AutoModelForTokenClassification if tagger else AutoModelForSequenceClassification
    torch.manual_seed(0)
    model = model_class.from_pretrained(
        tiny_model,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    with torch.no_grad():
        model.classifier.weight.normal_(std=std)
    run = folder / f"run-{task}"
    model.save_pretrained(run)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(run)
    settings = PackageSettings(
        task=task,
        entity_labels=schema if tagger else [],
        preprocessing=PreprocessingConfig.from_preset("arabertv02"),
        max_length=64,
        stride=16,
        base_model=str(tiny_model),
        akhbar_version=__version__,
        event_labels=[] if task == "ner" else EVENTS,
        multi_label=task in ("events", "sentence_events"),
        thresholds=None if tagger else dict.fromkeys(EVENTS, 0.5),
    )
    settings.save(run)
    name = f"{task}-sample"
    data = SAMPLE / "arguments" if task == "arguments" else SAMPLE
    return package_run(run, folder / "models" / name, data_file=str(data / "test.jsonl"), show_progress=False)


@pytest.fixture(scope="session")
def random_packages(tiny_model_dir, tmp_path_factory) -> tuple[Path, Path]:
    """A NER and an events package with random heads (:func:`random_head_package`); tests copy them before
    writing into them."""
    folder = tmp_path_factory.mktemp("random-heads")
    return random_head_package(tiny_model_dir, folder, "ner"), random_head_package(tiny_model_dir, folder, "events")


@pytest.fixture(scope="session")
def sentence_packages(random_packages, tmp_path_factory, tiny_model_dir) -> tuple[Path, Path, Path]:
    """A NER, a sentence events and an argument package with random heads: what ``akhbar serve --events
    --arguments`` runs."""
    folder = tmp_path_factory.mktemp("random-sentence-heads")
    sentence_events = random_head_package(tiny_model_dir, folder, "sentence_events")
    return random_packages[0], sentence_events, random_head_package(tiny_model_dir, folder, "arguments")


@contextlib.contextmanager
def live_server(app):
    """An ASGI ``app`` under a real uvicorn on 127.0.0.1 (an ephemeral port) in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=10))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        assert thread.is_alive() and time.time() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()

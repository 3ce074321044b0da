"""Load a packaged akhbar model and tag text of any length.

    from akhbar import NerTagger
    tagger = NerTagger.from_pretrained("models/ner-anercorp")
    tagger.predict(["زار الرئيس عمّان أمس."])
    # [[{"start": 11, "end": 16, "label": "LOC", "text": "عمّان", "score": 0.98}]]

Inference applies the preprocessing saved with the checkpoint, reads long texts as overlapping windows
and merges them (:mod:`akhbar.windows`), and returns offsets into the original text. This module never
imports training code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModelForTokenClassification, AutoTokenizer

from .labels import tags_to_spans
from .manifest import verify_manifest
from .preprocessing import Words
from .settings import PackageSettings
from .windows import EncodedArticle, encode_article, merge_windows

logger = logging.getLogger(__name__)


def resolve_model_dir(name_or_path: str | Path, revision: str | None = None) -> Path:
    """A local folder as is; a hub id downloaded (or taken from the local cache) into a folder.

    Raises:
        FileNotFoundError: neither a local folder nor a reachable hub repository; says how to fix it.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(str(name_or_path), revision=revision))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError) as err:
        raise FileNotFoundError(
            f"model {str(name_or_path)!r} is not a local folder and could not be fetched from the Hugging Face "
            f"hub ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no detail'}). Point at a "
            "local packaged folder instead (e.g. models/<name>)."
        ) from None


@dataclass
class TaggedText:
    """One text as the model read it: its words, a tag and a probability per word."""

    words: Words
    tags: list[str]
    scores: list[float]
    missing_words: int = 0  # words the tokenizer gave no token (tagged O)

    def entities(self, text: str) -> list[dict]:
        """Entities with offsets into the original ``text`` (lenient IOB reading of the tags)."""
        spans = self.words.original_spans
        out = []
        for a, b, label in tags_to_spans(self.tags):
            start, end = spans[a][0], spans[b - 1][1]
            out.append(
                {
                    "start": start,
                    "end": end,
                    "label": label,
                    "text": text[start:end],
                    "score": round(float(np.mean(self.scores[a:b])), 4),
                }
            )
        return out


class NerTagger:
    """Named-entity tagger over a packaged akhbar checkpoint.

    Args:
        model: a token-classification model whose ``config.id2label`` is the BIO schema.
        tokenizer: its fast tokenizer.
        settings: the checkpoint's saved preprocessing, window and label settings.
        batch_size: windows per forward pass.
        device: ``"cpu"``, ``"cuda"``, …; by default CUDA when available.
    """

    def __init__(self, model, tokenizer, settings: PackageSettings, batch_size: int = 32, device: str | None = None):
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("NerTagger needs a fast tokenizer (offset mapping); this checkpoint has a slow one")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.settings = settings
        self.batch_size = batch_size
        self.id2label = {int(k): v for k, v in model.config.id2label.items()}

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path, *, revision: str | None = None, batch_size: int = 32, device: str | None = None
    ) -> NerTagger:
        """Load a packaged folder (or a hub id of one).

        The folder is checked against its ``manifest.json`` first (sha256 of every file, no pickles, label
        schema); weights load from safetensors only and no remote code is ever run.
        """
        directory = resolve_model_dir(name_or_path, revision)
        verify_manifest(directory)
        settings = PackageSettings.load(directory)
        if settings.task != "ner":
            raise ValueError(f"{directory} holds a {settings.task!r} model, not an NER model")
        model = AutoModelForTokenClassification.from_pretrained(directory, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(directory)
        return cls(model, tokenizer, settings, batch_size=batch_size, device=device)

    def tag(self, texts: Sequence[str], show_progress: bool = False) -> list[TaggedText]:
        """Words, tags and tag probabilities for each text (the evaluation's view of predictions)."""
        encoded: list[tuple[Words, EncodedArticle]] = [
            encode_article(
                self.tokenizer, t, self.settings.preprocessing, self.settings.max_length, self.settings.stride
            )
            for t in texts
        ]
        windows = [(i, k) for i, (_, enc) in enumerate(encoded) for k in range(len(enc.input_ids))]
        ids_of = {(i, k): encoded[i][1].input_ids[k] for i, k in windows}
        # Longest first, so padding within a batch is small and a memory error shows up at once.
        order = sorted(windows, key=lambda w: -len(ids_of[w]))
        label_ids: dict[tuple[int, int], np.ndarray] = {}
        probs: dict[tuple[int, int], np.ndarray] = {}
        batches = range(0, len(order), self.batch_size)
        for start in tqdm(batches, desc="tagging", unit="batch", disable=not show_progress):
            keys = order[start : start + self.batch_size]
            batch = self.tokenizer.pad({"input_ids": [ids_of[k] for k in keys]}, return_tensors="pt")
            batch = {name: tensor.to(self.device) for name, tensor in batch.items()}
            with torch.inference_mode():
                logits = self.model(**batch).logits  # (batch, tokens, labels)
            p, y = torch.softmax(logits.float(), dim=-1).max(dim=-1)
            for row, key in enumerate(keys):
                n = len(ids_of[key])
                label_ids[key] = y[row, :n].cpu().numpy()
                probs[key] = p[row, :n].cpu().numpy()
        results = []
        for i, (words, enc) in enumerate(encoded):
            chosen = merge_windows(enc.word_index, enc.cut_left, enc.cut_right, enc.num_words)
            tags, scores = [], []
            for pick in chosen:
                if pick is None:  # the tokenizer produced no token for this word
                    tags.append("O")
                    scores.append(0.0)
                    continue
                k, p = pick
                tags.append(self.id2label[int(label_ids[(i, k)][p])])
                scores.append(float(probs[(i, k)][p]))
            results.append(TaggedText(words, tags, scores, sum(pick is None for pick in chosen)))
        return results

    def predict(self, texts: str | Iterable[str], show_progress: bool = False) -> list[list[dict]]:
        """Entities of each text as ``{"start", "end", "label", "text", "score"}``, offsets into the text.

        A single string gives a list with one entry.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        return [tagged.entities(text) for tagged, text in zip(self.tag(texts, show_progress), texts)]

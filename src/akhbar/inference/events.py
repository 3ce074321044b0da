"""Event labels of articles of any length: window logits pooled into the article's, then decided."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification

from ..events import decide, pool_logits, probabilities
from ..preprocessing import Words, split_words
from ..sentences import sentence_spans
from ..windows import encode_words
from .batching import chunked, run_windows
from .package import PackagedModel


class EventClassifier(PackagedModel):
    """Article event classifier over a packaged akhbar checkpoint (``task: events``).

    Long articles are read in windows whose logits are pooled as in training (``settings.pooling``).
    """

    model_class = AutoModelForSequenceClassification

    def scores(
        self, texts: Sequence[str], show_progress: bool = False, words: Sequence[Words] | None = None
    ) -> np.ndarray:
        """Article probabilities ``(texts, labels)``: softmax (single-label) or sigmoid (multi-label).

        Texts are read in chunks of about :data:`CHUNK_CHARS` characters."""
        parts = [
            self._score_chunk([texts[i] for i in chunk], show_progress, [words[i] for i in chunk] if words else None)
            for chunk in chunked(range(len(texts)), lambda i: len(texts[i]))
        ]
        return np.concatenate(parts) if parts else np.zeros((0, len(self.settings.event_labels)))

    def _score_chunk(self, texts: Sequence[str], show_progress: bool, words: Sequence[Words] | None) -> np.ndarray:
        words = words or [split_words(t, self.settings.preprocessing) for t in texts]
        windows = {}
        for i, w in enumerate(words):
            enc = encode_words(self.tokenizer, w, self.settings.max_length, self.settings.stride)
            windows.update({(i, k): ids for k, ids in enumerate(enc.input_ids)})
        keys_all, logits_all = [], []
        for keys, logits in run_windows(
            self.model, self.tokenizer, windows, self.batch_size, self.batch_tokens, show_progress, "classifying"
        ):
            keys_all += keys
            logits_all.append(logits.cpu())
        if not keys_all:
            return np.zeros((0, len(self.settings.event_labels)))
        article = torch.tensor([i for i, _ in keys_all])
        pooled = pool_logits(torch.cat(logits_all), article, len(words), self.settings.pooling)
        return probabilities(pooled.numpy(), self.settings.multi_label)

    def predict(self, texts: str | Iterable[str], show_progress: bool = False, words=None) -> list[list[dict]]:
        """``[{"label", "score"}]`` per text: the top label (single-label), or every label whose probability
        reaches its tuned threshold (multi-label), highest first."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        words = words or [split_words(t, self.settings.preprocessing) for t in texts]
        probs = self.scores(texts, show_progress, words)
        decided = decide(probs, self.settings.event_labels, self.settings.multi_label, self.settings.thresholds)
        # A text with no word (empty, or only what normalization removes) reports no event: the model would
        # still answer for its bare [CLS] [SEP] window.
        return [events if w.spans else [] for events, w in zip(decided, words)]


class SentenceEventClassifier(EventClassifier):
    """An event model trained on sentences (``task: sentence_events``), reading an article sentence by sentence.

    Each sentence (:func:`akhbar.sentences.sentence_spans`) is classified as the model was trained; an
    article's probability for a label is the sentences' aggregated (``settings.aggregation``: ``max``, or
    ``noisy_or`` = 1 - the product of (1 - p)), decided with the tuned thresholds, and each event comes with
    its **evidence**: the sentences that carry it (``start``, ``end`` into the original text, ``score``),
    every sentence at or above the threshold, most confident first (the most confident one if none is).
    """

    def sentence_scores(self, texts: Sequence[str], show_progress: bool = False):
        """Per text: its sentence spans and their probabilities ``(sentences, labels)``."""
        spans = [sentence_spans(t) for t in texts]
        flat = [t[a:b] for t, found in zip(texts, spans) for a, b in found]
        probs = super().scores(flat, show_progress) if flat else np.zeros((0, len(self.settings.event_labels)))
        out, row = [], 0
        for found in spans:
            out.append((found, probs[row : row + len(found)]))
            row += len(found)
        return out

    def _aggregate(self, probs: np.ndarray) -> np.ndarray:
        if not len(probs):
            return np.zeros(len(self.settings.event_labels))
        if self.settings.aggregation == "noisy_or":
            return 1.0 - np.prod(1.0 - probs, axis=0)
        return probs.max(axis=0)

    def scores(self, texts: Sequence[str], show_progress: bool = False, words=None) -> np.ndarray:
        """Article probabilities ``(texts, labels)``, aggregated over each text's sentences."""
        return self.article_scores(self.sentence_scores(texts, show_progress))

    def article_scores(self, sentences: Sequence) -> np.ndarray:
        """Article probabilities from :meth:`sentence_scores`' output."""
        rows = [self._aggregate(probs) for _, probs in sentences]
        return np.array(rows).reshape(len(sentences), len(self.settings.event_labels))

    def predict(self, texts: str | Iterable[str], show_progress: bool = False, words=None) -> list[list[dict]]:
        """``[{"label", "score", "evidence": [{"start", "end", "score"}]}]`` per text (see the class)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        return self.events_with_evidence(self.sentence_scores(texts, show_progress))

    def events_with_evidence(self, sentences: Sequence) -> list[list[dict]]:
        """:meth:`predict`'s events from :meth:`sentence_scores`' output (one pass serves scores and evidence)."""
        labels, thresholds = self.settings.event_labels, self.settings.thresholds or {}
        out = []
        for found, probs in sentences:
            if not found:
                out.append([])
                continue
            events = decide(self._aggregate(probs), labels, self.settings.multi_label, self.settings.thresholds)[0]
            for event in events:
                j = labels.index(event["label"])
                cut = thresholds.get(event["label"], 0.5)
                carrying = [i for i in np.argsort(-probs[:, j], kind="stable") if probs[i, j] >= cut]
                event["evidence"] = [
                    {"start": found[i][0], "end": found[i][1], "score": round(float(probs[i, j]), 4)}
                    for i in (carrying or [int(np.argmax(probs[:, j]))])
                ]
            out.append(events)
        return out

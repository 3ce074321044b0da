"""Entities and events of each article in one call."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm.auto import tqdm

from ..preprocessing import split_words
from .batching import chunked
from .events import EventClassifier
from .ner import NerTagger
from .options import LoadOptions


class Analyzer:
    """Entities and events of each article in one call: ``{"entities": [...], "events": [...]}`` (a sentence
    event model adds each event's ``evidence``).

    When both models were trained with the same preprocessing, each text is normalized once for both.
    """

    def __init__(self, ner: NerTagger, events: EventClassifier):
        self.ner = ner
        self.events = events

    @classmethod
    def from_pretrained(
        cls, ner: str | Path, events: str | Path, options: LoadOptions | None = None, **fields
    ) -> Analyzer:
        """Both packages, run the same way (:class:`LoadOptions`, or single ``fields``)."""
        from .package import load_predictor

        options = LoadOptions.of(options, **fields)
        # The events side is whatever event model the package holds (article-level, or sentence events).
        classifier = load_predictor(events, options)
        if not isinstance(classifier, EventClassifier):
            raise ValueError(f"{events} holds a {classifier.settings.task!r} model, not an event model")
        return cls(NerTagger.from_pretrained(ner, options), classifier)

    def predict(self, texts: str | Iterable[str], show_progress: bool = False) -> list[dict]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        results: list[dict] = []
        with tqdm(total=len(texts), desc="analyzing", unit="text", disable=not show_progress) as bar:
            for chunk in chunked(texts, len):
                results += self._predict_chunk(chunk)
                bar.update(len(chunk))
        return results

    def iter_predict(self, texts: Iterable[str]) -> Iterator[dict]:
        """:meth:`predict` over a stream, a chunk at a time (see :meth:`NerTagger.iter_predict`)."""
        for chunk in chunked(texts, len):
            yield from self._predict_chunk(chunk)

    def _predict_chunk(self, texts: list[str]) -> list[dict]:
        ner_words = [split_words(t, self.ner.settings.preprocessing) for t in texts]
        shared = self.ner.settings.preprocessing == self.events.settings.preprocessing
        entities = [tagged.entities(t) for tagged, t in zip(self.ner.tag(texts, False, ner_words), texts)]
        events = self.events.predict(texts, False, ner_words if shared else None)
        return [{"entities": e, "events": v} for e, v in zip(entities, events)]

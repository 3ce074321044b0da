"""Entities and events of each article in one call, and who did what to whom in each event's sentences."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm.auto import tqdm

from ..preprocessing import split_words
from .arguments import ArgumentTagger
from .batching import chunked
from .events import EventClassifier, SentenceEventClassifier
from .ner import NerTagger
from .options import LoadOptions

logger = logging.getLogger(__name__)


class Analyzer:
    """Entities and events of each article in one call: ``{"entities": [...], "events": [...]}`` (a sentence
    event model adds each event's ``evidence``).

    With an argument model (``arguments``, ``task: arguments``; it needs a sentence event model), each event
    of a type it knows also gets its ``arguments``: the argument model reads each evidence sentence for that
    event type, and its spans come back as ``{"role", "start", "end", "text", "score"}`` with offsets into the
    original article, in text order.

    When both models were trained with the same preprocessing, each text is normalized once for both.
    """

    def __init__(self, ner: NerTagger, events: EventClassifier, arguments: ArgumentTagger | None = None):
        if arguments is not None and not isinstance(events, SentenceEventClassifier):
            raise ValueError(
                f"an argument model reads the sentences that carry each event (their evidence), which only a "
                f"sentence event model gives; this event model is of task {events.settings.task!r}"
            )
        if arguments is not None:
            unknown = [e for e in events.settings.event_labels if e not in arguments.settings.event_labels]
            if unknown:
                logger.warning(
                    "the argument model knows the event types %s, not %s: those events come without arguments",
                    arguments.settings.event_labels,
                    unknown,
                )
        self.ner = ner
        self.events = events
        self.arguments = arguments

    @classmethod
    def from_pretrained(
        cls,
        ner: str | Path,
        events: str | Path,
        options: LoadOptions | None = None,
        arguments: str | Path | None = None,
        **fields,
    ) -> Analyzer:
        """The packages, run the same way (:class:`LoadOptions`, or single ``fields``)."""
        from .package import load_predictor

        options = LoadOptions.of(options, **fields)
        # The events side is whatever event model the package holds (article-level, or sentence events).
        classifier = load_predictor(events, options)
        if not isinstance(classifier, EventClassifier):
            raise ValueError(f"{events} holds a model of task {classifier.settings.task!r}, not an event model")
        tagger = ArgumentTagger.from_pretrained(arguments, options) if arguments is not None else None
        return cls(NerTagger.from_pretrained(ner, options), classifier, tagger)

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
        if self.arguments is not None:
            self._add_arguments(texts, events)
        return [{"entities": e, "events": v} for e, v in zip(entities, events)]

    def _add_arguments(self, texts: list[str], events: list[list[dict]]) -> None:
        """Give each event of a type the argument model knows its ``arguments``, read in its evidence
        sentences (all sentences of the chunk in one call)."""
        known = self.arguments.settings.event_labels
        reads = []  # (event dict, sentence start, sentence text)
        for text, found in zip(texts, events):
            for event in found:
                if event["label"] in known:
                    event["arguments"] = []
                    reads += [(event, ev["start"], text[ev["start"] : ev["end"]]) for ev in event["evidence"]]
        tagged = self.arguments.tag([s for _, _, s in reads], events=[event["label"] for event, _, _ in reads])
        for (event, offset, sentence), result in zip(reads, tagged):
            event["arguments"] += self.arguments.arguments(result, sentence, offset)
        for found in events:
            for event in found:
                if "arguments" in event:
                    event["arguments"].sort(key=lambda a: (a["start"], a["end"]))

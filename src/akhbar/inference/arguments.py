"""Who did what to whom: the source, trigger and target of an event in a sentence, as spans of the text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..preprocessing import Words
from ..windows import event_markers
from .ner import NerTagger, TaggedText


class ArgumentTagger(NerTagger):
    """Event-argument tagger over a packaged akhbar checkpoint (``task: arguments``).

    A token classifier like :class:`NerTagger`, whose labels are roles (``SOURCE``, ``TRIGGER``, ``TARGET``)
    and whose every window reads the event type first: ``[CLS] PROTEST [SEP] words ... [SEP]``
    (:func:`akhbar.windows.marker_ids`), so the same sentence gets the arguments of the event asked for.
    It was trained on sentences: give it the sentence that reports the event (the Analyzer gives it the
    evidence sentences of a sentence event model).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.markers = event_markers(self.tokenizer, self.settings.event_labels)

    def marker(self, event: str) -> list[int]:
        """The token ids every window of a text read for ``event`` starts with.

        Raises:
            ValueError: an event type the model was not trained on.
        """
        if event not in self.markers:
            raise ValueError(
                f"event {event!r} is not one the argument model knows ({', '.join(self.settings.event_labels)})"
            )
        return self.markers[event]

    def tag(
        self,
        texts: Sequence[str],
        show_progress: bool = False,
        words: Sequence[Words] | None = None,
        *,
        events: Sequence[str] | None = None,
    ) -> list[TaggedText]:
        """Words, role tags and their probabilities of each text read for its event (``events``, one per text;
        required)."""
        if events is None or len(events) != len(texts):
            raise ValueError(f"an argument tagger reads each text for one event type: give {len(texts)} events")
        return self._tag(texts, show_progress, words, [self.marker(e) for e in events])

    def predict(
        self,
        texts: str | Iterable[str],
        show_progress: bool = False,
        *,
        events: Sequence[Sequence[str]] | None = None,
    ) -> list[list[dict]]:
        """Arguments of each text as ``{"event", "role", "start", "end", "text", "score"}``, offsets into the
        text, by event then position (the Analyzer's keys).

        Args:
            events: per text, the event types to read it for; by default every type the model knows.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        if events is None:
            events = [self.settings.event_labels] * len(texts)
        if len(events) != len(texts):
            raise ValueError(f"events: one list of event types per text, found {len(events)} for {len(texts)} texts")
        pairs = [(i, event) for i, wanted in enumerate(events) for event in wanted]
        tagged = self.tag([texts[i] for i, _ in pairs], show_progress, events=[e for _, e in pairs])
        out: list[list[dict]] = [[] for _ in texts]
        for (i, event), result in zip(pairs, tagged):
            out[i] += [{"event": event, **span} for span in self.arguments(result, texts[i])]
        return out

    @staticmethod
    def arguments(result: TaggedText, text: str, offset: int = 0) -> list[dict]:
        """``{"role", "start", "end", "text", "score"}`` of one tagged text, offsets moved by ``offset`` (where
        the text starts in an article)."""
        return [
            {"role": span["label"], "start": span["start"] + offset, "end": span["end"] + offset,
             "text": span["text"], "score": span["score"]}
            for span in result.entities(text)
        ]  # fmt: skip

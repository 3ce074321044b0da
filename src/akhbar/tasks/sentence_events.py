"""Sentence events: an event classifier trained on sentences that reads an article sentence by sentence.

Training is the event task's, on sentences (arabic_event_gsr is annotated per sentence). What differs is how
a package reads an article: :class:`~akhbar.inference.events.SentenceEventClassifier` splits it into
sentences, classifies each, aggregates their probabilities into the article's (``aggregation``: ``max`` or
``noisy_or``) and returns, for each event, the sentences that carry it (``evidence``), as offsets into the
original text.
"""

from __future__ import annotations

from . import register
from .events import EventTask


@register
class SentenceEventTask(EventTask):
    """Events of sentences, read on articles with their evidence (``task: sentence_events``)."""

    name = "sentence_events"
    example_config = "configs/sentence-events-sample.yaml"
    hf_head = None  # a published sequence classifier is read as an article-level event model

    def schema(self, train, data_args) -> list[str]:
        if not data_args.multi_label:
            raise ValueError(
                "task sentence_events needs multi_label: true: a sentence reports zero or more events, and an "
                "article's events are the labels its sentences carry"
            )
        return super().schema(train, data_args)

    def settings_fields(self, schema: list[str], data_args) -> dict:
        return {**super().settings_fields(schema, data_args), "aggregation": data_args.aggregation}

    def predictor_class(self) -> type:
        from ..inference.events import SentenceEventClassifier

        return SentenceEventClassifier

    def describe(self, settings) -> str:
        return f"labels: {', '.join(settings.event_labels)} (sentence events, {settings.aggregation} over sentences)"

    def card_intro(self, name: str, settings, report: dict | None) -> list[str]:
        lines = super().card_intro(name, settings, report)
        note = (
            f"Trained on sentences; on an article it classifies each sentence and takes the {settings.aggregation} "
            "of their probabilities per label; every event it reports comes with its evidence, the sentences "
            "(start, end, score) that carry it: "
            "`SentenceEventClassifier.from_pretrained(...).predict([article])` -> "
            '`[[{"label", "score", "evidence": [{"start", "end", "score"}]}]]`.'
        )
        return lines[:2] + [note, ""] + lines[2:]

    def card_use(self, settings) -> tuple[str, str]:
        return (
            "Flagging the events Modern Standard Arabic news articles report and pointing to the sentences that "
            "report them, for analysts who review the output.",
            "The model reads one sentence at a time: an event told across two sentences, or needing the article's "
            "context, can be missed; the evidence is where the model's confidence is, not a proof.",
        )

"""Event arguments ("who did what to whom"): role spans of a sentence, read for one event type.

Each article is a sentence with one event type (``events``: exactly one) and its argument spans as
``entities`` labelled with roles (``SOURCE``, ``TRIGGER``, ``TARGET`` for arabic_event_gsr; ``akhbar prepare
gsr-arguments``). The model is the entity task's token classifier over roles in IOB2; what conditions it on
the event type is its input: every window reads ``[CLS] EVENT [SEP] words ... [SEP]``
(:func:`akhbar.windows.marker_ids`), the event type spelled by the tokenizer. So one label set serves every
event type, a sentence that reports two events is read twice with different arguments, and a window of a long
text knows its event as well as the first. (The other way, one label set per event type such as
``PROTEST-SOURCE``, could not hold a sentence whose words play roles in two events, and splits the few
hundred training sentences between types.) Scores are the entity task's: strict span F1 per role (seqeval),
also per event type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ..metrics import ner_scores
from ..model_card import base_model_text
from ..report import REPORT_MD, pct
from ..windows import word_tags
from . import register
from .base import Split, card_opening
from .ner import NerTask, evaluate_ner, score_table, write_report


def _check_events(articles: Sequence[dict], source: str, events: Sequence[str]) -> None:
    for article in articles:
        if len(article["events"]) != 1 or article["events"][0] not in events:
            raise ValueError(
                f"{source} (article {article['id']!r}): events {article['events']}; an argument article is one "
                f"sentence read for exactly one event type of {list(events)}"
            )


@register
class ArgumentTask(NerTask):
    """Event arguments (``task: arguments``): role spans of a sentence for the event type it is read for."""

    name = "arguments"
    card_tags = ["event-argument-extraction", "token-classification"]
    model_index_task = ("token-classification", "Event Argument Extraction")
    example_config = "configs/arguments-sample.yaml"
    hf_head = None  # a published token classifier is read as an entity model

    def schema(self, train: Split, data_args) -> list[str]:
        if not data_args.event_labels:
            raise ValueError(
                "task arguments needs event_labels: the event types the model reads a sentence for (e.g. "
                "[PROTEST, ASSAULT]); each window starts with one"
            )
        return super().schema(train, data_args)

    def check_split(self, split: Split, schema: list[str], data_args) -> None:
        _check_events(split.articles, split.file, data_args.event_labels)

    def check_articles(self, articles: list[dict], source: str, settings) -> None:
        _check_events(articles, source, settings.event_labels)

    def settings_fields(self, schema: list[str], data_args) -> dict:
        return {"entity_labels": schema, "event_labels": list(data_args.event_labels)}

    def markers(self, split: Split, tokenizer) -> list[list[int]]:
        from ..windows import event_markers

        ids = event_markers(tokenizer, sorted({a["events"][0] for a in split.articles}))
        return [ids[a["events"][0]] for a in split.articles]

    def predictor_class(self) -> type:
        from ..inference.arguments import ArgumentTagger

        return ArgumentTagger

    def evaluate(self, predictor, articles: Sequence[dict], data_name: str, show_progress: bool) -> dict:
        events = [a["events"][0] for a in articles]
        tagged = predictor.tag([a["text"] for a in articles], show_progress, events=events)
        report = evaluate_ner(predictor, articles, data_name=data_name, show_progress=show_progress, tagged=tagged)
        report["task"] = self.name
        report["data"]["events"] = dict(Counter(events).most_common())
        by_event = {}
        for event in report["data"]["events"]:
            rows = [(a, t) for a, t, e in zip(articles, tagged, events) if e == event]
            scores = ner_scores([word_tags(t.words, a["entities"]) for a, t in rows], [t.tags for _, t in rows])
            by_event[event] = {"articles": len(rows), "strict": scores["strict"], "lenient": scores["lenient"]}
        report["by_event"] = by_event
        return report

    def write_report(self, report: dict, directory: Path, title: str) -> None:
        write_report(report, directory, title)
        lines = ["", "## By event type (strict)", ""]
        for event, part in report["by_event"].items():
            lines += [f"### {event} ({part['articles']} sentences)", "", score_table(part), ""]
        path = Path(directory) / REPORT_MD
        path.write_text(path.read_text(encoding="utf-8") + "\n".join(lines), encoding="utf-8")

    def headline(self, report: dict) -> str:
        roles = ", ".join(f"{r} {pct(s['f1'])}" for r, s in sorted(report["strict"]["per_type"].items()))
        return f"strict F1 {pct(report['strict']['micro']['f1'])} ({roles})"

    def describe(self, settings) -> str:
        return f"roles: {', '.join(settings.entity_labels)}; read for event types {', '.join(settings.event_labels)}"

    def card_intro(self, name: str, settings, report: dict | None) -> list[str]:
        def results(report: dict) -> list[str]:
            data = report["data"]
            return [
                f"On `{data['name']}` ({data['articles']} sentences, {data['gold_entities']} arguments): **strict "
                f"micro F1 {pct(report['strict']['micro']['f1'])}** (seqeval, span level, per role below).",
                "",
                score_table(report),
                "",
                f"Per event type and errors: [{REPORT_MD}]({REPORT_MD}).",
                "",
            ]

        return card_opening(
            f"Arabic event arguments: the {', '.join(settings.entity_labels)} spans of a sentence for an event "
            f"type ({', '.join(settings.event_labels)}), fine-tuned with akhbar from {base_model_text(settings)}.",
            [
                "from akhbar import ArgumentTagger  # every window reads [CLS] EVENT [SEP] words ... [SEP]",
                f'tagger = ArgumentTagger.from_pretrained("models/{name}")',
                f'tagger.predict(["تظاهر مئات الطلاب أمام وزارة التعليم."], events=[["{settings.event_labels[0]}"]])',
                '# [[{"event", "role", "start", "end", "text", "score"}]]',
            ],
            report,
            results,
            note=["Plain transformers pipelines do not add the event type to the input: use akhbar to run it.", ""],
        )

    def card_use(self, settings) -> tuple[str, str]:
        return (
            "Pointing to the actor who acts, the act and the actor acted on in Modern Standard Arabic news "
            "sentences that report an event, for analysts who review the output.",
            "Trained on a few hundred sentences (arabic_event_gsr): one source, trigger and target per sentence; "
            "arguments told across sentences, or several events of one type in a sentence, are not represented.",
        )

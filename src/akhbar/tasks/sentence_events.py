"""Sentence events: an event classifier trained on sentences that reads an article sentence by sentence.

Training is the event task's, on sentences (arabic_event_gsr is annotated per sentence). What differs is how
a package reads an article: :class:`~akhbar.inference.events.SentenceEventClassifier` splits it into
sentences, classifies each, aggregates their probabilities into the article's (``aggregation``: ``max`` or
``noisy_or``) and returns, for each event, the sentences that carry it (``evidence``), as offsets into the
original text.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

from ..report import REPORT_MD, cell
from . import register
from .events import EventTask, evaluate_events


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

    def evaluate(self, predictor, articles: Sequence[dict], data_name: str, show_progress: bool) -> dict:
        """The event task's scores, and the evidence: per label, how many sentences carry each event found, and
        for each error the sentences that made the model decide (what an analyst reads to see why)."""
        sentences = predictor.sentence_scores([a["text"] for a in articles], show_progress)  # one pass for both
        probs = predictor.article_scores(sentences)
        report = evaluate_events(predictor, articles, data_name=data_name, probs=probs)
        report["task"] = self.name
        report["aggregation"] = predictor.settings.aggregation
        found = predictor.events_with_evidence(sentences)
        by_label: dict[str, list[int]] = {label: [] for label in predictor.settings.event_labels}
        for events in found:
            for event in events:
                by_label[event["label"]].append(len(event["evidence"]))
        report["evidence"] = {
            label: {
                "events": len(counts),
                "sentences_mean": round(statistics.fmean(counts), 3) if counts else None,
                "one_sentence_share": round(sum(c == 1 for c in counts) / len(counts), 4) if counts else None,
            }
            for label, counts in by_label.items()
        }
        # Errors are a subsequence of the articles, in order: matched by walking both, on the id and the text's
        # opening that the error keeps (ids need not be unique).
        position = 0
        for error in report["errors"]:
            while (articles[position]["id"], articles[position]["text"][:200]) != (error["article"], error["text"]):
                position += 1
            text, judged = articles[position]["text"], articles[position].get("judged")
            error["evidence"] = {  # of the labels judged (an unjudged label found is no error)
                event["label"]: [{**span, "text": text[span["start"] : span["end"]]} for span in event["evidence"]]
                for event in found[position]
                if judged is None or event["label"] in judged
            }
            position += 1
        return report

    def write_report(self, report: dict, directory: Path, title: str) -> None:
        super().write_report(report, directory, title)
        lines = [
            "",
            f"## Evidence ({report.get('aggregation', 'max')} over sentences)",
            "",
            "Every event found comes with the sentences that carry it (each at or above the label's threshold, or "
            "the most confident one).",
            "",
            "| label | events found | sentences per event (mean) | events with one sentence |",
            "|---|---:|---:|---:|",
        ]
        for label, e in report.get("evidence", {}).items():
            mean = "—" if e["sentences_mean"] is None else f"{e['sentences_mean']:.2f}"
            share = "—" if e["one_sentence_share"] is None else f"{100 * e['one_sentence_share']:.1f}%"
            lines.append(f"| {label} | {e['events']} | {mean} | {share} |")
        shown = [e for e in report["errors"][:30] if e.get("evidence")]
        if shown:
            lines += ["", "### The sentences behind wrong events", ""]
            for e in shown:
                for label, spans in e["evidence"].items():
                    if label in e["gold"]:
                        continue  # a right label of a wrong article: not the error
                    best = spans[0]
                    lines.append(
                        f"- `{e['article']}` {label} ({best['score']:.2f}), characters {best['start']}-{best['end']}: "
                        f"{cell(best['text'])}"
                    )
        path = Path(directory) / REPORT_MD
        path.write_text(path.read_text(encoding="utf-8") + "\n".join(lines) + "\n", encoding="utf-8")

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
        evidence = (report or {}).get("evidence")
        if evidence:  # how the evidence came out on the evaluation data (the report lists the wrong ones)
            found = "; ".join(
                f"{label} {e['events']} events found, {e['sentences_mean']:.2f} sentences each"
                for label, e in evidence.items()
                if e["events"]
            )
            lines = lines + [f"Evidence on `{report['data']['name']}`: {found or 'no event found'}.", ""]
        return lines[:2] + [note, ""] + lines[2:]

    def card_use(self, settings) -> tuple[str, str]:
        return (
            "Flagging the events Modern Standard Arabic news articles report and pointing to the sentences that "
            "report them, for analysts who review the output.",
            "The model reads one sentence at a time: an event told across two sentences, or needing the article's "
            "context, can be missed; the evidence is where the model's confidence is, not a proof.",
        )

"""Prodigy JSONL (``ner.manual``, ``spans.manual``, ``textcat`` datasets exported with ``db-out``).

Reading. Only ``"answer": "accept"`` tasks are examples: rejected, ignored and unanswered tasks are counted and
left out. ``spans`` (``start``, ``end``, ``label``, and ``text`` where given) are the entities; the ``tokens``
(with their ``text``, ``start``, ``end``) check the offsets. Article labels are the ``accept`` list of a
choice task (``options``), or the ``label`` of an accepted binary ``textcat`` task. The id is ``meta.id``
(else ``_input_hash``, else ``FILE:LINE``). Answers by several annotators to the same input (``_input_hash``,
named by ``_annotator_id`` or ``_session_id``) are one record with several annotations.

Writing. ``{"text", "spans", "meta": {"id"}, "answer": "accept"}`` plus ``accept``/``options`` for events;
predictions carry a ``score`` per span and in ``meta.event_scores``, and no ``answer`` (Prodigy asks for it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..articles import AnnotationError, json_lines
from . import Format, Item, Source, WriteOptions, event_scores, register
from .annotations import Annotation, Task, resolve_all
from .jsonl import first_json_line
from .offsets import Span

NOT_ACCEPTED = {"reject": "rejected (Prodigy)", "ignore": "ignored (Prodigy)", None: "unanswered (Prodigy)"}


def _annotation(record: dict, ref: str) -> Annotation:
    who = record.get("_annotator_id") or record.get("_session_id")
    annotation = Annotation(str(who) if who else None, ref=ref)
    spans = record.get("spans") or []
    if not isinstance(spans, list):
        raise ValueError(f"'spans' must be a list, found {type(spans).__name__}")
    for i, s in enumerate(spans):
        if not isinstance(s, dict) or not all(isinstance(s.get(k), int) for k in ("start", "end")):
            raise ValueError(f"spans[{i}] needs integer start and end, found {s!r}")
        if not isinstance(s.get("label"), str):
            raise ValueError(f"spans[{i}] needs a string label, found {s.get('label')!r}")
        text = s.get("text")
        annotation.spans.append(
            Span(s["start"], s["end"], s["label"], text if isinstance(text, str) else None, f"spans[{i}]")
        )
    for i, t in enumerate(record.get("tokens") or []):
        if (
            isinstance(t, dict)
            and isinstance(t.get("text"), str)
            and all(isinstance(t.get(k), int) for k in ("start", "end"))
            and t["end"] > t["start"]
        ):
            annotation.anchors.append(Span(t["start"], t["end"], "token", t["text"], f"tokens[{i}]"))
    for i, rel in enumerate(record.get("relations") or []):
        annotation.unrepresentable.append(
            ("relation", f"relations[{i}] ({rel.get('label', '') if isinstance(rel, dict) else rel})")
        )
    if "options" in record:
        accept = record.get("accept") or []
        if not isinstance(accept, list):
            raise ValueError(f"'accept' must be a list of option ids, found {accept!r}")
        annotation.events += [str(a) for a in accept]
    elif isinstance(record.get("label"), str) and not spans:
        annotation.events.append(record["label"])
    answer = record.get("answer")
    if answer != "accept":
        annotation.not_used = NOT_ACCEPTED.get(answer, f"answer {answer!r} (Prodigy)")
    return annotation


@register
class Prodigy(Format):
    name = "prodigy"
    description = "Prodigy JSONL (db-out)"

    def sniff(self, path: Path, head: str | None) -> bool:
        if head is None or not head.lstrip().startswith("{"):
            return False
        record = first_json_line(head)
        return isinstance(record, dict) and bool(set(record) & {"answer", "_input_hash", "_task_hash", "spans"})

    def read(self, source: Source) -> Iterator[Item]:
        path = source.path
        order: list = []
        by_input: dict[object, Task] = {}
        for number, record in json_lines(path, need_text=True):
            if isinstance(record, AnnotationError):
                order.append(Item(path, number, error=record))
                continue
            meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
            ident = str(meta.get("id", record.get("_input_hash", f"{path.stem}:{number}")))
            try:
                annotation = _annotation(record, f"line {number}")
            except ValueError as err:
                order.append(Item(path, number, error=AnnotationError(path, number, str(err), ident)))
                continue
            key = record.get("_input_hash", ("line", number))
            task = by_input.get(key)
            if task is None:
                task = by_input[key] = Task(path, number, ident, record["text"], [], f"task {ident!r}")
                order.append(task)
            task.annotations.append(annotation)
        # Tasks no annotator accepted are not examples: counted (in not_used), not errors.
        examples = []
        for task in order:
            if isinstance(task, Task) and all(a.not_used for a in task.annotations):
                for a in task.annotations:
                    source.report.not_used[a.not_used] += 1
                continue
            examples.append(task)
        yield from resolve_all(examples, source)

    def write(self, articles: Sequence[dict], path: Path, options: WriteOptions) -> None:
        labels = sorted({label for a in articles for label, _ in event_scores(a)})
        with path.open("w", encoding="utf-8") as f:
            for article in articles:
                text = article["text"]
                spans = []
                for e in article["entities"]:
                    span = {
                        "start": e["start"],
                        "end": e["end"],
                        "label": e["label"],
                        "text": text[e["start"] : e["end"]],
                    }
                    if options.predictions and e.get("score") is not None:
                        span["score"] = e["score"]
                    spans.append(span)
                record = {"text": text, "spans": spans, "meta": {"id": article["id"]}}
                scored = event_scores(article)
                if labels:
                    record["options"] = [{"id": label, "text": label} for label in labels]
                    record["accept"] = [label for label, _ in scored]
                if options.predictions:
                    if any(s is not None for _, s in scored):
                        record["meta"]["event_scores"] = {label: s for label, s in scored}
                else:
                    record["answer"] = "accept"
                f.write(json.dumps(record, ensure_ascii=False) + "\n")

"""What every annotation-tool reader shares: a record with its annotations, the annotator policy, the offset
check, what akhbar cannot hold, and the agreement between annotators.

A reader turns each record of its tool into a :class:`Task` (the text, and one :class:`Annotation` per
annotator, each with spans in the tool's offset unit) and :func:`resolve` makes it one article record:

1. cancelled, rejected (and, for Prodigy, not accepted) annotations are left out and counted; a record left
   with none is an error, not an article without entities;
2. what akhbar cannot hold (discontinuous spans, relations, attributes, other layers) is an error naming the
   record, or with ``skip_unrepresentable`` is left out and counted;
3. every span is checked against the tool's own text and converted to code points (:mod:`.offsets`);
4. overlapping or nested spans are an error, or with ``skip_unrepresentable`` the outer (first, longest)
   span is kept and the others are counted;
5. with several annotators, their agreement is measured, and ``annotator_policy`` picks the article's
   entities and events.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from ..articles import AnnotationError, ReadOptions
from . import Item, Source
from .offsets import Span, resolve_units


@dataclass
class Annotation:
    """One annotator's annotation of a record."""

    annotator: str | None
    spans: list[Span] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    created: str = ""  # sortable timestamps (ISO 8601) where the tool gives them
    updated: str = ""
    not_used: str | None = None  # why it must not be used: "cancelled", "rejected", …
    unrepresentable: list[tuple[str, str]] = field(default_factory=list)  # (kind, which) akhbar cannot hold
    anchors: list[Span] = field(default_factory=list)  # tokens with their text, for the offset check
    ref: str = ""  # the tool's name for it, for messages ("annotation 5 by alice")


@dataclass
class Task:
    """One record of a tool's export: its text and its annotations."""

    path: Path
    line: int | None
    id: str
    text: str
    annotations: list[Annotation]
    ref: str = ""  # the tool's name for the record ("task 17"), for messages
    converted: Counter = field(default_factory=Counter)  # unit -> spans the reader itself converted


def _error(task: Task, fault: str, annotation: Annotation | None = None) -> AnnotationError:
    record = ", ".join(x for x in (task.ref or f"record {task.id!r}", annotation.ref if annotation else "") if x)
    return AnnotationError(task.path, task.line, fault, record=record)


def _flat(task: Task, annotation: Annotation, spans: list[Span], options: ReadOptions, source: Source) -> list[Span]:
    """Spans without overlaps: an error, or with skip_unrepresentable the outer ones (counted)."""
    ordered = sorted(spans, key=lambda s: (s.start, -(s.end - s.start), s.label))
    kept: list[Span] = []
    for span in ordered:
        clash = next((k for k in kept if span.start < k.end and k.start < span.end), None)
        if clash is None:
            kept.append(span)
            continue
        kind = "nested span" if clash.start <= span.start and span.end <= clash.end else "overlapping span"
        if not options.skip_unrepresentable:
            raise _error(
                task,
                f"{kind}s [{clash.start}, {clash.end}) {clash.label} {task.text[clash.start : clash.end]!r} and "
                f"[{span.start}, {span.end}) {span.label} {task.text[span.start : span.end]!r}: akhbar's entities "
                "are flat; fix the annotation, or set skip_unrepresentable: true (--skip-unrepresentable) to keep "
                "the outer span and skip the other (counted)",
                annotation,
            )
        source.report.unrepresentable[kind] += 1
    return sorted(kept, key=lambda s: (s.start, s.end))


def _check(task: Task, annotation: Annotation, options: ReadOptions, source: Source) -> Annotation:
    for kind, which in annotation.unrepresentable:
        if not options.skip_unrepresentable:
            raise _error(
                task,
                f"{kind} {which} cannot be represented in akhbar's articles (flat entities and article events); "
                "remove it, or set skip_unrepresentable: true (--skip-unrepresentable) to skip such items (counted)",
                annotation,
            )
        source.report.unrepresentable[kind] += 1

    def fail(message: str) -> AnnotationError:
        return _error(task, message, annotation)

    spans, unit = resolve_units(task.text, annotation.spans, annotation.anchors, options.offset_unit, fail)
    if unit != "codepoint":
        moved = sum((a.start, a.end) != (b.start, b.end) for a, b in zip(annotation.spans, spans))
        if moved:
            source.report.converted[unit] += moved
    return Annotation(
        annotation.annotator,
        _flat(task, annotation, spans, options, source),
        list(dict.fromkeys(annotation.events)),
        annotation.created,
        annotation.updated,
        ref=annotation.ref,
    )


def _majority(annotations: list[Annotation]) -> tuple[list[Span], list[str]]:
    need = len(annotations) // 2 + 1
    votes = Counter(key for a in annotations for key in {(x.start, x.end, x.label) for x in a.spans})
    spans = [Span(s, e, label) for (s, e, label), n in votes.items() if n >= need]
    event_votes = Counter(e for a in annotations for e in set(a.events))
    events = [e for e in dict.fromkeys(e for a in annotations for e in a.events) if event_votes[e] >= need]
    return sorted(spans, key=lambda s: (s.start, s.end)), events


def _choose(task: Task, annotations: list[Annotation], policy: str) -> tuple[list[Span], list[str]]:
    if policy == "majority":
        return _majority(annotations)
    if policy.startswith("annotator:"):
        name = policy.split(":", 1)[1]
        mine = [a for a in annotations if a.annotator == name]
        if not mine:
            names = sorted({a.annotator or "(unnamed)" for a in annotations})
            raise _error(task, f"no usable annotation by {name!r} (annotator_policy {policy}); found {names}")
        chosen = mine[-1]  # the annotator's latest, when they annotated the record more than once
    elif policy == "latest":
        chosen = max(enumerate(annotations), key=lambda p: (p[1].updated or p[1].created, p[0]))[1]
    else:  # first
        chosen = min(enumerate(annotations), key=lambda p: (p[1].created or "", p[0]))[1]
    return chosen.spans, chosen.events


class Agreement:
    """Pairwise agreement between annotators over the records both annotated: span-level F1 (exact start,
    end and label) and event-label F1, pooled over records."""

    def __init__(self) -> None:
        self.pairs: dict[tuple[str, str], Counter] = {}
        self.records = 0

    def add(self, annotations: list[Annotation]) -> None:
        named = [(a.annotator or f"#{i + 1}", a) for i, a in enumerate(annotations)]
        if len({n for n, _ in named}) < 2:
            return
        self.records += 1
        for (na, a), (nb, b) in combinations(named, 2):
            if na == nb:
                continue
            key = tuple(sorted((na, nb)))
            c = self.pairs.setdefault(key, Counter())
            sa, sb = {(s.start, s.end, s.label) for s in a.spans}, {(s.start, s.end, s.label) for s in b.spans}
            ea, eb = set(a.events), set(b.events)
            c["records"] += 1
            c["spans"] += len(sa) + len(sb)
            c["spans_matched"] += len(sa & sb)
            c["events"] += len(ea) + len(eb)
            c["events_matched"] += len(ea & eb)

    def report(self) -> dict | None:
        if not self.pairs:
            return None

        def f1(matched: int, total: int) -> float | None:
            return round(2 * matched / total, 4) if total else None

        pairs = {}
        totals: Counter = Counter()
        for (a, b), c in sorted(self.pairs.items()):
            totals.update(c)
            pairs[f"{a} / {b}"] = {
                "records": c["records"],
                "span_f1": f1(c["spans_matched"], c["spans"]),
                "event_f1": f1(c["events_matched"], c["events"]),
            }
        return {
            "records_with_several_annotators": self.records,
            "annotators": sorted({n for pair in self.pairs for n in pair}),
            "span_f1": f1(totals["spans_matched"], totals["spans"]),
            "event_f1": f1(totals["events_matched"], totals["events"]),
            "pairs": pairs,
        }


def resolve(task: Task, source: Source, agreement: Agreement) -> Item:
    """One article record from a task (see the module docstring), or the error that makes it unusable."""
    options, report = source.options, source.report
    report.converted.update(task.converted)
    try:
        usable = []
        for annotation in task.annotations:
            if annotation.not_used:
                report.not_used[annotation.not_used] += 1
            else:
                usable.append(annotation)
        if not usable:
            why = Counter(a.not_used for a in task.annotations)
            found = ", ".join(f"{n} {w}" for w, n in why.items()) if why else "none"
            raise _error(
                task,
                f"no usable annotation (found: {found}); a record nobody annotated is not an article without "
                "entities: finish or remove it in the tool, or pass --skip-invalid to skip it (counted)",
            )
        checked = [_check(task, a, options, source) for a in usable]
        if len(checked) > 1:
            agreement.add(checked)
        spans, events = _choose(task, checked, options.annotator_policy)
    except AnnotationError as error:
        return Item(task.path, task.line, error=error)
    entities = [{"start": s.start, "end": s.end, "label": s.label} for s in spans]
    return Item(task.path, task.line, {"id": task.id, "text": task.text, "entities": entities, "events": events})


def resolve_all(tasks, source: Source):
    """Resolve every task (or pass on reader errors), then put the agreement into the report."""
    agreement = Agreement()
    for task in tasks:
        yield task if isinstance(task, Item) else resolve(task, source, agreement)
    source.report.agreement = agreement.report()

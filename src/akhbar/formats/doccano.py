"""doccano JSONL exports: sequence labelling, text classification, and a folder of per-annotator files.

Reading. One example per line with ``text`` and either ``"label": [[start, end, label], …]`` (sequence
labelling) or ``"entities": [{"start_offset", "end_offset", "label"}, …]`` (the relation-project form, whose
non-empty ``relations`` akhbar cannot hold), plus article labels as ``"cats": [str]`` or ``"label": [str]``
(text classification). The id is the example's ``id`` (else ``FILE:LINE``). A folder holds one file per
annotator, as doccano exports them (``alice.jsonl``, ``bob.jsonl``): examples are matched by ``id`` (else by
text) and each file's stem is its annotator. doccano gives no span text, so offsets cannot be checked
against it: a span that is outside the text or splits a letter from its diacritics is an error that shows what
the span would be in grapheme clusters or UTF-16 units (doccano's front end can count either), and
``offset_unit`` sets the unit.

Writing. ``{"id", "text", "label": [[start, end, label], …]}`` plus ``"cats"`` when the article has events;
doccano has no field for scores, so predictions are written as plain spans and labels.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..articles import AnnotationError, json_lines
from . import Format, Item, Source, WriteOptions, event_labels, register
from .annotations import Annotation, Task, resolve_all
from .jsonl import first_json_line
from .offsets import Span


def looks_doccano(record: object) -> bool:
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return False
    if set(record) & {"data", "annotations", "spans", "answer", "_input_hash", "events"}:
        return False
    if "label" in record or "cats" in record:
        return True
    entities = record.get("entities")
    return isinstance(entities, list) and any(isinstance(e, dict) and "start_offset" in e for e in entities)


def _annotation(record: dict, annotator: str | None, ref: str) -> Annotation:
    annotation = Annotation(annotator, ref=ref)
    label = record.get("label", [])
    if not isinstance(label, list):
        raise ValueError(f"'label' must be a list, found {type(label).__name__}")
    for i, item in enumerate(label):
        if isinstance(item, str):
            annotation.events.append(item)
        elif (
            isinstance(item, list)
            and len(item) == 3
            and all(isinstance(x, int) and not isinstance(x, bool) for x in item[:2])
            and isinstance(item[2], str)
        ):
            annotation.spans.append(Span(item[0], item[1], item[2], None, f"label[{i}]"))
        else:
            raise ValueError(f"label[{i}] must be [start, end, label] or a class name, found {item!r}")
    for i, ent in enumerate(record.get("entities") or []):
        if not isinstance(ent, dict) or not all(isinstance(ent.get(k), int) for k in ("start_offset", "end_offset")):
            raise ValueError(f"entities[{i}] needs integer start_offset and end_offset, found {ent!r}")
        if not isinstance(ent.get("label"), str):
            raise ValueError(f"entities[{i}] needs a string label, found {ent.get('label')!r}")
        ref_i = f"entities[{i}]" + (f" (id {ent['id']})" if "id" in ent else "")
        annotation.spans.append(Span(ent["start_offset"], ent["end_offset"], ent["label"], None, ref_i))
    for i, rel in enumerate(record.get("relations") or []):
        annotation.unrepresentable.append(("relation", f"relations[{i}] {rel!r}"))
    cats = record.get("cats", [])
    if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
        raise ValueError(f"'cats' must be a list of class names, found {cats!r}")
    annotation.events += cats
    return annotation


def _records(path: Path) -> Iterator[tuple[int, dict | AnnotationError]]:
    return json_lines(path, need_text=True)


@register
class Doccano(Format):
    name = "doccano"
    description = "doccano JSONL export (a file, or a folder of per-annotator files)"

    def sniff(self, path: Path, head: str | None) -> bool:
        if head is not None:
            return head.lstrip().startswith("{") and looks_doccano(first_json_line(head))
        files = sorted(path.glob("*.jsonl"))
        if not files or any(path.glob("*.ann")):
            return False
        with files[0].open(encoding="utf-8", errors="replace") as f:
            return looks_doccano(first_json_line(f.read(1 << 16)))

    def read(self, source: Source) -> Iterator[Item]:
        path = source.path
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        tasks: dict[str, Task] = {}
        order: list = []
        for file in files:
            annotator = file.stem if path.is_dir() else None
            for number, record in _records(file):
                if isinstance(record, AnnotationError):
                    order.append(Item(file, number, error=record))
                    continue
                key = f"id {record['id']}" if "id" in record else f"text {record['text']!r}"
                ident = str(record["id"]) if "id" in record else f"{file.stem}:{number}"
                ref = f"example {record['id']}" if "id" in record else ""
                try:
                    annotation = _annotation(record, annotator, f"{file.name}:{number}" if annotator else "")
                except ValueError as err:
                    order.append(Item(file, number, error=AnnotationError(file, number, str(err), ident)))
                    continue
                task = tasks.get(key)
                if task is None:
                    task = tasks[key] = Task(file, number, ident, record["text"], [], ref)
                    order.append(task)
                elif task.text != record["text"]:
                    fault = f"the same example in {task.path.name}:{task.line} has another text"
                    order.append(Item(file, number, error=AnnotationError(file, number, fault, ident)))
                    continue
                task.annotations.append(annotation)
        yield from resolve_all(order, source)

    def write(self, articles: Sequence[dict], path: Path, options: WriteOptions) -> None:
        with path.open("w", encoding="utf-8") as f:
            for article in articles:
                record = {
                    "id": article["id"],
                    "text": article["text"],
                    "label": [[e["start"], e["end"], e["label"]] for e in article["entities"]],
                }
                if article.get("events"):
                    record["cats"] = event_labels(article)
                f.write(json.dumps(record, ensure_ascii=False) + "\n")

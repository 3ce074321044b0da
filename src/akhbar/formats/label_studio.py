"""Label Studio: the JSON export (a list of tasks), its JSON-MIN variant, and tasks with ``predictions``.

Reading. A task is ``{"id", "data": {"text": …}, "annotations": [{"result": [...], …}], "predictions": [...]}``;
the text is ``data[text_field]``. Each annotation's ``labels`` results (``value.start``, ``value.end``,
``value.labels``, ``value.text``) are its spans, its ``choices`` results its events; any other result type
(``relation``, ``textarea``, ``rating``, …) is something akhbar cannot hold. ``was_cancelled`` annotations are
left out, as are annotations a reviewer rejected (``review_result``/``reviews``, Label Studio Enterprise).
A file in which no task has annotations is read from its predictions (the "predictions form"; each model
version is an annotator). JSON-MIN (one flat object per annotation: the data fields, then one key per control
holding ``[{"start", "end", "text", "labels"}]`` or ``{"choices": [...]}``, or a plain string for a single
choice) is read the same way; in it a single choice can only be told from a data field by its name,
``choices_name`` (default ``event``).

Writing. One task per article, ``data`` holding the text under ``text_field`` and the article id under
``article_id`` (read back as the id). Annotations go into ``annotations``; predictions into ``predictions``
with ``model_version`` and a ``score`` per span and per choice (one ``choices`` result per event, so each keeps
its score). ``from_name``/``to_name``/``choices_name`` must match the names in the project's labelling config.
Offsets are written in code points, which Label Studio's text tag counts since its fix for emoji.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..articles import AnnotationError, parse_json
from . import Format, Item, Source, WriteOptions, event_scores, register
from .annotations import Annotation, Task, resolve_all
from .offsets import Span

logger = logging.getLogger(__name__)
MIN_META = {"id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time", "article_id"}


def iter_json_array(path: Path) -> Iterator[tuple[int, object]]:
    """``(line, element)`` for each element of the JSON array in ``path``.

    Hand-written over ``json.JSONDecoder.raw_decode`` rather than one ``json.load`` so that each task's error
    can name the line it starts on (``json.load`` keeps no positions).
    """
    try:
        text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        raise AnnotationError(path, None, f"invalid UTF-8 at byte {err.start}") from None
    decoder = json.JSONDecoder()

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def bad(pos: int, what: str) -> AnnotationError:
        return AnnotationError(
            path, line_of(pos), f"invalid JSON: {what} at column {pos - text.rfind(chr(10), 0, pos)}"
        )

    pos = len(text) - len(text.lstrip())
    if not text.startswith("[", pos):
        raise AnnotationError(path, line_of(pos), "expected a JSON list of tasks (Label Studio's JSON export)")
    pos += 1
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if text.startswith("]", pos):
            return
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise bad(err.pos, err.msg) from None
        except (RecursionError, ValueError):  # nested too deeply, or a number too long: no position to give
            try:
                parse_json(text[pos:])
            except ValueError as err:
                raise AnnotationError(path, line_of(pos), f"{err} (in the task starting here)") from None
            raise
        yield line_of(pos), value
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if text.startswith(",", pos):
            pos += 1
        elif not text.startswith("]", pos):
            raise bad(pos, "expected ',' or ']'")


def _annotator(annotation: dict) -> str | None:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        return str(who.get("email") or who.get("username") or who.get("id"))
    if annotation.get("created_username"):
        return str(annotation["created_username"]).split(",")[0].strip()
    if who is not None:
        return str(who)
    if annotation.get("model_version"):
        return str(annotation["model_version"])
    return None


def _rejected(annotation: dict) -> bool:
    if annotation.get("review_result") == "rejected":
        return True
    reviews = annotation.get("reviews")
    return (
        bool(reviews)
        and isinstance(reviews, list)
        and all(isinstance(r, dict) and r.get("accepted") is False for r in reviews)
    )


def _result_annotation(results: object, annotator: str | None, ref: str) -> Annotation:
    annotation = Annotation(annotator, ref=ref)
    if not isinstance(results, list):
        raise ValueError(f"{ref}: 'result' must be a list, found {type(results).__name__}")
    for i, r in enumerate(results):
        if not isinstance(r, dict):
            raise ValueError(f"{ref}: result[{i}] must be an object")
        kind, value, rid = r.get("type"), r.get("value") or {}, r.get("id", i)
        which = f"result {rid!r}"
        if kind == "labels":
            labels = value.get("labels")
            if not all(isinstance(value.get(k), int) for k in ("start", "end")):
                raise ValueError(f"{ref}: {which} has no integer value.start/value.end (a text region is expected)")
            if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
                raise ValueError(f"{ref}: {which} value.labels must be a non-empty list of strings, found {labels!r}")
            if len(labels) > 1:
                annotation.unrepresentable.append(("region with several labels", f"{which} {labels}"))
            text = value.get("text")
            annotation.spans.append(
                Span(
                    value["start"],
                    value["end"],
                    labels[0],
                    text if isinstance(text, str) else None,
                    which,
                    r.get("score"),
                )
            )
        elif kind == "choices":
            choices = value.get("choices")
            if not isinstance(choices, list) or not all(isinstance(x, str) for x in choices):
                raise ValueError(f"{ref}: {which} value.choices must be a list of strings, found {choices!r}")
            annotation.events += choices
        elif kind == "relation":
            annotation.unrepresentable.append(("relation", f"{r.get('from_id')} -> {r.get('to_id')}"))
        else:
            annotation.unrepresentable.append((f"result of type {kind!r}", which))
    return annotation


def _task(path: Path, line: int, record: object, text_field: str, key: str) -> Task:
    if not isinstance(record, dict):
        raise ValueError(f"a task must be a JSON object, found {type(record).__name__}")
    data = record.get("data")
    if not isinstance(data, dict):
        raise ValueError("a task needs a 'data' object")
    text = data.get(text_field)
    if not isinstance(text, str):
        fields = sorted(k for k, v in data.items() if isinstance(v, str))
        raise ValueError(f"data has no text field {text_field!r} (string fields: {fields}); set text_field")
    tid = record.get("id")
    ref = f"task {tid}" if tid is not None else f"task at line {line}"
    ident = data.get("article_id", tid if tid is not None else f"{path.stem}:{line}")
    annotations = []
    for i, a in enumerate(record.get(key) or []):
        if not isinstance(a, dict):
            hint = " (an export that lists prediction ids only: export the annotations)" if isinstance(a, int) else ""
            raise ValueError(f"{key}[{i}] must be an object{hint}")
        who = _annotator(a)
        aref = f"{key[:-1]} {a.get('id', i)}" + (f" by {who}" if who else "")
        annotation = _result_annotation(a.get("result", []), who, aref)
        annotation.created = str(a.get("created_at") or "")
        annotation.updated = str(a.get("updated_at") or annotation.created)
        if a.get("was_cancelled"):
            annotation.not_used = "cancelled"
        elif _rejected(a):
            annotation.not_used = "rejected"
        annotations.append(annotation)
    return Task(path, line, str(ident), text, annotations, ref)


def _min_task(path: Path, line: int, record: object, options, rows: list) -> Task:
    """A JSON-MIN row (one per annotation) as a task with one annotation."""
    if not isinstance(record, dict):
        raise ValueError(f"a JSON-MIN row must be a JSON object, found {type(record).__name__}")
    text = record.get(options.text_field)
    if not isinstance(text, str):
        raise ValueError(f"no text field {options.text_field!r}; set text_field")
    tid = record.get("id")
    who = record.get("annotator")
    ref = f"task {tid}" if tid is not None else f"row at line {line}"
    annotation = Annotation(
        str(who) if who is not None else None, ref=f"annotation {record.get('annotation_id', '')}".strip()
    )
    annotation.created = str(record.get("created_at") or "")
    annotation.updated = str(record.get("updated_at") or annotation.created)
    for key, value in record.items():
        if key in MIN_META or key == options.text_field:
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) and "start" in v for v in value):
            for i, v in enumerate(value):
                labels = v.get("labels") or []
                if not isinstance(labels, list) or not labels:
                    raise ValueError(f"{key}[{i}] has no 'labels'")
                if len(labels) > 1:
                    annotation.unrepresentable.append(("region with several labels", f"{key}[{i}] {labels}"))
                annotation.spans.append(Span(v["start"], v["end"], labels[0], v.get("text"), f"{key}[{i}]"))
        elif isinstance(value, dict) and isinstance(value.get("choices"), list):
            annotation.events += value["choices"]
        elif key == options.choices_name and isinstance(value, str):
            annotation.events.append(value)
        else:
            rows.append(key)
    ident = record.get("article_id", tid if tid is not None else f"{path.stem}:{line}")
    return Task(path, line, str(ident), text, [annotation], ref)


@register
class LabelStudio(Format):
    name = "label-studio"
    description = "Label Studio JSON / JSON-MIN export, or tasks with predictions"

    def sniff(self, path: Path, head: str | None) -> bool:
        if head is None:
            return False
        start = head.lstrip()
        if not start.startswith("["):
            return False
        # The first task's keys, or an empty list; good enough to tell a task list from other JSON lists.
        first = start[1:].lstrip()
        return first.startswith("{") or first.startswith("]")

    def read(self, source: Source) -> Iterator[Item]:
        path, options = source.path, source.options
        try:
            elements = list(iter_json_array(path))
        except AnnotationError as error:
            yield Item(path, error.line, error=error)
            return
        is_min = bool(elements) and all(isinstance(e, dict) and "data" not in e for _, e in elements)
        annotated = any(isinstance(e, dict) and e.get("annotations") for _, e in elements)
        key = "annotations" if annotated or is_min else "predictions"
        if key == "predictions":
            logger.info("%s: no task has annotations: reading the predictions", path)
        tasks: list = []
        by_id: dict[str, Task] = {}
        unknown: list[str] = []
        for line, element in elements:
            try:
                task = (
                    _min_task(path, line, element, options, unknown)
                    if is_min
                    else _task(path, line, element, options.text_field, key)
                )
            except ValueError as err:
                tid = element.get("id") if isinstance(element, dict) else None
                record = f"task {tid}" if tid is not None else None
                tasks.append(Item(path, line, error=AnnotationError(path, line, str(err), record=record)))
                continue
            if is_min and task.ref in by_id:  # JSON-MIN: one row per annotation, several rows per task
                by_id[task.ref].annotations += task.annotations
                continue
            by_id[task.ref] = task
            tasks.append(task)
        if unknown:
            logger.warning(
                "%s: JSON-MIN fields %s read as data fields, not annotations (a single choice is a plain string: "
                "name its control with choices_name)",
                path,
                sorted(set(unknown)),
            )
        yield from resolve_all(tasks, source)

    def write(self, articles: Sequence[dict], path: Path, options: WriteOptions) -> None:
        path.write_text(json.dumps(to_tasks(articles, options), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def to_tasks(articles: Sequence[dict], options: WriteOptions) -> list[dict]:
    """Label Studio tasks of ``articles``: ``annotations``, or ``predictions`` with ``model_version`` and scores
    (``options.predictions``); what :meth:`LabelStudio.write` writes and the ML backend of ``akhbar serve``
    answers."""
    tasks = []
    for article in articles:
        text = article["text"]
        result = []
        for i, e in enumerate(sorted(article["entities"], key=lambda e: e["start"])):
            region = {
                "id": f"e{i}",
                "from_name": options.from_name,
                "to_name": options.to_name,
                "type": "labels",
                "value": {
                    "start": e["start"],
                    "end": e["end"],
                    "text": text[e["start"] : e["end"]],
                    "labels": [e["label"]],
                },
            }
            if options.predictions and e.get("score") is not None:
                region["score"] = e["score"]
            result.append(region)
        for i, (label, score) in enumerate(event_scores(article)):
            choice = {
                "id": f"c{i}",
                "from_name": options.choices_name,
                "to_name": options.to_name,
                "type": "choices",
                "value": {"choices": [label]},
            }
            if options.predictions and score is not None:
                choice["score"] = score
            result.append(choice)
        task = {"data": {options.text_field: text, "article_id": article["id"]}}
        if options.predictions:
            scores = [r["score"] for r in result if "score" in r]
            prediction = {"model_version": options.model_version or "akhbar", "result": result}
            if scores:
                prediction["score"] = round(sum(scores) / len(scores), 4)
            task["predictions"] = [prediction]
        else:
            task["annotations"] = [{"result": result}]
        tasks.append(task)
    return tasks

"""akhbar's own JSON Lines: one article per line (``{"id", "text", "entities", "events"}``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..articles import AnnotationError, json_lines, parse_json
from . import Format, Item, Source, WriteOptions, event_scores, register


def looks_native(record: object) -> bool:
    """An akhbar article line: ``text`` and the native span keys (or no spans), none of the tools' keys."""
    if not isinstance(record, dict) or "text" not in record:
        return False
    if set(record) & {"data", "annotations", "spans", "answer", "label", "cats", "_input_hash"}:
        return False
    # Only doccano's span keys make it someone else's line: entities of the wrong shape are still an akhbar
    # line with a fault, which the reader names (record and field) instead of "cannot tell the format".
    entities = record.get("entities", [])
    return not (isinstance(entities, list) and any(isinstance(e, dict) and "start_offset" in e for e in entities))


def first_json_line(head: str) -> object:
    for line in head.splitlines():
        if line.strip():
            try:
                return parse_json(line)
            except ValueError:
                return None
    return None


@register
class JsonLines(Format):
    name = "jsonl"
    description = "akhbar's JSON Lines articles"
    holds_judged = True

    def sniff(self, path: Path, head: str | None) -> bool:
        if head is None:
            return False
        if not head.lstrip().startswith("{"):
            return False
        record = first_json_line(head)
        # A first line that does not parse is still a JSONL file with a bad line (the reader names it), unless
        # the extension says otherwise.
        return looks_native(record) if record is not None else path.suffix.lower() in (".jsonl", ".json")

    def read(self, source: Source) -> Iterator[Item]:
        path = source.path
        for number, record in json_lines(path):
            if isinstance(record, AnnotationError):
                yield Item(path, number, error=record)
            else:
                yield Item(path, number, record)

    def write(self, articles: Sequence[dict], path: Path, options: WriteOptions) -> None:
        with path.open("w", encoding="utf-8") as f:
            for article in articles:
                scored = event_scores(article)
                record = {
                    "id": article["id"],
                    "text": article["text"],
                    "entities": article["entities"],
                    "events": [label for label, _ in scored],
                    **({"judged": article["judged"]} if article.get("judged") is not None else {}),
                }
                # Event scores of predictions go under meta, so the file stays a valid article file to correct.
                if any(score is not None for _, score in scored):
                    record["meta"] = {"event_scores": {label: score for label, score in scored}}
                f.write(json.dumps(record, ensure_ascii=False) + "\n")

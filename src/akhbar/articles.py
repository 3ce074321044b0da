"""Annotated articles: the record, its validation (the one definition of "valid"), and reading files of it.

An article is ``{"id": str, "text": str, "entities": [{"start", "end", "label"}], "events": [str]}``
with character offsets (code points) into ``text`` (end exclusive), and an optional ``"judged": [str]``: the
event labels the article was judged for (absent: all of them), so that a label nobody looked at is unknown
rather than negative. Files of articles come in many formats:
akhbar's JSON Lines, CoNLL/BIO, and the exports of annotation tools (Label Studio, doccano, brat, INCEpTION/
WebAnno TSV, Prodigy). Each format is a module of :mod:`akhbar.formats` that turns its records into article
records; :func:`read_articles` picks the format (from the content, or ``ReadOptions.data_format``) and runs
every record through :func:`validate_article` here, whatever format it came from.

Records are parsed and validated record by record, because a useful error must name the file, the line or
record and the fault, which a bulk JSON/CSV loader cannot; the valid records then go into a
``datasets.Dataset`` (:func:`to_dataset`) for everything downstream.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import datasets

from .labels import label_fault
from .preprocessing import INVISIBLE_CHARS

logger = logging.getLogger(__name__)

# Invisible format characters (direction marks, zero-width characters, BOM) that make a token look like
# another string than it is.
# The invisible characters preprocessing deletes (one definition): a span must not start or end on one.
_INVISIBLE = re.compile(f"[{INVISIBLE_CHARS}]")
SURROGATE = re.compile("[\ud800-\udfff]")


def _utf16_hint(text: str) -> str:
    """A hint for span errors in texts with characters beyond U+FFFF, where UTF-16 offsets drift."""
    wide = sum(ord(c) > 0xFFFF for c in text)
    if not wide:
        return ""
    return (
        f"; the text has {wide} character(s) beyond U+FFFF (emoji …): offsets counted in UTF-16 code units "
        "(JavaScript) drift by one at each, and akhbar counts characters (code points) as Python does"
    )


def invisible_fault(token: str, what: str) -> str | None:
    m = _INVISIBLE.search(token)
    if m is None:
        return None
    return (
        f"{what} {token!r} contains the invisible character U+{ord(m.group()):04X} at position {m.start()}; "
        "delete it (the text looks the same without it)"
    )


class AnnotationError(ValueError):
    """A record that breaks the format; the message names the file, the line (where the format has lines), the
    record (article id, or the tool's own name for it such as ``task 17, annotation 5``) and the fault."""

    def __init__(
        self,
        path: str | Path,
        line: int | None,
        fault: str,
        article_id: str | None = None,
        record: str | None = None,
    ):
        where = f"{path}:{line}" if line else str(path)
        label = record or (f"article {article_id!r}" if article_id else None)
        super().__init__(where + (f" ({label})" if label else "") + f": {fault}")
        self.path, self.line, self.fault, self.article_id = str(path), line, fault, article_id


ANNOTATOR_POLICIES = ("first", "latest", "majority")
OFFSET_UNITS = ("auto", "codepoint", "utf16", "grapheme")


@dataclass
class ReadOptions:
    """How to read annotation-tool exports; every field is also a config key and a CLI flag.

    Attributes:
        data_format: a format name of :mod:`akhbar.formats` (``label-studio``, ``doccano``, ``brat``,
            ``webanno-tsv``, ``prodigy``, ``jsonl``, ``conll``); ``None``: detected from the content.
        text_field: Label Studio: the task ``data`` field that holds the text.
        annotator_policy: which annotation a record with several becomes: ``first`` (earliest), ``latest``,
            ``majority`` (the spans and events more than half of its annotators gave), or ``annotator:NAME``
            (that annotator's; a record without one is an error). Cancelled and rejected annotations are
            left out (counted) whatever the policy.
        offset_unit: ``auto``: check each span against the tool's own span text and accept a conversion
            (UTF-16 code units, grapheme clusters) only when it makes every span of the record match; or
            one unit forced for every record.
        choices_name: Label Studio JSON-MIN: the name of the ``<Choices>`` control whose single choice (a
            plain string there) is the article's event.
        skip_unrepresentable: skip (and count) what akhbar cannot hold (discontinuous or overlapping spans,
            relations, attributes, other layers) instead of stopping at the first.
    """

    data_format: str | None = None
    text_field: str = "text"
    annotator_policy: str = "first"
    offset_unit: str = "auto"
    choices_name: str = "event"
    skip_unrepresentable: bool = False

    def __post_init__(self) -> None:
        policy = self.annotator_policy
        if policy not in ANNOTATOR_POLICIES and not (policy.startswith("annotator:") and len(policy) > 10):
            raise ValueError(
                f"annotator_policy must be one of {', '.join(ANNOTATOR_POLICIES)} or annotator:NAME, found {policy!r}"
            )
        if self.offset_unit not in OFFSET_UNITS:
            raise ValueError(f"offset_unit must be one of {', '.join(OFFSET_UNITS)}, found {self.offset_unit!r}")
        if not self.text_field:
            raise ValueError("text_field must name the task data field holding the text, found an empty string")


@dataclass
class LoadReport:
    """What reading a file did: every record read is either used or skipped (with its error), and what was
    converted or left out on the way is counted."""

    path: str
    read: int = 0
    used: int = 0
    skipped: list[str] = field(default_factory=list)
    data_format: str = ""
    converted: Counter = field(default_factory=Counter)  # unit -> spans whose offsets were converted from it
    unrepresentable: Counter = field(default_factory=Counter)  # kind -> items skipped (skip_unrepresentable)
    not_used: Counter = field(default_factory=Counter)  # why -> annotations left out (cancelled, rejected, …)
    agreement: dict | None = None  # inter-annotator agreement, when records have several annotators

    def summary(self) -> str:
        line = f"{self.path}: read {counted(self.read, 'record')}, used {self.used}, skipped {len(self.skipped)}"
        if self.data_format:
            line += f" ({self.data_format})"
        if self.converted:
            line += "; offsets converted: " + ", ".join(
                f"{n} spans from {u}" for u, n in sorted(self.converted.items())
            )
        if self.not_used:
            line += "; annotations not used: " + ", ".join(f"{n} {why}" for why, n in sorted(self.not_used.items()))
        if self.unrepresentable:
            items = ", ".join(f"{n} {kind}" for kind, n in sorted(self.unrepresentable.items()))
            line += f"; skipped as unrepresentable: {items}"
        return line


def validate_article(record: object, path: str | Path, line: int | None, entity_labels: Sequence[str] | None) -> dict:
    """Check one native-format record and return it as a clean dict (``events`` defaults to ``[]``).

    Raises:
        AnnotationError: naming the file, line, article id and the fault.
    """
    if not isinstance(record, dict):
        raise AnnotationError(path, line, f"expected a JSON object, found {type(record).__name__}")
    article_id = record.get("id")
    aid = article_id if isinstance(article_id, str) else None

    def fail(fault: str) -> AnnotationError:
        return AnnotationError(path, line, fault, aid)

    unknown = set(record) - {"id", "text", "entities", "events", "judged", "meta"}
    if unknown:
        raise fail(
            f"unknown field(s) {sorted(unknown)}; expected id, text, entities, events (and optional judged, meta)"
        )
    for key in ("id", "text"):
        if key not in record:
            raise fail(f"missing field {key!r}")
        if not isinstance(record[key], str):
            raise fail(f"field {key!r} must be a string, found {type(record[key]).__name__}")
    text = record["text"]
    if not text.strip():
        raise fail("empty text")
    bad = SURROGATE.search(text)
    if bad:
        raise fail(
            f"text has an unpaired surrogate U+{ord(bad.group()):04X} at index {bad.start()}: a character was split "
            "in two (UTF-16 offsets or a broken \\u escape)"
        )
    entities = record.get("entities", [])
    if not isinstance(entities, list):
        raise fail(f"field 'entities' must be a list, found {type(entities).__name__}")
    clean: list[dict] = []
    for i, ent in enumerate(entities):
        if not isinstance(ent, dict):
            raise fail(f"entities[{i}] must be an object, found {type(ent).__name__}")
        for key, kind in (("start", int), ("end", int), ("label", str)):
            if key not in ent:
                raise fail(f"entities[{i}] is missing {key!r}")
            if not isinstance(ent[key], kind) or isinstance(ent[key], bool):
                raise fail(f"entities[{i}].{key} must be {kind.__name__}, found {ent[key]!r}")
        start, end, label = ent["start"], ent["end"], ent["label"]
        if not 0 <= start < end <= len(text):
            raise fail(
                f"entities[{i}] span [{start}, {end}) is not a non-empty range inside the text (length {len(text)})"
                f"{_utf16_hint(text)}"
            )
        if entity_labels is not None and label not in entity_labels:
            raise fail(f"entities[{i}] label {label!r} is not in the schema {list(entity_labels)}")
        fault = label_fault(label)
        if fault:
            raise fail(f"entities[{i}] label {label!r} {fault}")
        if "text" in ent and ent["text"] != text[start:end]:
            raise fail(
                f"entities[{i}] says text {ent['text']!r} but [{start}, {end}) is {text[start:end]!r}"
                f"{_utf16_hint(text)}"
            )
        edge = _INVISIBLE.match(text[start]) or _INVISIBLE.match(text[end - 1])
        if edge:
            raise fail(
                f"entities[{i}] span [{start}, {end}) starts or ends on the invisible character "
                f"U+{ord(edge.group()):04X}; move the offset to the visible text"
            )
        if not text[start:end].strip():
            raise fail(f"entities[{i}] span [{start}, {end}) covers only whitespace")
        clean.append({"start": start, "end": end, "label": label})
    clean.sort(key=lambda e: (e["start"], e["end"]))
    for a, b in zip(clean, clean[1:]):
        if b["start"] < a["end"]:
            raise fail(
                f"entities overlap: [{a['start']}, {a['end']}) {a['label']} and [{b['start']}, {b['end']}) {b['label']}"
            )
    events = record.get("events", [])
    if not isinstance(events, list) or not all(isinstance(e, str) and e for e in events):
        raise fail(f"field 'events' must be a list of non-empty strings, found {events!r}")
    if len(set(events)) != len(events):
        raise fail(f"field 'events' repeats a label: {events!r}")
    article = {"id": record["id"], "text": text, "entities": clean, "events": list(events)}
    judged = record.get("judged")
    if judged is not None:
        if (
            not isinstance(judged, list)
            or not all(isinstance(e, str) and e for e in judged)
            or len(set(judged)) != len(judged)
        ):
            raise fail(f"field 'judged' must be a list of distinct non-empty labels, found {judged!r}")
        unjudged = [e for e in events if e not in judged]
        if unjudged:
            raise fail(f"events {unjudged} are not in 'judged' {judged}: an event the article reports was judged")
        article["judged"] = list(judged)
    return article


def parse_json(text: str, decoder=None, pos: int | None = None):
    """``json.loads(text)`` (or ``decoder.raw_decode(text, pos)``), every way it can fail a ``ValueError``
    with one line that says why.

    Besides invalid JSON: nesting too deep for the parser (``RecursionError``) and integers longer than
    Python's conversion limit (4,300 digits), which raise other errors and carry no position.
    """
    try:
        return json.loads(text) if decoder is None else decoder.raw_decode(text, pos)
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON: {err.msg} at column {err.colno}") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply to read") from None
    except ValueError as err:  # int(): "Exceeds the limit (4300 digits) for integer string conversion"
        raise ValueError(f"invalid JSON: a number too long to read ({str(err).split(';')[0]})") from None


def json_lines(path: Path, need_text: bool = False) -> Iterator[tuple[int, object]]:
    """``(line, record)`` for each non-blank line of a JSON Lines file, or ``(line, AnnotationError)`` for a line
    that does not parse (or, with ``need_text``, is not an object with a string ``text``): every JSON Lines
    format reads its lines this way, so ``skip_invalid`` can count a bad one and go on."""
    for number, line in read_lines(path):
        if not line.strip():
            continue
        try:
            record = parse_json(line)
        except ValueError as err:
            yield number, AnnotationError(path, number, str(err))
            continue
        if need_text and not (isinstance(record, dict) and isinstance(record.get("text"), str)):
            yield number, AnnotationError(path, number, "expected a JSON object with a string 'text'")
            continue
        yield number, record


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` without line ends; bad UTF-8 is an error naming the line."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise AnnotationError(path, number, f"invalid UTF-8 at byte {err.start} of the line") from None
            if number == 1:
                line = line.removeprefix("\ufeff")
            yield number, line.rstrip("\r\n")


def read_articles(
    path: str | Path,
    entity_labels: Sequence[str] | None = None,
    skip_invalid: bool = False,
    join_sentences: int = 0,
    options: ReadOptions | None = None,
) -> tuple[list[dict], LoadReport]:
    """Read and validate every article of a file (or folder) in any format of :mod:`akhbar.formats`.

    Args:
        path: the file, or a folder (brat standoff, per-annotator doccano files, WebAnno TSV files).
        entity_labels: the entity schema; ``None`` accepts any label.
        skip_invalid: skip bad records (a CoNLL sentence with a bad line is skipped whole) and count them
            in the returned report instead of stopping at the first.
        join_sentences: CoNLL only: join consecutive sentences of a document into articles of up to this many
            words (0: one article per sentence). The report still counts sentences.
        options: format, annotator policy, offset unit and the rest (:class:`ReadOptions`).

    Raises:
        FileNotFoundError: the path does not exist.
        AnnotationError: a bad record (unless ``skip_invalid``), or duplicate ids.
    """
    # Imported here: the format modules import this module for validation and errors.
    from .formats import Source, find_format

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if not (path.is_file() or path.is_dir()):
        # Formats are told apart by their content and some are read twice: a pipe can be read only once.
        raise ValueError(f"{path}: not a regular file or folder (a pipe or a device); save it to a file first")
    if join_sentences < 0:
        raise ValueError(f"join_sentences must be 0 (off) or a number of words, found {join_sentences}")
    options = options or ReadOptions()
    fmt = find_format(path, options.data_format)
    report = LoadReport(str(path), data_format=fmt.name)
    articles: list[dict] = []
    seen: dict[str, str] = {}
    for item in fmt.read(Source(path, options, report, join_sentences, entity_labels)):
        report.read += item.records
        try:
            if item.error is not None:
                raise item.error
            article = validate_article(item.record, item.path, item.line, entity_labels)
            if article["id"] in seen:
                raise AnnotationError(
                    item.path, item.line, f"duplicate id {article['id']!r} (first on {seen[article['id']]})"
                )
        except AnnotationError as error:
            if not skip_invalid:
                raise
            report.skipped.append(str(error))
            continue
        seen[article["id"]] = f"line {item.line}" if item.line else str(item.path)
        report.used += item.records
        articles.append(article)
    if not articles:
        raise ValueError(f"{path}: no valid article in the file ({report.summary()})")
    if report.skipped:
        logger.warning("%s (first: %s)", report.summary(), report.skipped[0])
    elif report.converted or report.unrepresentable or report.not_used:
        logger.info("%s", report.summary())
    if report.agreement:
        logger.info("%s: %s", path, agreement_line(report.agreement))
    return articles, report


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``"1 record"``, ``"3 records"``: the number with its noun, plural when it is not one (``plural`` where
    it is not the noun with an s: ``counted(n, "entity", "entities")``)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def agreement_line(agreement: dict) -> str:
    """One line for a :class:`LoadReport`'s inter-annotator agreement."""

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}"

    pairs = "; ".join(
        f"{pair} {pct(v['span_f1'])} ({counted(v['records'], 'record')})" for pair, v in agreement["pairs"].items()
    )
    several = counted(agreement["records_with_several_annotators"], "record")
    return (
        f"inter-annotator agreement over {several} with several "
        f"annotators: span F1 {pct(agreement['span_f1'])}, event F1 {pct(agreement['event_f1'])}; by pair: {pairs}"
    )


def infer_entity_labels(articles: Sequence[dict]) -> list[str]:
    """The entity types used in ``articles``, most frequent first (ties alphabetically)."""
    counts = Counter(e["label"] for a in articles for e in a["entities"])
    return sorted(counts, key=lambda k: (-counts[k], k))


def to_dataset(articles: Sequence[dict]) -> datasets.Dataset:
    """Articles as a ``datasets.Dataset`` with an explicit schema (empty lists keep their types)."""
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "text": datasets.Value("string"),
            "entities": datasets.List(
                {"start": datasets.Value("int32"), "end": datasets.Value("int32"), "label": datasets.Value("string")}
            ),
            "events": datasets.List(datasets.Value("string")),
            "judged": datasets.List(datasets.Value("string")),  # None where absent (every label judged)
        }
    )
    rows = [{**a, "judged": a.get("judged")} for a in articles]
    return datasets.Dataset.from_list(rows, features=features)


def from_dataset(dataset: datasets.Dataset) -> list[dict]:
    """The articles of :func:`to_dataset` back (``judged`` left out where it was absent)."""
    return [{k: v for k, v in row.items() if not (k == "judged" and v is None)} for row in dataset.to_list()]

"""Annotated articles: the native JSON Lines format, CoNLL/BIO files, and their validation.

An article is ``{"id": str, "text": str, "entities": [{"start", "end", "label"}], "events": [str]}``
with character offsets into ``text`` (end exclusive). CoNLL files (``token tag`` per line, blank line
between sentences, ``-DOCSTART-`` allowed) become one article per sentence: tokens joined by single spaces,
spans from the IOB1 or IOB2 tags. With ``join_sentences=N`` consecutive sentences of one document (the whole
file when it has no ``-DOCSTART-``) are joined, one per line, into articles of up to N words, so that a
model reads each sentence with its neighbours as context, as it reads whole articles at inference.

Records are parsed and validated here, line by line, because a useful error must name the file, the line
and the fault, which a bulk JSON/CSV loader cannot; the valid records then go into a ``datasets.Dataset``
(:func:`load_dataset_split`) for everything downstream.
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

from .labels import label_fault, tags_to_spans

logger = logging.getLogger(__name__)

_TAG = re.compile(r"^(?:O|([BI])-(\S+))$")
# Invisible format characters (direction marks, zero-width characters, BOM) that make a token look like
# another string than it is.
_INVISIBLE = re.compile("[\u200b-\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf16_hint(text: str) -> str:
    """A hint for span errors in texts with characters beyond U+FFFF, where UTF-16 offsets drift."""
    wide = sum(ord(c) > 0xFFFF for c in text)
    if not wide:
        return ""
    return (
        f"; the text has {wide} character(s) beyond U+FFFF (emoji …): offsets counted in UTF-16 code units "
        "(JavaScript) drift by one at each, and akhbar counts characters (code points) as Python does"
    )


def _invisible_fault(token: str, what: str) -> str | None:
    m = _INVISIBLE.search(token)
    if m is None:
        return None
    return (
        f"{what} {token!r} contains the invisible character U+{ord(m.group()):04X} at position {m.start()}; "
        "delete it (the text looks the same without it)"
    )


class AnnotationError(ValueError):
    """A record that breaks the format; the message names file, line, article and fault."""

    def __init__(self, path: str | Path, line: int, fault: str, article_id: str | None = None):
        where = f"{path}:{line}" + (f" (article {article_id!r})" if article_id else "")
        super().__init__(f"{where}: {fault}")
        self.path, self.line, self.fault, self.article_id = str(path), line, fault, article_id


@dataclass
class LoadReport:
    """What reading a file did: every record read is either used or skipped (with its error)."""

    path: str
    read: int = 0
    used: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.path}: read {self.read} records, used {self.used}, skipped {len(self.skipped)}"


def detect_format(path: str | Path) -> str:
    """``jsonl`` for ``.jsonl``/``.json``, ``conll`` for ``.txt``/``.conll``/``.bio``/``.tsv``."""
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".json"):
        return "jsonl"
    if suffix in (".txt", ".conll", ".bio", ".tsv", ".iob"):
        return "conll"
    raise ValueError(
        f"{path}: cannot tell the format from the extension {suffix!r}; use .jsonl for JSON Lines articles "
        "or .txt/.conll for token-per-line CoNLL/BIO files"
    )


def validate_article(record: object, path: str | Path, line: int, entity_labels: Sequence[str] | None) -> dict:
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

    unknown = set(record) - {"id", "text", "entities", "events", "meta"}
    if unknown:
        raise fail(f"unknown field(s) {sorted(unknown)}; expected id, text, entities, events (and optional meta)")
    for key in ("id", "text"):
        if key not in record:
            raise fail(f"missing field {key!r}")
        if not isinstance(record[key], str):
            raise fail(f"field {key!r} must be a string, found {type(record[key]).__name__}")
    text = record["text"]
    if not text.strip():
        raise fail("empty text")
    bad = _SURROGATE.search(text)
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
    return {"id": record["id"], "text": text, "entities": clean, "events": list(events)}


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
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


def _conll_sentence_to_article(tokens: list[str], tags: list[str], sentence_id: str) -> dict:
    offsets, pos = [], 0
    for token in tokens:
        offsets.append((pos, pos + len(token)))
        pos += len(token) + 1
    entities = [{"start": offsets[a][0], "end": offsets[b - 1][1], "label": kind} for a, b, kind in tags_to_spans(tags)]
    return {"id": sentence_id, "text": " ".join(tokens), "entities": entities, "events": []}


def _iter_conll(
    path: Path, entity_labels: Sequence[str] | None, skip_invalid: bool, report: LoadReport
) -> Iterator[tuple[int, dict, int]]:
    """``(line, article, document)`` per sentence. With ``skip_invalid`` a sentence holding a bad line is
    skipped whole. ``document`` counts the ``-DOCSTART-`` lines seen before the sentence."""
    tokens: list[str] = []
    tags: list[str] = []
    first_line = 0
    document = 0
    error: AnnotationError | None = None

    def flush() -> Iterator[tuple[int, dict]]:
        nonlocal error
        if not tokens and error is None:
            return
        report.read += 1
        if error is not None:
            report.skipped.append(str(error))
            logger.warning("skipped sentence: %s", error)
            error = None
        else:
            yield first_line, _conll_sentence_to_article(tokens, tags, f"{path.stem}:{first_line}"), document
        tokens.clear()
        tags.clear()

    for number, line in _read_lines(path):
        if not line.strip():
            yield from flush()
            continue
        if line.startswith("-DOCSTART-"):
            yield from flush()
            document += 1
            continue
        if not tokens and error is None:
            first_line = number
        if error is not None:
            continue
        columns = line.split()
        fault = None
        if len(columns) != 2 or line != line.strip():
            fault = (
                f"expected 2 columns 'token tag' separated by one space or tab, found {len(columns)} "
                f"column(s) in {line!r}"
                + (" (leading/trailing whitespace: an empty token?)" if line != line.strip() else "")
            )
        elif invisible := _invisible_fault(columns[0], "token"):
            fault = invisible
        else:
            tag = columns[1]
            m = _TAG.match(tag)
            if not m:
                fault = f"tag {tag!r} is not O, B-TYPE or I-TYPE"
            elif m.group(2) and entity_labels is not None and m.group(2) not in entity_labels:
                fault = f"tag {tag!r}: entity type {m.group(2)!r} is not in the schema {list(entity_labels)}"
            elif m.group(2) and (label := label_fault(m.group(2))):
                fault = f"tag {tag!r}: label {m.group(2)!r} {label}"
        if fault:
            error = AnnotationError(path, number, fault)
            if not skip_invalid:
                raise error
            continue
        tokens.append(columns[0])
        tags.append(columns[1])
    yield from flush()


def _join_sentences(
    path: Path, sentences: Iterator[tuple[int, dict, int]], max_words: int
) -> Iterator[tuple[int, dict]]:
    """Join consecutive sentences of a document, one per line, into articles of at most ``max_words`` words.

    A sentence longer than ``max_words`` stays an article of its own (it is read in windows like any long
    article). The joined article's id is ``file:first_line-last_sentence_line``.
    """
    group: list[tuple[int, dict]] = []
    group_doc, words = -1, 0

    def flush() -> Iterator[tuple[int, dict]]:
        if not group:
            return
        first, last = group[0][0], group[-1][0]
        text, entities = "", []
        for _, sentence in group:
            offset = len(text) + 1 if text else 0
            entities += [{**e, "start": e["start"] + offset, "end": e["end"] + offset} for e in sentence["entities"]]
            text = f"{text}\n{sentence['text']}" if text else sentence["text"]
        ident = f"{path.stem}:{first}" if len(group) == 1 else f"{path.stem}:{first}-{last}"
        yield first, {"id": ident, "text": text, "entities": entities, "events": []}
        group.clear()

    for number, sentence, document in sentences:
        n = sentence["text"].count(" ") + 1
        if group and (document != group_doc or words + n > max_words):
            yield from flush()
        if not group:
            group_doc, words = document, 0
        group.append((number, sentence))
        words += n
    yield from flush()


def read_articles(
    path: str | Path,
    entity_labels: Sequence[str] | None = None,
    skip_invalid: bool = False,
    data_format: str | None = None,
    join_sentences: int = 0,
) -> tuple[list[dict], LoadReport]:
    """Read and validate every article of a JSONL or CoNLL file.

    Args:
        path: the file.
        entity_labels: the entity schema; ``None`` accepts any label.
        skip_invalid: skip bad records (a CoNLL sentence with a bad line is skipped whole) and count them
            in the returned report instead of stopping at the first.
        data_format: ``jsonl`` or ``conll``; by default from the extension.
        join_sentences: CoNLL only: join consecutive sentences of a document into articles of up to this many
            words (0: one article per sentence). The report still counts sentences.

    Raises:
        FileNotFoundError: the file does not exist.
        AnnotationError: a bad record (unless ``skip_invalid``), or duplicate ids.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    data_format = data_format or detect_format(path)
    report = LoadReport(str(path))
    articles: list[dict] = []
    if join_sentences < 0:
        raise ValueError(f"join_sentences must be 0 (off) or a number of words, found {join_sentences}")
    if data_format == "conll":
        sentences = _iter_conll(path, entity_labels, skip_invalid, report)
        if join_sentences:
            records = _join_sentences(path, sentences, join_sentences)
        else:
            records = ((number, article) for number, article, _ in sentences)
    elif data_format == "jsonl":
        records = _iter_jsonl_counted(path, entity_labels, skip_invalid, report)
    else:
        raise ValueError(f"unknown data format {data_format!r}: expected 'jsonl' or 'conll'")
    seen: dict[str, int] = {}
    for number, article in records:
        if article["id"] in seen:
            error = AnnotationError(
                path, number, f"duplicate id {article['id']!r} (first on line {seen[article['id']]})"
            )
            if not skip_invalid:
                raise error
            report.skipped.append(str(error))
            continue
        seen[article["id"]] = number
        articles.append(article)
    report.used = report.read - len(report.skipped)
    if not articles:
        raise ValueError(f"{path}: no valid article in the file ({report.summary()})")
    if report.skipped:
        logger.warning("%s (first: %s)", report.summary(), report.skipped[0])
    return articles, report


def _iter_jsonl_counted(
    path: Path, entity_labels: Sequence[str] | None, skip_invalid: bool, report: LoadReport
) -> Iterator[tuple[int, dict]]:
    for number, line in _read_lines(path):
        if not line.strip():
            continue
        report.read += 1
        try:
            yield from _iter_jsonl_line(path, number, line, entity_labels)
        except AnnotationError as error:
            if not skip_invalid:
                raise
            report.skipped.append(str(error))


def _iter_jsonl_line(
    path: Path, number: int, line: str, entity_labels: Sequence[str] | None
) -> Iterator[tuple[int, dict]]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise AnnotationError(path, number, f"invalid JSON: {err.msg} at column {err.colno}") from None
    yield number, validate_article(record, path, number, entity_labels)


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
        }
    )
    return datasets.Dataset.from_list(list(articles), features=features)

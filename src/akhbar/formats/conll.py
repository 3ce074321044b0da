"""CoNLL/BIO files: one ``token tag`` per line, a blank line between sentences, ``-DOCSTART-`` allowed.

Each sentence becomes one article: the tokens joined by single spaces, the spans from the IOB1 or IOB2 tags,
the id ``FILE:LINE``. With ``join_sentences=N`` consecutive sentences of one document (the whole file when it
has no ``-DOCSTART-``) are joined, one per line, into articles of up to N words, so that a model reads each
sentence with its neighbours as context, as it reads whole articles at inference.

Writing: each article is one sentence block, in IOB2. Tokens are the
whitespace-separated words, split again where a span starts or ends inside one (``وبيروت`` with ``بيروت`` as
LOC becomes ``و`` ``بيروت``): CoNLL holds whole tokens and no spacing, so the text comes back re-spaced (line
breaks too) and the ids come back as ``FILE:LINE``, while every span keeps its text and label. CoNLL has no
place for events.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..articles import AnnotationError, invisible_fault, read_lines
from ..labels import label_fault, tags_to_spans
from . import Format, Item, Source, WriteOptions, register

_TAG = re.compile(r"^(?:O|([BI])-(\S+))$")


def _sentence_to_article(tokens: list[str], tags: list[str], sentence_id: str) -> dict:
    offsets, pos = [], 0
    for token in tokens:
        offsets.append((pos, pos + len(token)))
        pos += len(token) + 1
    entities = [{"start": offsets[a][0], "end": offsets[b - 1][1], "label": kind} for a, b, kind in tags_to_spans(tags)]
    return {"id": sentence_id, "text": " ".join(tokens), "entities": entities, "events": []}


def _iter_conll(path: Path, entity_labels: Sequence[str] | None) -> Iterator[tuple[Item, int]]:
    """``(item, document)`` per sentence; a sentence holding a bad line is one error item (the first bad line's).
    ``document`` counts the ``-DOCSTART-`` lines seen before the sentence."""
    tokens: list[str] = []
    tags: list[str] = []
    first_line = 0
    document = 0
    error: AnnotationError | None = None

    def flush() -> Iterator[tuple[Item, int]]:
        nonlocal error
        if not tokens and error is None:
            return
        if error is not None:
            yield Item(path, error.line, error=error), document
            error = None
        else:
            yield Item(path, first_line, _sentence_to_article(tokens, tags, f"{path.stem}:{first_line}")), document
        tokens.clear()
        tags.clear()

    for number, line in read_lines(path):
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
        elif invisible := invisible_fault(columns[0], "token"):
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
            continue
        tokens.append(columns[0])
        tags.append(columns[1])
    yield from flush()


def _join_sentences(path: Path, sentences: Iterator[tuple[Item, int]], max_words: int) -> Iterator[Item]:
    """Join consecutive sentences of a document, one per line, into articles of at most ``max_words`` words.

    A sentence longer than ``max_words`` stays an article of its own (it is read in windows like any long
    article). The joined article's id is ``file:first_line-last_sentence_line``. Bad sentences pass through.
    """
    group: list[Item] = []
    group_doc, words = -1, 0

    def flush() -> Iterator[Item]:
        if not group:
            return
        first, last = group[0].line, group[-1].line
        text, entities = "", []
        for item in group:
            sentence = item.record
            offset = len(text) + 1 if text else 0
            entities += [{**e, "start": e["start"] + offset, "end": e["end"] + offset} for e in sentence["entities"]]
            text = f"{text}\n{sentence['text']}" if text else sentence["text"]
        ident = f"{path.stem}:{first}" if len(group) == 1 else f"{path.stem}:{first}-{last}"
        record = {"id": ident, "text": text, "entities": entities, "events": []}
        yield Item(path, first, record, records=len(group))
        group.clear()

    for item, document in sentences:
        if item.error is not None:
            yield item
            continue
        n = item.record["text"].count(" ") + 1
        if group and (document != group_doc or words + n > max_words):
            yield from flush()
        if not group:
            group_doc, words = document, 0
        group.append(item)
        words += n
    yield from flush()


def _tokens(text: str, cuts: set[int]) -> list[tuple[int, int]]:
    """Whitespace-separated tokens of ``text``, split again at the offsets in ``cuts``."""
    out = []
    for m in re.finditer(r"\S+", text):
        start = m.start()
        for cut in sorted(c for c in cuts if m.start() < c < m.end()):
            out.append((start, cut))
            start = cut
        out.append((start, m.end()))
    return out


@register
class Conll(Format):
    name = "conll"
    description = "CoNLL/BIO token-per-line files"
    holds_events = False
    holds_text = False

    def sniff(self, path: Path, head: str | None) -> bool:
        if head is None:
            return False
        lines = [line for line in head.splitlines()[:200] if line.strip() and not line.startswith("-DOCSTART-")]
        if not lines:
            return False
        if lines[0].lstrip().startswith(("{", "[", "#")):
            return False
        # Most lines are "token tag" with an IOB tag; a few bad lines are the reader's to name.
        good = sum(bool(_TAG.match(line.split()[-1])) and len(line.split()) == 2 for line in lines)
        return good >= max(1, len(lines) // 2) or path.suffix.lower() in (".conll", ".bio", ".iob")

    def read(self, source: Source) -> Iterator[Item]:
        sentences = _iter_conll(source.path, source.entity_labels)
        if source.join_sentences:
            yield from _join_sentences(source.path, sentences, source.join_sentences)
        else:
            yield from (item for item, _ in sentences)

    def write(self, articles: Sequence[dict], path: Path, options: WriteOptions) -> None:
        blocks = []
        for article in articles:
            text, entities = article["text"], sorted(article["entities"], key=lambda e: e["start"])
            rows = []
            for a, b in _tokens(text, {e["start"] for e in entities} | {e["end"] for e in entities}):
                entity = next((e for e in entities if e["start"] <= a and b <= e["end"]), None)
                tag = "O" if entity is None else ("B-" if a == entity["start"] else "I-") + entity["label"]
                rows.append(f"{text[a:b]} {tag}")
            blocks.append("\n".join(rows))
        path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")

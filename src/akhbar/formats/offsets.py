"""Offset units of annotation tools, and the check that every span means the text its tool says it does.

akhbar counts code points (Python string indices). Tools written in JavaScript or Java have counted UTF-16 code
units (Label Studio, INCEpTION: one extra unit for each character beyond U+FFFF, such as an emoji, before the
span); doccano has counted grapheme clusters (a letter and its diacritics are one, so on vocalised Arabic the
offsets are about half the code points). A span is read in code points; where its tool gave the span's text (or
the text of the tokens around it) and it does not match, the other units are tried, and one is accepted only if
it makes *every* span and token of the record match. Otherwise the record is an error naming both texts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

# Extended grapheme clusters need Unicode's segmentation rules: the `regex` module (a transformers dependency)
# implements them as \X; the standard `re` module has no equivalent.
import regex

UNIT_NAMES = {"codepoint": "code points", "utf16": "UTF-16 code units", "grapheme": "grapheme clusters"}


@dataclass
class Span:
    """A span as a tool gave it: offsets in the tool's unit, its label, and the tool's own text (if any)."""

    start: int
    end: int
    label: str
    text: str | None = None  # what the tool says the span covers
    ref: str = ""  # the tool's name for it (brat T3, a Label Studio result id) for messages
    score: float | None = None


def unit_map(text: str, unit: str) -> list[int]:
    """Index ``i`` in ``unit`` -> code point index, for ``i`` in ``0..length(text in unit)``; ``-1`` where ``i``
    falls inside a character (the second half of a surrogate pair)."""
    if unit == "codepoint":
        return list(range(len(text) + 1))
    if unit == "utf16":
        out: list[int] = []
        for i, char in enumerate(text):
            out.append(i)
            if ord(char) > 0xFFFF:
                out.append(-1)
        out.append(len(text))
        return out
    if unit == "grapheme":
        return [m.start() for m in regex.finditer(r"\X", text)] + [len(text)]
    raise ValueError(f"unknown offset unit {unit!r}")


def convert(span: Span, table: list[int]) -> Span | None:
    """The span in code points through ``table``, or ``None`` if its offsets do not land on characters."""
    if not 0 <= span.start < span.end < len(table):
        return None
    start, end = table[span.start], table[span.end]
    if start < 0 or end < 0:
        return None
    return replace(span, start=start, end=end)


def _matches(span: Span | None, text: str) -> bool:
    return span is not None and (span.text is None or text[span.start : span.end] == span.text)


def resolve_units(
    text: str,
    spans: Sequence[Span],
    anchors: Sequence[Span],
    unit: str,
    fail: Callable[[str], Exception],
) -> tuple[list[Span], str]:
    """Spans in code points, and the unit they were given in.

    Args:
        text: the record's text.
        spans: the record's spans, in the tool's unit.
        anchors: more ``(start, end, text)`` the tool gave in the same unit (tokens), checked with the spans
            but not returned.
        unit: ``auto``, or the unit every span is in.
        fail: makes the error to raise from a message.

    Raises:
        whatever ``fail`` returns: no unit makes every span and anchor match.
    """
    checked = [*spans, *anchors]
    units = ["codepoint", "utf16", "grapheme"] if unit == "auto" else [unit]
    verifiable = all(s.text is not None for s in checked)
    first: list[Span | None] = []
    for candidate in units:
        table = unit_map(text, candidate)
        converted = [convert(s, table) for s in checked]
        first = first or converted
        if not all(_matches(c, text) for c in converted):
            continue
        if candidate != "codepoint" and unit == "auto" and not verifiable:
            continue  # a conversion no span text confirms is a guess: refused below with both readings
        if candidate == "codepoint" and unit == "auto" and not verifiable:
            # Without the tool's span text, a span that splits a letter from its diacritics is the one sign
            # that the offsets count grapheme clusters (or UTF-16 units): refuse it rather than guess.
            clusters = set(unit_map(text, "grapheme"))
            split = next((c for c in converted if c.start not in clusters or c.end not in clusters), None)
            if split is not None:
                raise fail(_mismatch(text, split, spans, "splits a letter from its diacritics", unit))
        return converted[: len(spans)], candidate
    bad = next(i for i, c in enumerate(first) if not _matches(c, text))
    raise fail(_mismatch(text, checked[bad], spans, None, unit, bad))


def _mismatch(
    text: str, span: Span, spans: Sequence[Span], why: str | None, unit: str, index: int | None = None
) -> str:
    what = "span" if index is None or index < len(spans) else "token"
    head = f"{what} {span.ref + ' ' if span.ref else ''}[{span.start}, {span.end}) {span.label}".rstrip()
    if span.text is not None:
        got = text[span.start : span.end] if 0 <= span.start <= span.end <= len(text) else None
        message = f"{head}: the tool says {span.text!r} but text[{span.start}:{span.end}] is " + (
            repr(got) if got is not None else f"outside the text (length {len(text)})"
        )
    else:
        message = f"{head} {why or 'is not a range inside the text'} (text length {len(text)})"
    tried = []
    for other_unit in ("utf16", "grapheme"):
        other = convert(span, unit_map(text, other_unit))
        if other is not None and (other.start, other.end) != (span.start, span.end):
            tried.append(f"as {UNIT_NAMES[other_unit]} it would be {text[other.start : other.end]!r}")
    if tried:
        message += "; " + ", ".join(tried)
    if unit != "auto":
        message += f"; read as {UNIT_NAMES[unit]} (offset_unit {unit})"
    elif span.text is not None:
        message += "; no offset unit makes every span of the record match its text"
    else:
        message += (
            "; the tool gives no span text to check a conversion against: set offset_unit (--offset-unit) to the "
            "unit your tool counts if one of these is right"
        )
    return message

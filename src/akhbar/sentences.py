"""Sentences of an article, as character spans into the original text.

A sentence ends at a line break, or after a full stop (``.``), a question mark (``?``, Arabic ``؟``), an
exclamation mark, an Arabic semicolon (``؛``) or an ellipsis (``…``, ``...``), with the closing quotes and
brackets that follow it, when whitespace comes next. A full stop does not end a sentence inside a number
(``3.5``, ``1.000``: no whitespace follows), after a single letter (initials such as ``ع.``, ``J.``), or after a
known abbreviation (``د.`` doctor, ``م.`` engineer, ``أ.`` professor, ``ص.`` page, ``e.g.``, ``U.S.`` ...).
Every character that is not whitespace belongs to exactly one sentence, in order; the whitespace between
sentences belongs to none.

Hand-written: the sentence splitters of NLTK, spaCy or stanza either do not know Arabic punctuation or need a
downloaded model, and none returns offsets into text that normalization has not touched.
"""

from __future__ import annotations

import re

# Abbreviations (without their final dot) after which a full stop does not end the sentence.
ABBREVIATIONS = frozenset(
    {
        "د",  # دكتور
        "م",  # مهندس / ميلادي
        "أ",  # أستاذ
        "ص",  # صفحة
        "ج",  # جزء
        "هـ",  # هجري
        "ت",  # توفي / تلفون
        "Dr",
        "Mr",
        "Mrs",
        "Ms",
        "Prof",
        "St",
        "vs",
        "etc",
        "No",
        "e.g",
        "i.e",
        "U.S",
        "U.N",
    }
)
_END = re.compile(r"(?:\.{3}|…|[.?!؟؛])+[\"'»”’)\]]*(?=\s|$)")
_LINE = re.compile(r"[ \t\f\v]*(?:\r\n|\r|\n|\u2028|\u2029)\s*")
_WORD_BEFORE = re.compile(r"(\S+)$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``, without the whitespace around it."""
    spans = []
    for a, b in _lines(text):
        start = a
        for m in _END.finditer(text, a, b):
            if _keeps_going(text, start, m):
                continue
            spans.append((start, m.end()))
            start = m.end()
        spans.append((start, b))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            out.append((a, b))
    return out


def _lines(text: str) -> list[tuple[int, int]]:
    pos, out = 0, []
    for m in _LINE.finditer(text):
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, len(text)))
    return out


def _keeps_going(text: str, start: int, end: re.Match) -> bool:
    """A full stop after an abbreviation or a single letter (initials) does not end the sentence."""
    if text[end.start()] != "." or end.group().startswith("..."):
        return False
    word = _WORD_BEFORE.search(text, start, end.start())
    if word is None:
        return False
    token = word.group(1).lstrip("\"'«“(‘[")
    return token in ABBREVIATIONS or (len(token) == 1 and token.isalpha())

"""Arabic normalization that keeps a map back to the original characters.

AraBERT v0.2/v2 was pretrained on text cleaned by ``ArabertPreprocessor("bert-base-arabertv02")`` (arabert
1.0.1, ``_preprocess_v2``): decode HTML entities, strip tashkeel and tatweel, replace URLs, e-mails and
mentions, drop HTML markup, map Arabic-Indic digits, cut character repetitions, space out punctuation and
digit/letter runs, replace ``/`` with ``-``, drop characters outside its alphabet, collapse spaces. A model
should see text the way it was pretrained, but users want entity offsets into *their* text. So every step
here edits a :class:`MappedText`, which carries for each output character the ``[start, end)`` range of
original characters it came from; a span of the normalized text maps back with
:meth:`MappedText.original_span`.

The ``arabertv02`` preset runs the reference's steps in its order with its regular expressions (copied from
``arabert/preprocess.py``), so its output equals ``ArabertPreprocessor.preprocess`` except for the steps
named in :data:`AKHBAR_ADDITIONS`, deliberate additions that turn off to give the reference's output
exactly. Where a reference expression takes quadratic time on long runs, the search here finds exactly its
matches in linear time (:class:`_Leftmost`, :class:`_HtmlTags`). ``tests/test_arabert_parity.py`` checks
the equality on committed web-style text, and against the real package where it is installed.

The same :func:`normalize` with the same saved :class:`PreprocessingConfig` runs in training, evaluation
and inference (the settings travel inside the packaged checkpoint). The steps are re-implemented rather
than calling ``ArabertPreprocessor`` because that class returns only a string: it loses the character map
this module exists for.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from html.entities import html5 as _HTML5_ENTITIES
from typing import Protocol

# Steps of the ``arabertv02`` preset that ArabertPreprocessor does not do. Each keeps text the reference
# would split or drop, in a form the model saw in pretraining, so it cannot show the model anything new:
# remove_invisible deletes direction marks and zero-width characters (the reference turns them into spaces
# and splits the word they hide in); map_persian_digits maps ۰-۹ to 0-9 (the reference drops them, and the
# number with them). Turned off, the preset's output is the reference's exactly.
AKHBAR_ADDITIONS = ("remove_invisible", "map_persian_digits")

_TASHKEEL = re.compile("[\u064b-\u0652]+")  # pyarabic's TASHKEEL: fathatan .. sukun, shadda included
_TATWEEL = re.compile("\u0640+")
# Invisible format characters users paste from the web: zero-width space/joiners, LRM/RLM, ALM, bidi
# embeddings and isolates, BOM, soft hyphen.
INVISIBLE_CHARS = "\u200b-\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff\u00ad"  # a regex character-class body
_INVISIBLE = re.compile(f"[{INVISIBLE_CHARS}]+")
_INDIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")
_PERSIAN_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")
_REPEAT = re.compile(r"(\D)\1{2,}")
# Everything but Arabic letters, digits, Latin letters and the brackets of the placeholders is set apart
# by spaces. (The reference pads whitespace too; that changes nothing once whitespace is collapsed.)
_SPACE_OUT = re.compile("([^0-9\u0621-\u063a\u0641-\u064a\u0660-\u0669a-zA-Z\\[\\]\\s])")
_WHITESPACE = re.compile(r"\s+")
_PLACEHOLDERS = {"url": "[رابط]", "email": "[بريد]", "mention": "[مستخدم]"}
# The alphabet AraBERT v0.2 kept (the reference's REJECTED_CHARS_REGEX, verbatim); anything else becomes a
# space.
_REJECTED = re.compile(
    r"[^0-9\u0621-\u063A\u0640-\u066C\u0671-\u0674a-zA-Z\[\]!\"#\$%\'\(\)\*\+,\.:;\-<=·>?@\[\\\]\^_ـ`{\|}~—٪’،؟`୍“؛”ۚ»؛\s+«–…‘]"
)
# CPython's html._charref, the character references html.unescape decodes (copied: the name is private).
_CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")


class _Finder(Protocol):
    def finditer(self, text: str) -> Iterator[re.Match]: ...


class _Leftmost:
    """The matches ``re.sub(pattern, ...)`` replaces, found in linear time.

    ``re`` retries a failed match at every later position, so a pattern such as ``(\\d+)([ء-ي]+)`` costs
    quadratic time on a long run of what its first repeat takes (100,000 digits, say): each start scans to
    the run's end. Each pattern given here starts with a repeat ``X+`` and ``guard`` is ``(?<!X)``. A match
    that starts inside a run of ``X`` characters implies one at the run's start (``X+`` can take the
    characters before it too, and the rest is the same), so the leftmost match never starts where the
    guard refuses, except at the position where the previous match ended (the run may have begun inside
    that match), which is tried first: the matches are exactly ``re.sub``'s. None of the patterns matches
    the empty string.
    """

    def __init__(self, pattern: str, guard: str) -> None:
        self.pattern = re.compile(pattern)
        self._guarded = re.compile(guard + pattern)

    def finditer(self, text: str) -> Iterator[re.Match]:
        pos = 0
        while m := self.pattern.match(text, pos) or self._guarded.search(text, pos):
            yield m
            pos = m.end()


class _HtmlTags:
    """The matches of the reference's ``</?[^>]+>``, found in linear time.

    A match runs from a ``<`` to the first ``>`` after it, provided one character lies between. ``re`` scans
    to the end of the text from every ``<`` that no ``>`` follows (quadratic on ``<<<<…``); here the first
    ``>`` is found once for all the ``<`` before it, and the search stops when none is left.
    """

    pattern = re.compile(r"</?[^>]+>")

    def finditer(self, text: str) -> Iterator[re.Match]:
        pos, close = 0, -1
        while (i := text.find("<", pos)) != -1:
            if close <= i:
                close = text.find(">", i + 1)
                if close == -1:
                    return
            if close - i < 2:  # "<>": no character between
                pos = i + 1
                continue
            m = self.pattern.match(text, i)  # it ends at close, as said above
            yield m
            pos = m.end()


class _CharRefs:
    """The character references ``html.unescape`` decodes, each narrowed to the characters it consumes.

    A named reference without ``;`` that is not a name decodes its longest known prefix and keeps the rest
    (``&ampx`` → ``&x``); the match is cut to that prefix, so the rest keeps its own map.
    """

    def finditer(self, text: str) -> Iterator[re.Match]:
        for m in _CHARREF.finditer(text):
            name = m.group(1)
            if name[0] == "#" or name in _HTML5_ENTITIES:
                yield m
                continue
            for x in range(len(name) - 1, 1, -1):  # as html.unescape searches
                if name[:x] in _HTML5_ENTITIES:
                    yield re.compile(re.escape("&" + name[:x])).match(text, m.start())
                    break


# The reference's URL expressions, in its order. Its second one (``@(https?|ftp)://…$@iS``, a PHP-style
# pattern) is left out: ``$`` followed by ``@`` can never match, and its nested repeat backtracks
# exponentially on a long host name. The first one is searched by ``re`` itself: its repeat is bounded
# (256 characters), so a failed start costs a bounded amount and the search stays linear.
_URLS = (
    re.compile(r"(http(s)?:\/\/.)?(www\.)?[-a-zA-Z0-9@:%._\+~#=]{2,256}\.[a-z]{2,6}\b([-a-zA-Z0-9@:%_\+.~#?&//=]*)"),
    re.compile(r"http[s]?://[a-zA-Z0-9_\-./~\?=%&]+"),
    re.compile(r"www[a-zA-Z0-9_\-?=%&/.~]+"),
    _Leftmost(r"[a-zA-Z]+\.com", guard=r"(?<![a-zA-Z])"),
    re.compile(r"(?=http)[^\s]+"),
    re.compile(r"(?=www)[^\s]+"),
    re.compile(r"://"),
)
_EMAILS = (
    _Leftmost(r"[\w-]+@([\w-]+\.)+[\w-]+", guard=r"(?<![\w-])"),
    _Leftmost(r"\S+@\S+", guard=r"(?<!\S)"),
)
_MENTION = re.compile(r"@[\w\d]+")
_HTML_BREAK = re.compile("<br />")
# Letters (and Arabic-Indic digits and signs) that a digit run is split from, and the reverse.
_LETTERS = "\u0621-\u063a\u0641-\u064a\u0660-\u066c"
_DIGITS_THEN_LETTERS = _Leftmost(rf"(\d+)([{_LETTERS}]+)", guard=r"(?<!\d)")
_LETTERS_THEN_DIGITS = _Leftmost(rf"([{_LETTERS}]+)(\d+)", guard=rf"(?<![{_LETTERS}])")


@dataclass(frozen=True)
class PreprocessingConfig:
    """Which normalization steps run, in the fixed order of :func:`normalize` (the order of the fields).

    ``preset`` names where the defaults came from (``arabertv02`` or ``none``); the flags are the truth.
    """

    preset: str = "arabertv02"
    html_unescape: bool = True
    remove_invisible: bool = True
    strip_tashkeel: bool = True
    strip_tatweel: bool = True
    replace_urls_emails_mentions: bool = True
    remove_html_markup: bool = True
    map_indic_digits: bool = True
    map_persian_digits: bool = True
    remove_repetition: bool = True
    insert_white_spaces: bool = True
    replace_slash_with_dash: bool = True
    remove_rejected_chars: bool = True

    @classmethod
    def from_preset(cls, preset: str, **overrides: bool | None) -> PreprocessingConfig:
        """Build the settings of ``preset`` (``arabertv02`` or ``none``) with explicit overrides.

        Overrides that are ``None`` keep the preset's value.
        """
        flags = [f.name for f in dataclasses.fields(cls) if f.name != "preset"]
        if preset == "arabertv02":
            base = dict.fromkeys(flags, True)
        elif preset == "none":
            base = dict.fromkeys(flags, False)
        else:
            raise ValueError(
                f"unknown preprocessing preset {preset!r}: expected 'arabertv02' (the cleaning AraBERT v0.2/v2 "
                "was pretrained with; Farasa segmentation of the non-v02 v2 models is not supported) or 'none'"
            )
        unknown = set(overrides) - set(flags)
        if unknown:
            raise ValueError(f"unknown preprocessing step(s) {sorted(unknown)}; known: {flags}")
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(preset=preset, **base)

    def to_dict(self) -> dict[str, str | bool]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PreprocessingConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown preprocessing setting(s) {sorted(unknown)}; known: {sorted(known)}")
        # Settings files come with packages of any origin: a flag written "false" must not read as true.
        wrong = {k: v for k, v in data.items() if k != "preset" and not isinstance(v, bool)}
        if wrong or not isinstance(data.get("preset", ""), str):
            raise ValueError(f"preprocessing flags must be true or false, found {wrong or data['preset']!r}")
        return cls(**data)


Piece = int | slice | str


@dataclass
class MappedText:
    """A string whose every character remembers the original characters it came from.

    ``starts[i]``/``ends[i]`` are the original ``[start, end)`` of output character ``i``. An inserted
    space has an empty range; a placeholder such as ``[رابط]`` spans the whole URL it replaced.
    """

    text: str
    starts: list[int]
    ends: list[int]

    @classmethod
    def identity(cls, text: str) -> MappedText:
        return cls(text, list(range(len(text))), list(range(1, len(text) + 1)))

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the normalized span ``[start, end)`` (non-empty) to original offsets."""
        return self.starts[start], self.ends[end - 1]

    def sub(
        self, pattern: re.Pattern | _Finder, repl: Callable[[re.Match], Sequence[Piece]], absorb: bool = False
    ) -> MappedText:
        """Rewrite every match of ``pattern`` (anything with ``finditer``) and carry the character map along.

        ``repl(match)`` returns pieces: an ``int`` copies that group of the match with its map, a ``slice``
        copies those characters of this text with their map, a ``str`` is new text (whitespace is inserted
        with an empty range; other text maps to the whole match). With ``absorb``, the last output
        character so far (unless a space) widens to the end of the match, so a word whose diacritics,
        tatweel or repeated letters were deleted still covers them.
        """
        text, starts, ends = [], [], []
        pos = 0

        def copy(a: int, b: int) -> None:
            if a == b:
                return
            text.append(self.text[a:b])
            starts.extend(self.starts[a:b])
            ends.extend(self.ends[a:b])

        for m in pattern.finditer(self.text):
            copy(pos, m.start())
            whole = (self.starts[m.start()], self.ends[m.end() - 1])
            for piece in repl(m):
                if isinstance(piece, int):
                    copy(*m.span(piece))
                elif isinstance(piece, slice):
                    copy(piece.start, piece.stop)
                elif piece.isspace():
                    point = ends[-1] if ends else whole[0]
                    text.append(piece)
                    starts.extend([point] * len(piece))
                    ends.extend([point] * len(piece))
                else:
                    text.append(piece)
                    starts.extend([whole[0]] * len(piece))
                    ends.extend([whole[1]] * len(piece))
            if absorb and ends and not text[-1][-1].isspace():
                ends[-1] = max(ends[-1], whole[1])
            pos = m.end()
        copy(pos, len(self.text))
        return MappedText("".join(text), starts, ends)

    def translate(self, table: dict[int, int]) -> MappedText:
        """One-to-one character replacement: the map is unchanged."""
        return MappedText(self.text.translate(table), self.starts, self.ends)


def _delete(_m: re.Match) -> list[Piece]:
    return []


def _placeholder(kind: str) -> Callable[[re.Match], list[Piece]]:
    return lambda _m: [" ", _PLACEHOLDERS[kind], " "]


def _keep_two(m: re.Match) -> list[Piece]:
    # The run's first character, then its second: with absorb the second covers the rest of the run, so
    # the two characters map to disjoint ranges that cover it (the pieces become two words when
    # insert_white_spaces spaces them apart).
    return [1, slice(m.start() + 1, m.start() + 2)]


def normalize(text: str, config: PreprocessingConfig) -> MappedText:
    """Apply the configured normalization to ``text`` and return it with its character map.

    The steps and their order are ``ArabertPreprocessor._preprocess_v2``'s (see the module docstring). The
    result never has leading, trailing or repeated whitespace, so ``result.text.split(" ")`` are its words.
    """
    mt = MappedText.identity(text)
    if config.html_unescape:
        mt = mt.sub(_CharRefs(), lambda m: [html.unescape(m.group())])
    if config.remove_invisible:
        mt = mt.sub(_INVISIBLE, _delete, absorb=True)
    if config.strip_tashkeel:
        mt = mt.sub(_TASHKEEL, _delete, absorb=True)
    if config.strip_tatweel:
        mt = mt.sub(_TATWEEL, _delete, absorb=True)
    if config.replace_urls_emails_mentions:
        for pattern in _URLS:
            mt = mt.sub(pattern, _placeholder("url"))
        for pattern in _EMAILS:
            mt = mt.sub(pattern, _placeholder("email"))
        mt = mt.sub(_MENTION, _placeholder("mention"))
    if config.remove_html_markup:
        mt = mt.sub(_HTML_BREAK, lambda m: [" "])
        mt = mt.sub(_HtmlTags(), lambda m: [" "])
    if config.map_indic_digits:
        mt = mt.translate(_INDIC_DIGITS)
    if config.map_persian_digits:
        mt = mt.translate(_PERSIAN_DIGITS)
    if config.remove_repetition:
        mt = mt.sub(_REPEAT, _keep_two, absorb=True)
    if config.insert_white_spaces:
        mt = mt.sub(_SPACE_OUT, lambda m: [" ", 1, " "])
        mt = mt.sub(_DIGITS_THEN_LETTERS, lambda m: [" ", 1, " ", 2, " "])
        mt = mt.sub(_LETTERS_THEN_DIGITS, lambda m: [" ", 1, " ", 2, " "])
    if config.replace_slash_with_dash:
        mt = mt.translate({ord("/"): ord("-")})
    if config.remove_rejected_chars:
        # (The reference deletes U+FE0F after this; it is a space by then.)
        mt = mt.sub(_REJECTED, lambda m: [" "])
    # Collapse whitespace last: every whitespace run becomes one space mapped to its first character.
    mt = mt.sub(_WHITESPACE, lambda m: [" "])
    return _strip(mt)


def _strip(mt: MappedText) -> MappedText:
    a, b = 0, len(mt.text)
    while a < b and mt.text[a] == " ":
        a += 1
    while b > a and mt.text[b - 1] == " ":
        b -= 1
    return MappedText(mt.text[a:b], mt.starts[a:b], mt.ends[a:b])


@dataclass(frozen=True)
class Words:
    """The words of a normalized text: ``spans[i]`` is word ``i``'s ``[start, end)`` in ``mapped.text``."""

    mapped: MappedText
    spans: list[tuple[int, int]]

    @property
    def original_spans(self) -> list[tuple[int, int]]:
        return [self.mapped.original_span(a, b) for a, b in self.spans]

    def char_to_word(self) -> list[int]:
        """For each character of ``mapped.text``, its word index (``-1`` on spaces)."""
        index = [-1] * len(self.mapped.text)
        for w, (a, b) in enumerate(self.spans):
            index[a:b] = [w] * (b - a)
        return index


def split_words(text: str, config: PreprocessingConfig) -> Words:
    """Normalize ``text`` and cut it into whitespace words (clitics stay attached, as in ANERcorp)."""
    mapped = normalize(text, config)
    spans = [m.span() for m in re.finditer(r"\S+", mapped.text)]
    return Words(mapped, spans)

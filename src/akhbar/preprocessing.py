"""Arabic normalization that keeps a map back to the original characters.

AraBERT v0.2/v2 was pretrained on text cleaned by ``ArabertPreprocessor`` (strip tashkeel and tatweel,
replace URLs/e-mails/mentions, drop HTML markup, map Arabic-Indic digits, space out punctuation and
Latin/digit runs, drop characters outside its alphabet, collapse spaces). A model sees text the way it was
pretrained, but users want entity offsets into *their* text. So every step here edits a
:class:`MappedText`, which carries for each output character the ``[start, end)`` range of original
characters it came from; a span of the normalized text maps back with :meth:`MappedText.original_span`.

The same :func:`normalize` with the same saved :class:`PreprocessingConfig` runs in training, evaluation
and inference (the settings travel inside the packaged checkpoint).

The steps are re-implemented rather than calling ``ArabertPreprocessor`` because that class returns only
a string: it loses the character map this module exists for.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Arabic letters hamza..ghain and feh..yeh (no tatweel), as AraBERT's cleaning uses them.
_AR = "\u0621-\u063a\u0641-\u064a"
_TASHKEEL = re.compile("[\u064b-\u0652]+")  # fathatan .. sukun
_TATWEEL = re.compile("\u0640+")
# Invisible format characters users paste from the web: zero-width space/joiners, LRM/RLM, ALM,
# bidi embeddings and isolates, BOM. ArabertPreprocessor would turn them into spaces and split the word
# they hide in; we delete them and keep the word whole (an akhbar addition).
_INVISIBLE = re.compile("[\u200b-\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff\u00ad]+")
_HTML_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]+|\b[A-Za-z0-9.-]+\.(?:com|org|net|gov|edu|info)\b(?:/[^\s<>\"]*)?")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_MENTION = re.compile(r"(?<![\w@])@\w+")
_INDIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_REPEAT = re.compile(r"(\D)\1{2,}")
# Everything that is not an Arabic letter, an ASCII digit or letter, a bracket of the placeholder tokens
# or whitespace is a separate word.
_SPACE_OUT = re.compile(rf"([^0-9{_AR}\u0660-\u0669a-zA-Z\[\]\s])")
_DIGITS_THEN_LETTERS = re.compile(rf"([0-9]+)([{_AR}]+)")
_LETTERS_THEN_DIGITS = re.compile(rf"([{_AR}]+)([0-9]+)")
# The alphabet AraBERT v0.2 kept; anything else becomes a space.
_REJECTED = re.compile(
    "[^0-9\u0621-\u063a\u0640-\u066c\u0671-\u0674a-zA-Z\\[\\]!\"#$%'()*+,.:;\\-<=·>?@\\\\^_`{|}~—٪’،؟“؛”»«–…‘\\s]"
)
_WHITESPACE = re.compile(r"\s+")
_PLACEHOLDERS = {"url": "[رابط]", "email": "[بريد]", "mention": "[مستخدم]"}


@dataclass(frozen=True)
class PreprocessingConfig:
    """Which normalization steps run, in the fixed order of :func:`normalize`.

    ``preset`` names where the defaults came from (``arabertv02`` or ``none``); the flags are the truth.
    """

    preset: str = "arabertv02"
    remove_invisible: bool = True
    html_unescape: bool = True
    strip_tashkeel: bool = True
    strip_tatweel: bool = True
    replace_urls_emails_mentions: bool = True
    remove_html_markup: bool = True
    map_indic_digits: bool = True
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
        return cls(**data)


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

    def sub(self, pattern: re.Pattern, repl: Callable[[re.Match], Sequence[int | str]], absorb: bool = False):
        """Rewrite every match of ``pattern`` and carry the character map along.

        ``repl(match)`` returns pieces: an ``int`` copies that group of the match with its map, a ``str``
        is new text (whitespace is inserted with an empty range; other text maps to the whole match).
        With ``absorb``, the last output character so far (unless a space) widens to the end of the match,
        so a word whose diacritics, tatweel or repeated letters were deleted still covers them.
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
            pieces = repl(m)
            for piece in pieces:
                if isinstance(piece, int):
                    copy(*m.span(piece))
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


def _delete(_m: re.Match) -> list:
    return []


def normalize(text: str, config: PreprocessingConfig) -> MappedText:
    """Apply the configured normalization to ``text`` and return it with its character map.

    The result never has leading, trailing or repeated whitespace, so ``result.text.split(" ")`` are its
    words.
    """
    mt = MappedText.identity(text)
    if config.remove_invisible:
        mt = mt.sub(_INVISIBLE, _delete, absorb=True)
    if config.html_unescape:
        mt = mt.sub(_HTML_ENTITY, lambda m: [html.unescape(m.group())])
    if config.strip_tashkeel:
        mt = mt.sub(_TASHKEEL, _delete, absorb=True)
    if config.strip_tatweel:
        mt = mt.sub(_TATWEEL, _delete, absorb=True)
    if config.replace_urls_emails_mentions:
        for kind, pattern in (("url", _URL), ("email", _EMAIL), ("mention", _MENTION)):
            mt = mt.sub(pattern, lambda m, k=kind: [" ", _PLACEHOLDERS[k], " "])
    if config.remove_html_markup:
        mt = mt.sub(_HTML_TAG, lambda m: [" "])
    if config.map_indic_digits:
        mt = mt.translate(_INDIC_DIGITS)
    if config.remove_repetition:
        mt = mt.sub(_REPEAT, lambda m: [1, 1], absorb=True)
    if config.insert_white_spaces:
        mt = mt.sub(_SPACE_OUT, lambda m: [" ", 1, " "])
        mt = mt.sub(_DIGITS_THEN_LETTERS, lambda m: [1, " ", 2])
        mt = mt.sub(_LETTERS_THEN_DIGITS, lambda m: [1, " ", 2])
    if config.replace_slash_with_dash:
        mt = mt.translate({ord("/"): ord("-")})
    if config.remove_rejected_chars:
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

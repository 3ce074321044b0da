"""From words to model windows and back: label alignment, sliding windows, and the merge of predictions.

An article is normalized and cut into whitespace words (:mod:`akhbar.preprocessing`). The fast tokenizer
reads the normalized text with ``return_overflowing_tokens`` and ``stride``, so an article of any length
becomes overlapping windows of at most ``max_length`` tokens and nothing is truncated away. Each
token's offsets say which word it belongs to; the first sub-token of a word carries the word's label,
other sub-tokens carry ``-100`` (ignored by the loss), or with ``label_all_tokens`` the word's label with
``B-`` turned into ``I-``. Metrics and inference read each word's first sub-token either way.

Consecutive windows share ``stride`` tokens, so a word can be read twice. Validation and inference merge the
windows as transformers' token-classification pipeline merges its chunks (:func:`merge_entities`): each
window's words are read into entities, and of two overlapping entities the longer is kept (BENCHMARKS.md,
"Window merge": +0.5 strict F1 on long articles over keeping, word by word, the window where the word had
the most context, :func:`merge_windows`, which still scores the words outside every entity).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from .labels import tags_to_spans
from .preprocessing import PreprocessingConfig, Words, split_words

logger = logging.getLogger(__name__)

IGNORE = -100


@dataclass
class AlignmentStats:
    """What turning character spans into word labels cost, so warnings can measure it."""

    entities: int = 0
    extended_to_word: int = 0  # span started or ended inside a word (e.g. a clitic left out)
    lost_no_word: int = 0  # span covers no word after normalization
    lost_conflict: int = 0  # span shares its only words with another span
    words_without_token: int = 0  # the tokenizer produced no token for the word
    examples: list[str] = field(default_factory=list)

    def add(self, other: AlignmentStats) -> None:
        for name in ("entities", "extended_to_word", "lost_no_word", "lost_conflict", "words_without_token"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.examples.extend(other.examples[: max(0, 5 - len(self.examples))])

    @property
    def lost(self) -> int:
        return self.lost_no_word + self.lost_conflict


def word_tags(words: Words, entities: Sequence[dict], stats: AlignmentStats | None = None) -> list[str]:
    """IOB2 tags for ``words`` from gold character spans in the original text.

    A word belongs to an entity when their original character ranges overlap, so a span that leaves out a
    clitic (``و`` + ``بيروت``) still labels the whole word, as ANERcorp does.
    """
    stats = stats if stats is not None else AlignmentStats()
    original = words.original_spans
    tags = ["O"] * len(original)
    owner = [-1] * len(original)
    for e_index, ent in enumerate(entities):
        stats.entities += 1
        covered = [w for w, (a, b) in enumerate(original) if a < ent["end"] and ent["start"] < b]
        free = [w for w in covered if owner[w] == -1]
        if not covered:
            stats.lost_no_word += 1
            stats.examples.append(f"span [{ent['start']}, {ent['end']}) {ent['label']} covers no word")
            continue
        if not free:
            stats.lost_conflict += 1
            stats.examples.append(f"span [{ent['start']}, {ent['end']}) {ent['label']} shares its words")
            continue
        if original[covered[0]][0] < ent["start"] or original[covered[-1]][1] > ent["end"]:
            stats.extended_to_word += 1
        for i, w in enumerate(free):
            owner[w] = e_index
            tags[w] = ("B-" if i == 0 else "I-") + ent["label"]
    return tags


@dataclass
class EncodedArticle:
    """The windows of one article: token ids, and for each token the word whose first sub-token it is."""

    input_ids: list[list[int]]
    word_index: list[list[int]]  # per window, per token: word index if first sub-token of that word, else -1
    cut_left: list[bool]  # the window starts after the article's first token
    cut_right: list[bool]  # the window ends before the article's last token
    num_words: int
    token_word: list[list[int]]  # per window, per token: the word it belongs to, or -1 (special tokens)


def encode_words(tokenizer, words: Words, max_length: int, stride: int, marker: Sequence[int] = ()) -> EncodedArticle:
    """Tokenize normalized words into overlapping windows (``max_length`` tokens with specials).

    ``marker``: token ids every window carries right after its first special token (``[CLS] marker ...``),
    belonging to no word: what a model conditioned on something besides the text reads it from (the event
    type of :mod:`akhbar.tasks.arguments`, see :func:`marker_ids`). The windows are shorter by its length.

    Raises:
        ValueError: ``stride`` leaves no room for new tokens in a window.
    """
    specials = tokenizer.num_special_tokens_to_add() + len(marker)
    if not 0 <= stride < max_length - specials:
        raise ValueError(
            f"stride {stride} must be at least 0 and below max_length - {specials} special and marker tokens "
            f"= {max_length - specials}, so that each window adds new tokens"
        )
    text = words.mapped.text
    encoding = tokenizer(
        text,
        truncation=True,
        max_length=max_length - len(marker),
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
    )
    char_to_word = words.char_to_word()
    word_starts = [a for a, _ in words.spans]
    n = len(encoding["input_ids"])
    windows = EncodedArticle(
        input_ids=[], word_index=[], cut_left=[], cut_right=[], num_words=len(words.spans), token_word=[]
    )
    for k in range(n):
        offsets = encoding["offset_mapping"][k]
        special = encoding["special_tokens_mask"][k]
        # The first non-space character of each token names its word (SentencePiece tokens may start with the
        # space before the word).
        first_char = [
            None if is_special else next((c for c in range(a, b) if char_to_word[c] >= 0), None)
            for (a, b), is_special in zip(offsets, special)
        ]
        index, owner, seen = [], [], set()
        for p, c in enumerate(first_char):
            w = o = -1
            if c is not None:
                o = char_to_word[c]
                # The token holding the word's first character is the word's first sub-token, once. When the
                # next token starts at the same character, the later one counts: this one is then a lone "▁"
                # marker piece. XLM-R-style tokenizers in transformers 5 split at whitespace, then Metaspace
                # prepends "▁", which for a word the vocabulary spells as "▁" + pieces becomes a token of its own,
                # given the word's first character as offsets. The piece after it holds the word's content (and
                # is the token transformers' pipeline reads as the word's first).
                marker_piece = p + 1 < len(first_char) and first_char[p + 1] == c
                if c == word_starts[o] and o not in seen and not marker_piece:
                    w = o
                    seen.add(w)
            index.append(w)
            owner.append(o)
        ids = list(encoding["input_ids"][k])
        if marker:
            ids = ids[:1] + list(marker) + ids[1:]
            index = index[:1] + [-1] * len(marker) + index[1:]
            owner = owner[:1] + [-1] * len(marker) + owner[1:]
        windows.input_ids.append(ids)
        windows.word_index.append(index)
        windows.token_word.append(owner)
        windows.cut_left.append(k > 0)
        windows.cut_right.append(k < n - 1)
    return windows


def marker_ids(tokenizer, text: str) -> list[int]:
    """The ids of a marker for :func:`encode_words`: ``text``'s tokens and a separator, so that a window reads
    ``[CLS] text [SEP] words ... [SEP]`` as a BERT sentence pair does.

    Raises:
        ValueError: the tokenizer adds no special token at the start of a text (the marker goes after it), or has
            no separator token.
    """
    probe = tokenizer("a")["input_ids"]
    separator = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    if not probe or probe[0] not in tokenizer.all_special_ids or separator is None:
        raise ValueError(
            f"{type(tokenizer).__name__} starts a text with no special token or has no separator; a marker "
            "(the event type) needs [CLS]-style and [SEP]-style tokens"
        )
    return tokenizer(text, add_special_tokens=False)["input_ids"] + [separator]


def event_markers(tokenizer, events: Sequence[str]) -> dict[str, list[int]]:
    """The marker ids of each event type (:func:`marker_ids`), checked to tell the types apart.

    Raises:
        ValueError: the tokenizer reads an event type as unknown tokens, or two types as the same tokens: the
            model could not tell them apart.
    """
    markers = {event: marker_ids(tokenizer, event) for event in events}
    unknown = [e for e, ids in markers.items() if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in ids]
    by_ids: dict[tuple[int, ...], list[str]] = {}
    for event, ids in markers.items():
        by_ids.setdefault(tuple(ids), []).append(event)
    same = next((events for events in by_ids.values() if len(events) > 1), None)
    if unknown or same:
        what = f"as unknown tokens: {', '.join(unknown)}" if unknown else f"the same: {' and '.join(same)}"
        raise ValueError(
            f"the tokenizer reads event types {what}; an argument model reads the event type as text, so each "
            "must be a word the vocabulary spells (rename the event labels, e.g. in Arabic)"
        )
    return markers


def missing_words(encoded: EncodedArticle) -> list[int]:
    """Words that no window holds a first sub-token for (the tokenizer dropped them entirely)."""
    seen = {w for index in encoded.word_index for w in index if w >= 0}
    return [w for w in range(encoded.num_words) if w not in seen]


def merge_windows(
    word_index: Sequence[Sequence[int]],
    cut_left: Sequence[bool],
    cut_right: Sequence[bool],
    num_words: int,
) -> list[tuple[int, int] | None]:
    """Choose, for every word, the ``(window, position)`` whose prediction to keep.

    The chosen window is the one where the word's first sub-token is farthest from a cut edge (an edge
    that is the start or end of the article is no cut). Ties go to the earlier window. ``None`` marks a
    word that no window holds.
    """
    best: list[tuple[int, int] | None] = [None] * num_words
    best_margin = [-1.0] * num_words
    for k, index in enumerate(word_index):
        content = [p for p, w in enumerate(index) if w >= 0]
        if not content:
            continue
        # Distances are counted in tokens from the window's first and last word-initial sub-tokens.
        first, last = content[0], content[-1]
        for p, w in enumerate(index):
            if w < 0:
                continue
            left = p - first if cut_left[k] else float("inf")
            right = last - p if cut_right[k] else float("inf")
            margin = min(left, right)
            if margin > best_margin[w]:
                best_margin[w] = margin
                best[w] = (k, p)
    return best


def merge_entities(
    word_index: Sequence[Sequence[int]],
    tags: Sequence[Sequence[str]],
    scores: Sequence[Sequence[float]],
    cut_left: Sequence[bool],
    cut_right: Sequence[bool],
    num_words: int,
) -> tuple[list[str], list[float]]:
    """Word tags and scores from overlapping windows, merged entity by entity as transformers'
    token-classification pipeline merges its chunks.

    ``tags[k][p]`` / ``scores[k][p]``: the tag and its probability at position ``p`` of window ``k`` (read where
    ``word_index[k][p] >= 0``). Each window's words are read into entities on their own (:func:`tags_to_spans`,
    an entity's score the mean of its words'); then, in order of their first word, an entity that starts inside
    the one kept before replaces it when it is longer, or as long with a higher score
    (``TokenClassificationPipeline.aggregate_overlapping_entities``: a method of a pipeline, which needs a model
    and a tokenizer to exist, so its rule is written here on words; tests/test_windows.py checks the two agree
    on random windows). An entity one window cut short at its edge loses to the whole
    entity the next window reads, and an entity that only one of two windows finds is kept. Words in no kept
    entity are ``O``, scored by the window :func:`merge_windows` picks for them; a word no window holds (the
    tokenizer gave it no token) scores ``0.0``, and is inside an entity when the words on both sides are. The words
    of a kept entity keep its window's tags (``I-`` where the model began it so), except that an entity that
    follows one of its type from another window begins with ``B-``.
    """
    found: list[tuple[int, int, str, float, int]] = []  # (first word, end word, type, score, window)
    where: list[dict[int, int]] = []  # per window: word -> the position of its first sub-token there
    for k, index in enumerate(word_index):
        positions = [p for p, w in enumerate(index) if w >= 0]
        window_words = [index[p] for p in positions]
        where.append(dict(zip(window_words, positions)))
        for a, b, kind in tags_to_spans([tags[k][p] for p in positions]):
            score = sum(scores[k][p] for p in positions[a:b]) / (b - a)
            found.append((window_words[a], window_words[b - 1] + 1, kind, score, k))
    found.sort(key=lambda e: e[0])  # stable: windows in order for entities that start at the same word
    kept: list[tuple[int, int, str, float, int]] = []
    for entity in found:
        if kept and kept[-1][0] <= entity[0] < kept[-1][1]:
            previous = kept[-1]
            longer = entity[1] - entity[0] > previous[1] - previous[0]
            if longer or (entity[1] - entity[0] == previous[1] - previous[0] and entity[3] > previous[3]):
                kept[-1] = entity
        else:
            kept.append(entity)
    out_tags = ["O"] * num_words
    out_scores = [0.0] * num_words
    for w, pick in enumerate(merge_windows(word_index, cut_left, cut_right, num_words)):
        if pick is not None:
            out_scores[w] = float(scores[pick[0]][pick[1]])
    for first, end, kind, _, k in kept:
        for w in range(first, end):
            # The window's own tags, not IOB2 rewritten from the span: a strict reading still sees an entity the
            # model began with I- (evaluation counts it as found only leniently), and the lenient reading gives
            # the kept spans.
            out_tags[w] = tags[k][where[k][w]] if w in where[k] else "I-" + kind
            out_scores[w] = float(scores[k][where[k][w]]) if w in where[k] else 0.0
        if out_tags[first] == "I-" + kind and first > 0 and out_tags[first - 1][2:] == kind:
            out_tags[first] = "B-" + kind  # it follows an entity of its type from another window: keep them apart
    return out_tags, out_scores


def window_labels(
    encoded: EncodedArticle, tags: Sequence[str], label2id: dict[str, int], all_tokens: bool = False
) -> list[list[int]]:
    """Per-window label ids: the word's tag on its first sub-token; ``-100`` on special tokens and on the
    word's other sub-tokens, or (``all_tokens``) the word's tag there too, ``B-`` turned into ``I-``, so that
    every sub-token of an entity is trained to be inside it (what a sub-token decoder such as the pipeline's
    ``aggregation_strategy="simple"`` reads)."""
    out = []
    for index, owner in zip(encoded.word_index, encoded.token_word):
        row = []
        for w, o in zip(index, owner):
            if w >= 0:
                row.append(label2id[tags[w]])
            elif all_tokens and o >= 0:
                row.append(label2id["I-" + tags[o][2:] if tags[o].startswith("B-") else tags[o]])
            else:
                row.append(IGNORE)
        out.append(row)
    return out


def encode_article(
    tokenizer,
    text: str,
    preprocessing: PreprocessingConfig,
    max_length: int,
    stride: int,
    marker: Sequence[int] = (),
) -> tuple[Words, EncodedArticle]:
    """Normalize, split into words and window one article (the path training and inference share)."""
    words = split_words(text, preprocessing)
    return words, encode_words(tokenizer, words, max_length, stride, marker)

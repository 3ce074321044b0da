"""What both sides of the benchmark share: reading CoNLL sentences and scoring word tags per sentence."""

from __future__ import annotations

from collections.abc import Sequence

from akhbar.articles import read_articles


def token_offsets(text: str) -> list[tuple[int, int]]:
    """Character spans of the single-space-separated tokens of a CoNLL sentence's text."""
    spans, pos = [], 0
    for token in text.split(" "):
        spans.append((pos, pos + len(token)))
        pos += len(token) + 1
    return spans


def spans_to_tags(text: str, entities: Sequence[dict]) -> list[str]:
    """IOB2 tags for the tokens of ``text`` from character spans (a token overlapping a span belongs to it)."""
    offsets = token_offsets(text)
    tags = ["O"] * len(offsets)
    for ent in sorted(entities, key=lambda e: e["start"]):
        inside = [i for i, (a, b) in enumerate(offsets) if a < ent["end"] and ent["start"] < b and tags[i] == "O"]
        for k, i in enumerate(inside):
            tags[i] = ("B-" if k == 0 else "I-") + ent["label"]
    return tags


def conll_sentences(path) -> tuple[list[list[str]], list[list[str]]]:
    """Tokens and IOB2 tags of every valid sentence of a CoNLL file (a sentence with a bad line is skipped
    and reported, as in akhbar's training)."""
    articles, _ = read_articles(path, skip_invalid=True)
    return [a["text"].split(" ") for a in articles], [spans_to_tags(a["text"], a["entities"]) for a in articles]


def label_list(tags: Sequence[Sequence[str]]) -> list[str]:
    """``run_ner.py``'s label list: the sorted set of tags seen in training."""
    return sorted({t for sentence in tags for t in sentence})

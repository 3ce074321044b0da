"""Sentences as spans of the original text: Arabic punctuation, line breaks, numbers and abbreviations."""

import re

import pytest
from conftest import SHARED
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import web_text

from akhbar.sentences import sentence_spans

ANT = SHARED / "antcorpus"


def sentences(text):
    return [text[a:b] for a, b in sentence_spans(text)]


def assert_nothing_lost(text):
    """Spans in order and disjoint, with no whitespace at their edges; every other character in one span."""
    spans = sentence_spans(text)
    covered = [False] * len(text)
    last = 0
    for a, b in spans:
        assert last <= a < b <= len(text)
        assert not text[a].isspace() and not text[b - 1].isspace()
        covered[a:b] = [True] * (b - a)
        last = b
    assert all(covered[i] or c.isspace() for i, c in enumerate(text)), text


def test_arabic_punctuation_line_breaks_numbers_and_abbreviations():
    text = (
        "قال د. محمد إن النمو بلغ 3.5% هذا العام. وأضاف: «سنواصل العمل!» هل ستنجح الخطة؟ نعم؛ بالتأكيد...\n"
        "سطر بلا نقطة\r\n\n  وصل ع. حسن إلى عمّان. U.S. officials said no."
    )
    assert sentences(text) == [
        "قال د. محمد إن النمو بلغ 3.5% هذا العام.",
        "وأضاف: «سنواصل العمل!»",
        "هل ستنجح الخطة؟",
        "نعم؛",
        "بالتأكيد...",
        "سطر بلا نقطة",
        "وصل ع. حسن إلى عمّان.",
        "U.S. officials said no.",
    ]
    assert sentences("") == [] and sentences("  \n ") == [] and sentences("كلمة") == ["كلمة"]
    assert sentences("بلغ العدد 1.000.000 شخص. ثم") == ["بلغ العدد 1.000.000 شخص.", "ثم"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.one_of(web_text, st.sampled_from([". ", "؟ ", "! ", "؛ ", "...", "\n", "د. ", "3.5"])), max_size=8))
def test_no_character_is_lost_on_generated_text(parts):
    assert_nothing_lost("".join(parts))


@pytest.mark.skipif(not ANT.is_dir(), reason="../shared/data/antcorpus is not present")
def test_no_character_is_lost_on_real_ant_articles():
    files = sorted(ANT.rglob("*.txt"))[:400]
    assert files
    splits = 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert_nothing_lost(text)
        splits += len(sentence_spans(text))
        # No sentence ends inside a number such as 3.5 or 2.000.
        for a, b in sentence_spans(text):
            assert not re.match(r"\d", text[b : b + 1]) or not text[b - 1].isdigit(), (path, text[a:b])
    assert splits > len(files)

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import TokenClassificationPipeline

from akhbar.inference import plan_batches
from akhbar.labels import bio_labels, tags_to_spans
from akhbar.preprocessing import PreprocessingConfig, split_words
from akhbar.windows import (
    IGNORE,
    AlignmentStats,
    encode_article,
    merge_entities,
    merge_windows,
    missing_words,
    window_labels,
    word_tags,
)

ARABERT = PreprocessingConfig()
LABELS = bio_labels(["PERS", "LOC", "ORG", "MISC"])
LABEL2ID = {label: i for i, label in enumerate(LABELS)}


def long_article(sample_articles, n=6):
    """Several sample articles glued into one long article, with their entities shifted."""
    text, entities = "", []
    for article in sample_articles[:n]:
        offset = len(text)
        text += article["text"] + "\n\n"
        entities += [{**e, "start": e["start"] + offset, "end": e["end"] + offset} for e in article["entities"]]
    return text, entities


@pytest.mark.parametrize(("max_length", "stride"), [(16, 4), (24, 11), (32, 0), (64, 16), (512, 64)])
def test_windows_keep_every_word_and_entity_exactly_once(tiny_tokenizer, sample_articles, max_length, stride):
    text, entities = long_article(sample_articles)
    words, enc = encode_article(tiny_tokenizer, text, ARABERT, max_length, stride)
    assert all(len(ids) <= max_length for ids in enc.input_ids)
    assert missing_words(enc) == []
    if max_length < 512:
        assert len(enc.input_ids) > 1
    tags = word_tags(words, entities)
    labels = window_labels(enc, tags, LABEL2ID)
    # Merge: every word gets exactly one (window, position), and it holds that word's first sub-token.
    picks = merge_windows(enc.word_index, enc.cut_left, enc.cut_right, enc.num_words)
    assert all(p is not None for p in picks)
    for w, (k, p) in enumerate(picks):
        assert enc.word_index[k][p] == w
    # Reading the gold labels back through the merge gives every entity, none twice, none lost.
    merged = [LABELS[labels[k][p]] for k, p in picks]
    assert merged == tags
    spans = words.original_spans
    recovered = [{"start": spans[a][0], "end": spans[b - 1][1], "label": t} for a, b, t in tags_to_spans(merged)]
    assert recovered == entities


def test_merge_prefers_the_window_with_more_context():
    # Word 2 sits at the right edge of window 0 and in the middle of window 1.
    word_index = [[-1, 0, 1, 2, -1], [-1, 1, 2, 3, 4, -1]]
    picks = merge_windows(word_index, cut_left=[False, True], cut_right=[True, False], num_words=5)
    assert picks == [(0, 1), (0, 2), (1, 2), (1, 3), (1, 4)]


def test_merge_entities_reads_gold_back(tiny_tokenizer, sample_articles):
    text, entities = long_article(sample_articles)
    words, enc = encode_article(tiny_tokenizer, text, ARABERT, 24, 11)
    labels = window_labels(enc, word_tags(words, entities), LABEL2ID)
    tags = [[LABELS[y] if y != IGNORE else "O" for y in row] for row in labels]
    scores = [[1.0] * len(row) for row in labels]
    merged, _ = merge_entities(enc.word_index, tags, scores, enc.cut_left, enc.cut_right, enc.num_words)
    assert merged == word_tags(words, entities)


def test_merge_entities_keeps_the_whole_entity_over_its_cut_piece():
    # Window 0 ends after word 3, window 1 reads words 2-5. Window 0 sees only the start of "3 4" (PERS) and a
    # LOC at word 1 that window 1 does not hold; window 1 sees "3 4" whole and an ORG at word 5.
    word_index = [[-1, 0, 1, 2, 3, -1], [-1, 2, 3, 4, 5, -1]]
    tags = [["O", "O", "B-LOC", "O", "B-PERS", "O"], ["O", "O", "B-PERS", "I-PERS", "B-ORG", "O"]]
    scores = [[0.0, 0.9, 0.8, 0.7, 0.6, 0.0], [0.0, 0.5, 0.9, 0.9, 0.4, 0.0]]
    merged, merged_scores = merge_entities(word_index, tags, scores, [False, True], [True, False], 6)
    assert merged == ["O", "B-LOC", "O", "B-PERS", "I-PERS", "B-ORG"]
    assert merged_scores == [0.9, 0.8, 0.7, 0.9, 0.9, 0.4]  # an entity's words scored by its own window


def test_merge_entities_keeps_the_models_own_tags():
    # Window 0 begins an entity with I-LOC (strict IOB2 does not count it, lenient does): the merge must not
    # rewrite it to B-LOC. Window 1's LOC at word 3 follows window 0's LOC at word 2: it begins with B- to stay
    # a separate entity.
    word_index = [[-1, 0, 1, 2, -1], [-1, 3, 4, -1]]
    tags = [["O", "I-LOC", "O", "B-LOC", "O"], ["O", "I-LOC", "O", "O"]]
    scores = [[0.0, 0.6, 0.9, 0.7, 0.0], [0.0, 0.8, 0.9, 0.0]]
    merged, _ = merge_entities(word_index, tags, scores, [False, True], [True, False], 5)
    assert merged == ["I-LOC", "O", "B-LOC", "B-LOC", "O"]
    assert tags_to_spans(merged) == [(0, 1, "LOC"), (2, 3, "LOC"), (3, 4, "LOC")]


def test_merge_entities_spans_a_word_without_token():
    # Word 1 got no token from the tokenizer: the entity around it takes it in, scored 0.0 (it raised KeyError).
    word_index = [[-1, 0, 2, -1]]
    merged, merged_scores = merge_entities(
        word_index, [["O", "B-LOC", "I-LOC", "O"]], [[0.0, 0.8, 0.6, 0.0]], [False], [False], 3
    )
    assert merged == ["B-LOC", "I-LOC", "I-LOC"] and merged_scores == [0.8, 0.0, 0.6]


@settings(max_examples=200, deadline=None)
@given(
    windows=st.lists(
        st.lists(st.sampled_from(["O", "B-PERS", "I-PERS", "B-LOC", "I-LOC"]), min_size=3, max_size=8),
        min_size=1,
        max_size=4,
    ),
    overlap=st.integers(min_value=0, max_value=2),
    scores=st.lists(st.sampled_from([0.25, 0.5, 0.75, 1.0]), min_size=32, max_size=32),
)
def test_merge_entities_is_the_pipelines_overlap_rule(windows, overlap, scores):
    # Windows of consecutive words, each sharing `overlap` words with the one before; entities compared with
    # transformers' own aggregate_overlapping_entities run on word offsets.
    word_index, tags, window_scores, start, found = [], [], [], 0, []
    for k, window in enumerate(windows):
        start = 0 if k == 0 else max(0, start + len(windows[k - 1]) - overlap)
        words = list(range(start, start + len(window)))
        word_index.append([-1, *words, -1])
        tags.append(["O", *window, "O"])
        window_scores.append([0.0, *(scores[(w * 7 + k) % 32] for w in words), 0.0])
        for a, b, kind in tags_to_spans(window):
            mean = sum(window_scores[-1][1 + a : 1 + b]) / (b - a)
            found.append({"start": words[a], "end": words[b - 1] + 1, "entity_group": kind, "score": mean})
    num_words = max(max(index) for index in word_index) + 1
    cut_left = [k > 0 for k in range(len(windows))]
    cut_right = [k < len(windows) - 1 for k in range(len(windows))]
    merged, _ = merge_entities(word_index, tags, window_scores, cut_left, cut_right, num_words)
    expected = TokenClassificationPipeline.aggregate_overlapping_entities(None, found) if found else []
    assert [(a, b, kind) for a, b, kind in tags_to_spans(merged)] == [
        (e["start"], e["end"], e["entity_group"]) for e in expected
    ]


def test_a_lone_marker_piece_is_not_the_words_first_sub_token():
    # XLM-R-style tokenizers in transformers 5 split at whitespace, then Metaspace prepends "▁": a word the
    # vocabulary spells "▁" + pieces gets a lone "▁" token whose offsets are the word's first character, shared
    # with the piece after it. That piece (the word's content, and what the pipeline reads) is the one labelled.
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0), ("▁في", -1.0)]
    vocab += [(piece, -3.0) for piece in ("موز", "مبي", "ق")]
    backend = Tokenizer(models.Unigram(vocab, unk_id=3))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace()])
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )
    text = "في موزمبيق في"
    encoding = tokenizer(text, return_offsets_mapping=True)
    assert tokenizer.convert_ids_to_tokens(encoding["input_ids"])[2:4] == ["▁", "موز"]
    assert encoding["offset_mapping"][2] == (3, 4) and encoding["offset_mapping"][3][0] == 3
    _, enc = encode_article(tokenizer, text, ARABERT, 512, 0)
    assert enc.word_index == [[-1, 0, -1, 1, -1, -1, 2, -1]]  # word 1 on "موز", not on the "▁" before it
    assert enc.token_word == [[-1, 0, 1, 1, 1, 1, 2, -1]]  # the "▁" piece still belongs to word 1


def test_only_first_subtoken_is_labelled(tiny_tokenizer):
    text = "استقبلت بالقاهرة وفود الاتحاد"
    words, enc = encode_article(tiny_tokenizer, text, ARABERT, 64, 8)
    tags = word_tags(words, [{"start": 8, "end": 16, "label": "LOC"}])
    labels = window_labels(enc, tags, LABEL2ID)[0]
    tokens = tiny_tokenizer.convert_ids_to_tokens(enc.input_ids[0])
    labelled = [(t, LABELS[y]) for t, y in zip(tokens, labels) if y != IGNORE]
    assert [y for _, y in labelled] == ["O", "B-LOC", "O", "O"]
    assert not any(t.startswith("##") for t, _ in labelled)
    assert len(tokens) > len(labelled) + 2  # some words really are split into several sub-tokens


def test_label_all_tokens_labels_every_subtoken_inside_its_word(tiny_tokenizer):
    # Two-word entity: its first word's continuation pieces and its second word are all I-ORG; other words'
    # pieces take the word's tag (O); specials stay ignored. First sub-tokens keep the same labels as without.
    text = "استقبلت بالقاهرة وفود الاتحاد الأوروبي"
    words, enc = encode_article(tiny_tokenizer, text, ARABERT, 64, 8)
    tags = word_tags(words, [{"start": 22, "end": 38, "label": "ORG"}])
    assert tags == ["O", "O", "O", "B-ORG", "I-ORG"]
    first = window_labels(enc, tags, LABEL2ID)[0]
    every = window_labels(enc, tags, LABEL2ID, all_tokens=True)[0]
    tokens = tiny_tokenizer.convert_ids_to_tokens(enc.input_ids[0])
    assert every[0] == every[-1] == IGNORE and tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert IGNORE not in every[1:-1]
    assert [y for y in every if y != IGNORE] != [y for y in first if y != IGNORE]  # more positions trained
    for position, (f, e) in enumerate(zip(first, every)):
        owner = enc.token_word[0][position]
        if f != IGNORE:
            assert e == f
        elif owner >= 0:
            assert LABELS[e] == ("O" if tags[owner] == "O" else "I-ORG")
    # Some word of the entity really is split, so a continuation piece is trained as I-ORG.
    pieces = [LABELS[e] for f, e in zip(first, every) if f == IGNORE and e != IGNORE]
    assert "I-ORG" in pieces


def test_spans_leaving_out_a_clitic_label_the_whole_word():
    text = "وصل الوفد وبيروت"
    stats = AlignmentStats()
    words = split_words(text, ARABERT)
    assert word_tags(words, [{"start": 11, "end": 16, "label": "LOC"}], stats) == ["O", "O", "B-LOC"]
    assert stats.extended_to_word == 1 and stats.lost == 0


def test_entity_made_only_of_removed_characters_is_counted_as_lost():
    text = "قال ♦ الوزير"
    stats = AlignmentStats()
    tags = word_tags(split_words(text, ARABERT), [{"start": 4, "end": 5, "label": "MISC"}], stats)
    assert tags == ["O", "O"] and stats.lost_no_word == 1


def test_stride_must_leave_room(tiny_tokenizer):
    with pytest.raises(ValueError, match="stride 14 must be at least 0 and below max_length - 2"):
        encode_article(tiny_tokenizer, "نص", ARABERT, 16, 14)


def test_batches_are_bounded_by_windows_and_padded_tokens():
    lengths = {"a": 10, "b": 256, "c": 40, "d": 256, "e": 40, "f": 600, "g": 3}
    # Longest first; a pass is its longest window's length times its windows.
    assert plan_batches(lengths, None, 512) == [["f"], ["b", "d"], ["c", "e", "a", "g"]]
    assert plan_batches(lengths, 2, 512) == [["f"], ["b", "d"], ["c", "e"], ["a", "g"]]
    assert plan_batches(lengths, 3, None) == [["f", "b", "d"], ["c", "e", "a"], ["g"]]
    assert plan_batches(lengths, None, 1) == [[k] for k in "fbdceag"]  # over the budget: alone, not cut
    assert sorted(k for batch in plan_batches(lengths, None, 100) for k in batch) == sorted(lengths)
    assert plan_batches({}, None, 2048) == []


def test_precision_auto_takes_bfloat16_only_where_it_is_native(monkeypatch, caplog):
    import logging

    import torch

    from akhbar.inference import LoadOptions, options, resolve_precision

    cpu = torch.device("cpu")
    assert LoadOptions().precision == "auto"
    probed = []

    def probe(speedup):  # AVX512-BF16 without AMX: the measured speed decides (0.49x and 3.1x were measured)
        return lambda: probed.append(speedup) or speedup

    cases = (  # AMX, AVX512-BF16, probe's speed-up (None: must not be asked), expected
        (True, False, None, "bfloat16"),
        (True, True, None, "bfloat16"),
        (False, True, 0.49, "float32"),
        (False, True, 3.1, "bfloat16"),
        (False, False, None, "float32"),
    )
    for amx, bf16, speedup, expected in cases:
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda amx=amx: amx)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda bf16=bf16: bf16)
        monkeypatch.setattr(options, "cpu_bfloat16_speedup", probe(speedup))
        probed.clear()
        assert resolve_precision("auto", cpu) == expected
        assert probed == ([] if speedup is None else [speedup])
    caplog.set_level(logging.INFO, logger="akhbar")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    monkeypatch.setattr(options, "cpu_bfloat16_speedup", probe(0.49))
    assert resolve_precision("auto", cpu) == "float32"
    assert "ran 0.49x float32's speed here (under 1.3x)" in caplog.text  # the log says why
    caplog.clear()
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert resolve_precision("auto", cpu, backend="onnx") == "float32"
    caplog.set_level(logging.WARNING, logger="akhbar")
    assert resolve_precision("bfloat16", cpu) == "bfloat16"  # asked for: kept, with the warning
    assert "slower than float32 there" in caplog.text
    assert resolve_precision("float32", cpu) == "float32"


def test_bfloat16_probe_measures_both_dtypes():
    import torch

    from akhbar.inference.options import cpu_bfloat16_speedup

    # The real probe, small (bfloat16 is slow where it is not native): a finite positive ratio.
    torch.manual_seed(7)
    before = torch.get_rng_state()
    speedup = cpu_bfloat16_speedup.__wrapped__(n=64, repeats=2)
    assert 0 < speedup < float("inf")
    assert torch.equal(torch.get_rng_state(), before), "the probe moved the global random state (a run's seed)"

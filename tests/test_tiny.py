from akhbar.tiny import build_tokenizer


def test_tiny_tokenizer_knows_arabic_words(tiny_tokenizer):
    # transformers 5's BertTokenizerFast(vocab_file=...) silently builds a 5-token vocabulary in which every
    # Arabic word is [UNK]; the tiny tokenizer must really have learned the sample's words.
    assert len(tiny_tokenizer) > 500
    tokens = tiny_tokenizer.tokenize("أعلنت الحكومة في بيروت")
    assert "[UNK]" not in tokens
    assert tokens[0].startswith("أ")  # no lowercasing: hamza survives (BERT's lowercasing maps أ to ا)
    # The sample's event labels too: an argument model reads them as text.
    assert "[UNK]" not in tiny_tokenizer.tokenize("PROTEST ASSAULT ARREST ELECTION AIRSTRIKE")


def test_tiny_tokenizer_is_fast_with_offsets():
    tok = build_tokenizer(["نص عربي قصير للتجربة"] * 5, vocab_size=100)
    enc = tok("نص عربي", return_offsets_mapping=True)
    assert tok.is_fast
    assert enc["offset_mapping"][1] == (0, 2)

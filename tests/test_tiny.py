import pytest

from akhbar.tiny import build_tokenizer, read_texts


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


def test_tiny_tokenizer_training_prints_nothing(capfd):
    # `akhbar tiny-model` prints one line: the tokenizers trainer's progress bar wrote blank lines to stdout.
    build_tokenizer(["نص عربي قصير للتجربة"] * 5, vocab_size=100)
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"text": "\xd9\x86\xd8\xb5"}\n[1, 2]\n', r"bad\.jsonl:2: expected a JSON object with a string 'text'"),
        (b'{"id": "a"}\n', r"bad\.jsonl:1: expected a JSON object with a string 'text'"),
        (b"word B-LOC\n", r"bad\.jsonl:1: .*JSON"),
        (b'{"text": "a"}\n\xff\n', r"bad\.jsonl:2: invalid UTF-8"),
        (b"\n", r"bad\.jsonl: no article text to train the vocabulary on"),
    ],
)
def test_tiny_model_text_that_is_not_articles_is_one_error(tmp_path, content, message):
    # `akhbar tiny-model --text FILE` stopped with a TypeError traceback, or a JSON error naming no file.
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_texts([path])

"""A tiny random BERT with a WordPiece vocabulary trained on text we ship: for offline smoke runs and tests.

It has no pretrained knowledge: useful to check that the machinery runs end to end without the hub,
useless for quality.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, BertTokenizerFast

from .articles import AnnotationError, json_lines

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CARD = """# Tiny random BERT (akhbar smoke-test model)

Built offline by `akhbar tiny-model`: a {layers}-layer BERT (hidden size {hidden}) with **random weights**
and a WordPiece vocabulary of {vocab} pieces trained on {source}.

It exists so that training, evaluation, packaging and inference can be run end to end without the
Hugging Face hub. **It is useless for quality**: fine-tune a real pretrained encoder
(`aubmindlab/bert-base-arabertv02` or a local copy of it) for real work.
"""


def read_texts(paths: Iterable[str | Path]) -> list[str]:
    """The ``text`` field of every line of the given JSON Lines files, and a last line of the event labels they
    carry: an argument model reads the event type as text (``[CLS] PROTEST [SEP] ...``), so the vocabulary
    must spell the labels.

    Raises:
        AnnotationError: a line that is not a JSON object with a string ``text``, naming the file and line.
        ValueError: the files hold no text.
    """
    paths = [Path(path) for path in paths]
    texts, labels = [], {}
    for path in paths:
        for _, record in json_lines(path, need_text=True):
            if isinstance(record, AnnotationError):
                raise record
            texts.append(record["text"])
            events = record.get("events")
            if isinstance(events, list):  # spellings for the vocabulary only: the articles are not validated here
                labels.update(dict.fromkeys(e for e in events if isinstance(e, str)))
    if not texts:
        raise ValueError(f"{', '.join(map(str, paths))}: no article text to train the vocabulary on")
    return texts + ([" ".join(labels)] if labels else [])


def build_tokenizer(texts: Iterable[str], vocab_size: int = 2000) -> BertTokenizerFast:
    """A cased WordPiece tokenizer trained on ``texts``.

    No lowercasing and no accent stripping: lowercasing in BERT's normalizer also strips hamza and madda
    (أ → ا), which AraBERT's own tokenizer does not do. The ``tokenizers`` object is wrapped with
    ``tokenizer_object=``; building ``BertTokenizerFast(vocab_file=...)`` in transformers 5 silently
    yields a 5-token vocabulary.
    """
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, min_frequency=1, show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    return BertTokenizerFast(
        tokenizer_object=tok,
        do_lower_case=False,
        strip_accents=False,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        model_max_length=512,
    )


def build_tiny_model(
    output_dir: str | Path,
    texts: list[str],
    source: str = "the given texts",
    hidden_size: int = 32,
    layers: int = 2,
    seed: int = 0,
    dropout: float = 0.1,
) -> Path:
    """Write a tiny random BERT encoder and its tokenizer to ``output_dir``; return the folder."""
    import torch

    output_dir = Path(output_dir)
    tokenizer = build_tokenizer(texts)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden_size * 2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    torch.manual_seed(seed)
    model = BertModel(config, add_pooling_layer=False)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    (output_dir / "README.md").write_text(
        CARD.format(layers=layers, hidden=hidden_size, vocab=len(tokenizer), source=source), encoding="utf-8"
    )
    return output_dir

"""The standard recipe: transformers' token-classification example (``run_ner.py``), reduced to its recipe.

What is kept from ``examples/pytorch/token-classification/run_ner.py`` (transformers 5.x):
- words go to the tokenizer pre-split (``is_split_into_words=True``), truncated at ``max_seq_length``
  (128 here, as the issue asks), no padding at tokenization;
- ``label_all_tokens=False``: the first sub-token of a word carries its label, other sub-tokens -100;
- ``DataCollatorForTokenClassification`` (dynamic padding to the longest in each batch);
- ``Trainer`` with ``TrainingArguments`` defaults apart from epochs, learning rate, batch size and seed
  (random sampler, linear decay, no warmup, no weight decay);
- no validation during training; the last model is scored on test.

What is left out is argument plumbing, hub upload and the model card. The data are read with akhbar's
CoNLL reader so that both sides score exactly the same sentences (``run_ner.py`` reads CoNLL through a
``datasets`` loading script; the words and tags are the same). A word past the truncation point gets no
prediction from this recipe; it is scored as ``O`` (and counted in ``truncated_words``).

Run as ``python bench/standard_recipe.py --model DIR --out DIR ...``: it writes ``result.json`` with the
figures and ``predictions.json`` with word tags per test sentence.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    Trainer,
    TrainingArguments,
    set_seed,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import conll_sentences, label_list  # noqa: E402


def tokenize_and_align_labels(tokenizer, tokens, tags, label2id, max_length):
    """``run_ner.py``'s function, for one batch of sentences."""
    enc = tokenizer(tokens, truncation=True, max_length=max_length, is_split_into_words=True)
    labels = []
    for i, word_tags in enumerate(tags):
        previous = None
        ids = []
        for w in enc.word_ids(batch_index=i):
            if w is None or w == previous:
                ids.append(-100)
            else:
                ids.append(label2id[word_tags[w]])
            previous = w
        labels.append(ids)
    enc["labels"] = labels
    return enc


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--learning_rate", type=float, default=5e-5)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--max_seq_length", type=int, default=128)
    p.add_argument("--max_steps", type=int, default=-1, help="smoke runs only")
    p.add_argument("--freeze_embeddings", action="store_true")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import datasets

    train_tokens, train_tags = conll_sentences(args.train)
    test_tokens, test_tags = conll_sentences(args.test)
    labels = label_list(train_tags)
    label2id = {k: i for i, k in enumerate(labels)}
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForTokenClassification.from_pretrained(
        args.model, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id
    )
    if args.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)

    def encode(tokens, tags):
        enc = tokenize_and_align_labels(tokenizer, tokens, tags, label2id, args.max_seq_length)
        word_ids = [enc.word_ids(batch_index=i) for i in range(len(tokens))]
        return datasets.Dataset.from_dict(dict(enc)), word_ids

    train, _ = encode(train_tokens, train_tags)
    test, test_word_ids = encode(test_tokens, test_tags)
    training_args = TrainingArguments(
        output_dir=str(out / "run"),
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        learning_rate=args.learning_rate,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=64,
        seed=args.seed,
        save_strategy="no",
        report_to="none",
        logging_steps=50,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train,
        processing_class=tokenizer,
        data_collator=DataCollatorForTokenClassification(tokenizer),
    )
    started = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - started
    epochs_done = trainer.state.epoch or args.epochs
    tokens_per_epoch = int(sum(len(ids) for ids in train["input_ids"]))

    # Padding actually paid for: replay the Trainer's batches (same sampler, same seed) and sum padded lengths.
    padded = 0
    for batch in trainer.get_train_dataloader():
        padded += int(batch["input_ids"].numel())
    padded_share = 1 - tokens_per_epoch / padded

    started = time.perf_counter()
    logits = trainer.predict(test).predictions
    predict_s = time.perf_counter() - started
    pred_ids = np.argmax(logits, axis=-1)
    predictions, truncated = [], 0
    for i, words in enumerate(test_tokens):
        tags = ["O"] * len(words)  # words cut off by truncation stay O
        previous = None
        for position, w in enumerate(test_word_ids[i]):
            if w is not None and w != previous:
                tags[w] = labels[int(pred_ids[i, position])]
            previous = w
        truncated += len(words) - len({w for w in test_word_ids[i] if w is not None})
        predictions.append(tags)
    result = {
        "side": "standard",
        "seed": args.seed,
        "epochs": epochs_done,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "max_seq_length": args.max_seq_length,
        "freeze_embeddings": args.freeze_embeddings,
        "train_sentences": len(train_tokens),
        "train_s": round(train_s, 1),
        "train_tokens_per_epoch": tokens_per_epoch,
        "train_tokens_per_s": round(tokens_per_epoch * epochs_done / train_s, 1),
        "padding_share": round(padded_share, 4),
        "steps": trainer.state.global_step,
        "predict_s": round(predict_s, 1),
        "truncated_test_words": truncated,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "torch_threads": torch.get_num_threads(),
    }
    (out / "predictions.json").write_text(json.dumps(predictions, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

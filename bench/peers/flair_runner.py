"""Flair (flair 0.15.1), FLERT-style fine-tuning, on the bench's data, in its own environment (bench/peers/envs.py).

    .venv-peers/flair/bin/python bench/peers/flair_runner.py --model ENC --data DIR --out DIR --budget_s 1200

The recipe is Flair's tutorial for training a NER tagger on a fine-tuned transformer with document context
(FLERT, Schweter & Akbik 2020; https://flairnlp.github.io/docs/tutorial-training/how-to-train-sequence-tagger,
"Training a NER model with transformers"): ``TransformerWordEmbeddings(model, layers="-1",
subtoken_pooling="first", fine_tune=True, use_context=True)`` (64 sub-tokens of context on each side, from the
neighbouring sentences of the same document), ``SequenceTagger(hidden_size=256, use_crf=False, use_rnn=False,
reproject_embeddings=False)``, ``ModelTrainer.fine_tune(learning_rate=5e-6, mini_batch_size=4)``: AdamW, 10%
linear warm-up then linear decay. The tutorial's ``mini_batch_chunk_size=1`` only saves GPU memory (same
gradients, slower) and is left out. No dev or test split is given to the trainer (akhbar's side trains on all
of train too; nothing is sampled out of train). Flair's linear schedule is replaced by the same shape laid over
the wall-clock budget (peer_common.WallClockSchedule), and training stops at the first batch after the budget
(Flair's ``TrainingInterrupt``, its own clean stop).

Offline: the encoder is a local folder and ``HF_HUB_OFFLINE=1`` is set before flair imports the hub client.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_common import (  # noqa: E402
    WallClockSchedule,
    bench_data,
    group_documents,
    measured,
    peak_rss_mib,
    peer_arguments,
    spans_to_tags,
    sub_token_count,
    tag_spans,
    timed_long_articles,
    write_result,
)

logger = logging.getLogger("flair_runner")


def parse_args(argv=None) -> argparse.Namespace:
    p = peer_arguments(__doc__.split("\n")[0], learning_rate=5e-6)
    p.add_argument("--context", type=int, default=64, help="sub-tokens of document context each side (0: none)")
    return p.parse_args(argv)


def sentences(records: list[dict], with_tags: bool):
    """Flair sentences, linked to their neighbours within each document (FLERT's context)."""
    from flair.data import Sentence

    out = []
    for document in group_documents(records):
        previous = None
        for r in document:
            s = Sentence(r["tokens"])
            if with_tags:
                for start, end, label in tag_spans(r["tags"]):
                    s[start:end].add_label("ner", label)
            if previous is not None:
                s._previous_sentence, previous._next_sentence = previous, s
            out.append(s)
            previous = s
    return out


def predicted_tags(tagger, records: list[dict], batch_size: int) -> list[list[str]]:
    found = sentences(records, with_tags=False)
    tagger.predict(found, mini_batch_size=batch_size)
    by_order = {}  # sentences() groups by document; give the tags back in the order of ``records``
    for r, s in zip([r for d in group_documents(records) for r in d], found):
        spans = [(sp.tokens[0].idx - 1, sp.tokens[-1].idx, sp.tag) for sp in s.get_spans("ner")]
        by_order[id(r)] = spans_to_tags(len(r["tokens"]), spans)
    return [by_order[id(r)] for r in records]


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    import flair
    import torch
    import transformers
    from flair.data import Corpus
    from flair.datasets import FlairDatapointDataset
    from flair.embeddings import TransformerWordEmbeddings
    from flair.models import SequenceTagger
    from flair.trainers import ModelTrainer
    from flair.trainers.plugins import TrainerPlugin, TrainingInterrupt

    flair.set_seed(args.seed)
    train, test, long = bench_data(args.data)
    corpus = Corpus(train=FlairDatapointDataset(sentences(train, True)), sample_missing_splits=False)
    labels = corpus.make_label_dictionary(label_type="ner", add_unk=False)
    embeddings = TransformerWordEmbeddings(
        args.model,
        layers="-1",
        subtoken_pooling="first",
        fine_tune=True,
        use_context=args.context if args.context > 0 else False,
    )
    tagger = SequenceTagger(
        hidden_size=256,
        embeddings=embeddings,
        tag_dictionary=labels,
        tag_type="ner",
        use_crf=False,
        use_rnn=False,
        reproject_embeddings=False,
    )
    tokens_per_epoch = sub_token_count(embeddings.tokenizer, [r["tokens"] for r in train])
    clock = WallClockSchedule(args.budget_s)
    batches = [0]

    class Budget(TrainerPlugin):
        """The recipe's schedule over the clock; Flair's clean stop at the budget."""

        @TrainerPlugin.hook
        def after_setup(self, **kwargs):
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.trainer.optimizer, clock.factor)
            clock.start()

        @TrainerPlugin.hook
        def after_training_batch(self, optimizer_was_run: bool, **kwargs):
            batches[0] += 1
            if optimizer_was_run:
                self.scheduler.step()
            if clock.done():
                raise TrainingInterrupt(f"wall-clock budget of {args.budget_s:g} s reached after {batches[0]} batches")

    trainer = ModelTrainer(tagger, corpus)
    trainer.fine_tune(
        Path(args.out) / "run",
        learning_rate=args.learning_rate,
        mini_batch_size=args.batch_size,
        max_epochs=1000,  # the budget ends training
        attach_default_scheduler=False,
        plugins=[Budget()],
        save_final_model=False,
        create_file_logs=False,
        create_loss_file=False,
    )
    train_s = clock.elapsed()
    epochs = batches[0] * args.batch_size / len(train)
    peak_train = peak_rss_mib()
    logger.info("trained %.1f s, %d batches, %.3f epochs", train_s, batches[0], epochs)

    tagger.eval()
    started = time.perf_counter()
    predictions = predicted_tags(tagger, test, args.predict_batch_size)
    predict_s = time.perf_counter() - started
    long_tokens = sub_token_count(embeddings.tokenizer, [r["tokens"] for a in long for r in a])

    def predict_long(articles):
        return predicted_tags(tagger, [r for a in articles for r in a], args.predict_batch_size)

    speed = timed_long_articles(predict_long, long, long_tokens) if long else None
    write_result(
        Path(args.out),
        {
            "peer": "flair",
            "versions": {
                "flair": flair.__version__,
                "transformers": transformers.__version__,
                "torch": torch.__version__,
            },
            "recipe": {k: v for k, v in vars(args).items() if k not in ("data", "out")},
            **measured(args, train_s, batches[0], epochs, tokens_per_epoch, peak_train),
            "predict_s": round(predict_s, 1),
            "predictions": predictions,
            "long_articles": speed,
        },
    )


if __name__ == "__main__":
    main()

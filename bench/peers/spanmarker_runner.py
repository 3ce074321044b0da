"""SpanMarker (span-marker 1.8.1) on the bench's data, in its own environment (bench/peers/envs.py).

    .venv-peers/spanmarker/bin/python bench/peers/spanmarker_runner.py --model ENC --data DIR --out DIR \
        --budget_s 1200 --seed 42

The recipe is the one SpanMarker's repository gives for training with document-level context,
``training_scripts/conll03_context.py`` (https://github.com/tomaarsen/SpanMarkerNER/blob/main/training_scripts/
conll03_context.py): ``SpanMarkerModel.from_pretrained(encoder, labels=..., model_max_length, marker_max_length,
entity_max_length=8)``, its ``Trainer`` on a dataset with ``tokens``, ``ner_tags``, ``document_id`` and
``sentence_id`` columns (the last two switch on document context: each sentence is read with as many
neighbouring sentences of its document as fit), AdamW with weight decay 0.01, batch 4 with 2 accumulation
steps, 10% warm-up then linear decay. That script fine-tunes xlm-roberta-large at 1e-5 with 512 tokens;
for a base-size encoder the repository's scripts use 5e-5 and 256 tokens with 128 markers
(``span-marker-bert-base-ncbi-disease``), which is the default here. No validation and no checkpoint selection
(akhbar's side of the benchmark trains on all of train too). The linear schedule is laid over the wall-clock
budget (peer_common.WallClockSchedule), and training stops at the first step after the budget.

Offline: the encoder is a local folder and ``HF_HUB_OFFLINE=1`` is set before anything imports the hub
client; SpanMarker reads the encoder's config and tokenizer from the folder and adds its two marker tokens.
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
    measured,
    peak_rss_mib,
    peer_arguments,
    spans_to_tags,
    sub_token_count,
    timed_long_articles,
    write_result,
)

logger = logging.getLogger("spanmarker_runner")


def parse_args(argv=None) -> argparse.Namespace:
    p = peer_arguments(__doc__.split("\n")[0], learning_rate=5e-5, model_help="encoder folder (BERT-style)")
    p.add_argument("--gradient_accumulation_steps", type=int, default=2)
    p.add_argument("--model_max_length", type=int, default=256)
    p.add_argument("--marker_max_length", type=int, default=128)
    p.add_argument("--entity_max_length", type=int, default=8)
    p.add_argument("--no_context", action="store_true", help="leave out document_id/sentence_id")
    return p.parse_args(argv)


def dataset(records: list[dict], labels: list[str] | None, context: bool):
    from datasets import Dataset

    columns = {"tokens": [r["tokens"] for r in records]}
    if labels is not None:
        ids = {label: i for i, label in enumerate(labels)}
        columns["ner_tags"] = [[ids[t] for t in r["tags"]] for r in records]
    if context:
        columns["document_id"] = [r["document_id"] for r in records]
        columns["sentence_id"] = [r["sentence_id"] for r in records]
    return Dataset.from_dict(columns)


def predicted_tags(model, records: list[dict], batch_size: int, context: bool) -> list[list[str]]:
    found = model.predict(dataset(records, None, context), batch_size=batch_size)
    return [
        spans_to_tags(len(r["tokens"]), [(e["word_start_index"], e["word_end_index"], e["label"]) for e in ents])
        for r, ents in zip(records, found)
    ]


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    import span_marker
    import torch
    import transformers
    from span_marker import SpanMarkerModel, Trainer
    from transformers import TrainerCallback, TrainingArguments, set_seed

    set_seed(args.seed)
    train, test, long = bench_data(args.data)
    context = not args.no_context
    entity_types = sorted({t[2:] for r in train for t in r["tags"] if t != "O"})
    labels = ["O"] + [f"{k}-{t}" for t in entity_types for k in ("B", "I")]
    model = SpanMarkerModel.from_pretrained(
        args.model,
        labels=labels,
        model_max_length=args.model_max_length,
        marker_max_length=args.marker_max_length,
        entity_max_length=args.entity_max_length,
    )
    tokens_per_epoch = sub_token_count(model.tokenizer.tokenizer, [r["tokens"] for r in train])
    clock = WallClockSchedule(args.budget_s)

    class Budget(TrainerCallback):
        """Starts the clock when training starts and stops training at the first step after the budget."""

        def on_train_begin(self, _args, state, control, **kwargs):
            clock.start()

        def on_step_end(self, _args, state, control, **kwargs):
            control.should_training_stop = clock.done()

    class BudgetTrainer(Trainer):
        """SpanMarker's Trainer with the recipe's schedule shape laid over the clock (Trainer's own override point)."""

        def create_scheduler(self, num_training_steps, optimizer=None):
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer or self.optimizer, clock.factor)
            self._created_lr_scheduler = True
            return self.lr_scheduler

    training_args = TrainingArguments(
        output_dir=str(Path(args.out) / "run"),
        learning_rate=args.learning_rate,
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        num_train_epochs=1000,  # the budget ends training
        weight_decay=0.01,
        warmup_ratio=0.1,
        logging_steps=50,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        seed=args.seed,
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
    )
    trainer = BudgetTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset(train, labels, context),
        callbacks=[Budget()],
    )
    result = trainer.train()
    train_s = clock.elapsed()
    epochs = trainer.state.epoch or 0.0
    peak_train = peak_rss_mib()
    logger.info("trained %.1f s, %d steps, %.3f epochs", train_s, trainer.state.global_step, epochs)

    model.eval()
    started = time.perf_counter()
    predictions = predicted_tags(model, test, args.predict_batch_size, context)
    predict_s = time.perf_counter() - started
    long_tokens = sub_token_count(model.tokenizer.tokenizer, [r["tokens"] for a in long for r in a])
    flat = [r for a in long for r in a]

    def predict_long(articles):
        records = [r for a in articles for r in a]
        return predicted_tags(model, records, args.predict_batch_size, context)

    speed = timed_long_articles(predict_long, long, long_tokens) if flat else None
    write_result(
        Path(args.out),
        {
            "peer": "spanmarker",
            "versions": {
                "span_marker": span_marker.__version__,
                "transformers": transformers.__version__,
                "torch": torch.__version__,
            },
            "recipe": {k: v for k, v in vars(args).items() if k not in ("data", "out")} | {"document_context": context},
            **measured(args, train_s, trainer.state.global_step, epochs, tokens_per_epoch, peak_train),
            "train_runtime_s": round(result.metrics["train_runtime"], 1),
            "predict_s": round(predict_s, 1),
            "predictions": predictions,
            "long_articles": speed,
        },
    )


if __name__ == "__main__":
    main()

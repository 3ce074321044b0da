"""Evaluation and prediction return rows in dataset order whatever the training sampler."""

import numpy as np
import pytest
from datasets import Dataset
from transformers import (
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    DataCollatorForTokenClassification,
    TrainingArguments,
)

from akhbar.tasks.events import ArticleLoss, EventCollator
from akhbar.trainers import AkhbarTrainer

# Rows of many different lengths: a length-grouping sampler would hand them back longest first.
LENGTHS = [3, 17, 5, 29, 2, 11, 23, 7, 13, 19, 4, 31]


def arguments(tmp_path):
    return TrainingArguments(
        output_dir=str(tmp_path),
        train_sampling_strategy="group_by_length",
        per_device_eval_batch_size=4,
        use_cpu=True,
        report_to="none",
        disable_tqdm=True,
    )


def test_token_classification_predictions_come_back_in_dataset_order(tiny_model_dir, tiny_tokenizer, tmp_path):
    model = AutoModelForTokenClassification.from_pretrained(tiny_model_dir, num_labels=len(LENGTHS))
    # Each row's labels hold its own row number, so the returned label_ids say which row is where.
    rows = {
        "input_ids": [[5 + (i % 40)] * n for i, n in enumerate(LENGTHS)],
        "labels": [[i] * n for i, n in enumerate(LENGTHS)],
        "length": LENGTHS,
    }
    trainer = AkhbarTrainer(
        model=model,
        args=arguments(tmp_path),
        data_collator=DataCollatorForTokenClassification(tiny_tokenizer),
        processing_class=tiny_tokenizer,
    )
    output = trainer.predict(Dataset.from_dict(rows))
    assert [int(row[0]) for row in output.label_ids] == list(range(len(LENGTHS)))


@pytest.mark.parametrize("multi_label", [False, True])
def test_event_predictions_come_back_in_dataset_order(tiny_model_dir, tiny_tokenizer, tmp_path, multi_label):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=len(LENGTHS))
    windows = [[[5 + (i % 40)] * n] * (1 + i % 3) for i, n in enumerate(LENGTHS)]
    labels = [np.eye(len(LENGTHS))[i].tolist() if multi_label else i for i in range(len(LENGTHS))]
    data = Dataset.from_dict({"windows": windows, "labels": labels, "length": [sum(map(len, w)) for w in windows]})
    trainer = AkhbarTrainer(
        model=model,
        args=arguments(tmp_path),
        data_collator=EventCollator(tiny_tokenizer, multi_label),
        processing_class=tiny_tokenizer,
        batch_loss=ArticleLoss("mean", multi_label),
    )
    output = trainer.predict(data)
    found = np.argmax(output.label_ids, axis=1) if multi_label else output.label_ids
    assert found.tolist() == list(range(len(LENGTHS)))


def test_ner_metrics_refuse_predictions_out_of_dataset_order():
    from akhbar.tasks.ner import Encoded, NerMetrics
    from akhbar.windows import AlignmentStats

    labels = [[-100, 1, 0, -100], [-100, 0, -100], [-100, 2, 2, 0, -100]]
    windows = Dataset.from_dict(
        {
            "labels": labels,
            "word_index": [[-1, 0, 1, -1], [-1, 0, -1], [-1, 0, 1, 2, -1]],
            "cut_left": [False] * 3,
            "cut_right": [False] * 3,
            "length": [4, 3, 5],
        }
    )
    metrics = NerMetrics(
        Encoded(windows, [[0], [1], [2]], [["B-LOC", "O"], ["O"], ["B-ORG", "I-ORG", "O"]], AlignmentStats()),
        {0: "O", 1: "B-LOC", 2: "B-ORG"},
    )
    padded = np.full((3, 5), -100)
    for r, row in enumerate(labels):
        padded[r, : len(row)] = row
    metrics.check_order(padded)  # dataset order: fine
    with pytest.raises(RuntimeError, match="evaluation window 0 carries the labels of another window"):
        metrics.check_order(padded[[2, 0, 1]])
    with pytest.raises(RuntimeError, match="evaluation returned 2 windows for 3"):
        metrics.check_order(padded[:2])

    # Stored longest first, the rows still point at each article's windows.
    longest = metrics.encoded.longest_first()
    assert longest.windows["length"] == [5, 4, 3] and longest.rows == [[1], [2], [0]]


def test_early_stopping_waits_for_the_first_gain():
    # A model still tagging everything O scores 0.0 at every evaluation; transformers' callback stopped it
    # after `patience` of them. akhbar's counts only from the first score above zero.
    from types import SimpleNamespace

    from transformers import TrainerControl

    from akhbar.trainers import EarlyStopping

    args = SimpleNamespace(metric_for_best_model="strict_f1", greater_is_better=True)
    state = SimpleNamespace(best_metric=None)
    callback, control = EarlyStopping(early_stopping_patience=2), TrainerControl()
    stopped_at = None
    for step, f1 in enumerate([0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 0.2, 0.25, 0.3], start=1):
        callback.on_evaluate(args, state, control, metrics={"eval_strict_f1": f1})
        state.best_metric = f1 if state.best_metric is None else max(state.best_metric, f1)  # what Trainer does
        if control.should_training_stop:
            stopped_at = step
            break
    assert stopped_at == 9  # 0.2 and 0.25 did not beat 0.3: two evaluations without a gain

    # Lower is better (a loss): the parent's rule, unchanged.
    args = SimpleNamespace(metric_for_best_model="loss", greater_is_better=False)
    state, callback, control = (
        SimpleNamespace(best_metric=1.0),
        EarlyStopping(early_stopping_patience=1),
        TrainerControl(),
    )
    callback.on_evaluate(args, state, control, metrics={"eval_loss": 1.5})
    assert control.should_training_stop

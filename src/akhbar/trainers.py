"""The Trainer every akhbar task trains with.

It forces what akhbar depends on, whatever the task:

- evaluation reads the dataset in its own order. akhbar's metrics map the Trainer's evaluation predictions
  back to articles by row position (NER: each article's windows are rows of the evaluation dataset).
  transformers 5 applies ``train_sampling_strategy: group_by_length`` to the evaluation sampler too
  (``Trainer._get_eval_sampler`` returns a ``LengthGroupedSampler``), so predictions came back in length
  order and were scored against the wrong articles. Speed is kept by storing evaluation windows longest
  first (:meth:`akhbar.tasks.ner.Encoded.longest_first`);
- a task may bring its own loss over the whole batch (events pool an article's windows before the loss),
  which also needs the dataset's extra columns to reach the collator;
- the share of padding in the training batches is counted as they are trained (no second pass over the
  data), for the run record and the benchmark;
- early stopping (:class:`EarlyStopping`) waits for the model's first non-zero score before it counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from transformers import EarlyStoppingCallback, Trainer
from transformers.trainer_utils import has_length

logger = logging.getLogger(__name__)


class AkhbarTrainer(Trainer):
    """A ``Trainer`` with dataset-order evaluation, an optional task loss, and padding counts.

    Args:
        batch_loss: ``batch_loss(model, inputs) -> (loss, outputs)`` replaces the model's own loss; it is a
            per-batch mean (the Trainer divides it by the accumulation steps, and does not rescale it as a sum
            over the step's items, see :func:`akhbar.tasks.ner.token_loss`).
    """

    def __init__(self, *args, batch_loss: Callable | None = None, **kwargs):
        if batch_loss is not None:
            kwargs["args"].remove_unused_columns = False  # the loss reads columns the model does not take
        super().__init__(*args, **kwargs)
        self.batch_loss = batch_loss
        if batch_loss is not None:
            self.model_accepts_loss_kwargs = False
        self.real_tokens = torch.zeros((), dtype=torch.long)
        self.batch_positions = torch.zeros((), dtype=torch.long)

    def _get_eval_sampler(self, eval_dataset) -> torch.utils.data.Sampler | None:
        # One process: a SequentialSampler. Several: no sampler, so accelerate shards the dataset in order and
        # gather_for_metrics hands the rows back in order, duplicates of a padded last batch removed (the
        # Trainer's own behaviour without length grouping; tests/test_reliability.py checks it).
        if eval_dataset is None or not has_length(eval_dataset):
            return None
        if self.args.world_size <= 1:
            return torch.utils.data.SequentialSampler(eval_dataset)
        return None

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self.batch_loss is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        loss, outputs = self.batch_loss(model, inputs)
        return (loss, outputs) if return_outputs else loss

    def training_step(self, model, inputs, num_items_in_batch=None):
        ids = inputs["input_ids"]
        mask = inputs.get("attention_mask")
        # Counted on the device, read once after training: no synchronization per step.
        self.real_tokens = self.real_tokens.to(ids.device) + (mask.sum() if mask is not None else ids.numel())
        self.batch_positions = self.batch_positions.to(ids.device) + ids.numel()
        return super().training_step(model, inputs, num_items_in_batch)

    def padding_share(self) -> float | None:
        """The share of training batch positions (this process's) that were padding."""
        positions = int(self.batch_positions)
        return round(1 - int(self.real_tokens) / positions, 4) if positions else None


class EarlyStopping(EarlyStoppingCallback):
    """transformers' early stopping, except that patience starts once the model has scored above zero.

    Written here because ``EarlyStoppingCallback`` counts every evaluation that does not beat the best: a model
    still tagging everything ``O`` scores strict F1 0.0 at each evaluation, and was stopped three evaluations
    in, with nothing learned (small data such as the GSR argument spans reaches its first entity only after a
    few epochs). While the selection metric (higher is better) is still 0 the counter does not move; a metric
    where lower is better is left to the parent.
    """

    waiting_logged = False

    def check_metric_value(self, args, state, control, metric_value):
        if args.greater_is_better and metric_value <= 0 and (state.best_metric is None or state.best_metric <= 0):
            if not self.waiting_logged:
                logger.info(
                    "early stopping waits: %s is still 0 (nothing found yet); patience counts from its first gain",
                    args.metric_for_best_model,
                )
                self.waiting_logged = True
            self.early_stopping_patience_counter = 0
            return
        super().check_metric_value(args, state, control, metric_value)

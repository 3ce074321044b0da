"""The Trainer every akhbar task trains with: evaluation always reads the dataset in its own order.

akhbar's metrics map the Trainer's evaluation predictions back to articles by row position (NER: each
article's windows are rows of the evaluation dataset). transformers 5 applies
``train_sampling_strategy: group_by_length`` to the evaluation sampler too (``Trainer._get_eval_sampler``
returns a ``LengthGroupedSampler``), so predictions came back in length order and were scored against
the wrong articles. Evaluation order is forced here instead of left to the sampling settings; speed is
kept by storing the evaluation windows longest first (:meth:`akhbar.training.Encoded.longest_first`).
"""

from __future__ import annotations

import torch
from transformers import Trainer
from transformers.trainer_utils import has_length


class OrderedEvalTrainer(Trainer):
    """A ``Trainer`` whose evaluation and prediction loops see the dataset in dataset order.

    One process: a ``SequentialSampler``. Several: no sampler, so accelerate shards the dataset in order
    and ``gather_for_metrics`` hands back the rows in order, duplicates of a padded last batch removed (the
    Trainer's own behaviour without length grouping; ``tests/test_reliability.py`` checks it).
    """

    def _get_eval_sampler(self, eval_dataset) -> torch.utils.data.Sampler | None:
        if eval_dataset is None or not has_length(eval_dataset):
            return None
        if self.args.world_size <= 1:
            return torch.utils.data.SequentialSampler(eval_dataset)
        return None

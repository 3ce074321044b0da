"""akhbar's ``train.py`` under a wall-clock training budget, the way the peer runners train (bench/peer_bench.py).

    python bench/budget_train.py BUDGET_S --config configs/ner-anercorp.yaml [--key value ...]

akhbar's Trainer stops at a step count, not at a time. For the peer benchmark every system gets the same
budget mechanics: the recipe's schedule shape (linear warm-up over the first ``warmup_steps`` share, linear
decay to zero) laid over the wall clock from the first training step (bench/peers/peer_common.py
``WallClockSchedule``), and a stop at the first optimizer step after the budget. Everything else is
train.py's: the config, the data, the model, packaging and the test evaluation. Pass a ``--max_steps`` far
beyond what the budget allows, so that the budget, not the step count, ends training.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from transformers import Trainer, TrainerCallback

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from peer_common import WallClockSchedule  # noqa: E402

from akhbar import training  # noqa: E402
from akhbar.cli import run_user_command  # noqa: E402


def main(argv: list[str]) -> int:
    budget_s, *train_args = argv
    clock = WallClockSchedule(float(budget_s))

    class Budget(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            clock.warmup = args.warmup_steps if 0 < args.warmup_steps < 1 else clock.warmup
            clock.start()

        def on_step_end(self, args, state, control, **kwargs):
            control.should_training_stop = clock.done()

    def create_scheduler(self, num_training_steps, optimizer=None):
        self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer or self.optimizer, clock.factor)
        self._created_lr_scheduler = True
        return self.lr_scheduler

    # The two seams: the callbacks train.py hands to its Trainer, and the Trainer's scheduler factory.
    validation_callbacks = training.configure_validation
    training.configure_validation = lambda *a, **k: [*validation_callbacks(*a, **k), Budget()]
    Trainer.create_scheduler = create_scheduler
    return run_user_command(training.main, train_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

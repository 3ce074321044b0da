"""The Trainer's best validation score against the packaged model's score on the same validation articles.

    python bench/validation_parity.py --config configs/ner-anercorp.yaml --model_name_or_path ENC [--key value ...]

Give the same arguments as the ``train.py`` run (after it has finished): the validation articles are read
again exactly as the run read them (a held-out ``validation_split`` is re-drawn with the run's seed), scored
with ``NerTagger`` on the packaged model, and compared with ``best_validation`` in the run's
``run_config.json``. The two must be equal: the Trainer's evaluation and the inference module are two code
paths over the same weights.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from akhbar import NerTagger
from akhbar.config import parse_config
from akhbar.tasks import get_task
from akhbar.tasks.ner import evaluate_ner
from akhbar.training import load_splits


def main(argv: list[str]) -> int:
    model_args, data_args, _, training_args, _ = parse_config(argv)
    validation = load_splits(data_args, training_args.seed, get_task(model_args.task))[0]["validation"].articles
    best = json.loads((Path(training_args.output_dir) / "run_config.json").read_text(encoding="utf-8"))[
        "best_validation"
    ]
    package = Path(model_args.package_dir) / model_args.model_name
    packaged = evaluate_ner(NerTagger.from_pretrained(package, precision="float32"), validation)["strict"]["micro"][
        "f1"
    ]
    print(
        json.dumps(
            {
                "validation_articles": len(validation),
                "trainer_best": best,
                "packaged_strict_f1": packaged,
                "equal": packaged == best["metric"],
            },
            indent=2,
        )
    )
    return 0 if packaged == best["metric"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

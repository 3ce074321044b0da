"""Fine-tune -> evaluate -> package, configured by a YAML file.

    accelerate launch train.py --config configs/ner-anercorp.yaml [--key value ...]
    python train.py                      # runs configs/ner-sample.yaml

See README.md for the config keys and what a run writes.
"""

import sys

from akhbar.cli import run_user_command
from akhbar.training import main

if __name__ == "__main__":
    sys.exit(run_user_command(main, sys.argv[1:]))

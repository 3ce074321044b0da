"""The reference normalization, ArabertPreprocessor of arabert 1.0.1, run in its own environment.

arabert pins emoji==1.4.2, so it lives in a virtual environment of its own::

    python3 -m venv .venv-arabert && .venv-arabert/bin/pip install arabert==1.0.1

Run as a script (with that environment's Python), this file reads one JSON string per line on standard
input and writes ``ArabertPreprocessor("bert-base-arabertv02").preprocess(text)`` for each as one JSON
string per line, flushed at once, so one process serves a whole test session or corpus. Imported (by
akhbar's tests and bench/arabert_parity.py, in akhbar's environment), :class:`ArabertReference` starts that
process and calls it. Only the standard library is imported here besides arabert.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "AKHBAR_ARABERT_PYTHON"


def reference_python() -> Path | None:
    """The Python that has arabert: ``$AKHBAR_ARABERT_PYTHON``, else ``.venv-arabert`` in the repository.

    Raises:
        FileNotFoundError: the variable is set but names no file (a CI set-up error, not a reason to skip).
    """
    named = os.environ.get(ENV_VAR)
    if named:
        if not Path(named).is_file():
            raise FileNotFoundError(f"{ENV_VAR}={named}: no such Python (create it: see {__file__})")
        return Path(named)
    local = ROOT / ".venv-arabert" / "bin" / "python"
    return local if local.is_file() else None


class ArabertReference:
    """``ArabertPreprocessor("bert-base-arabertv02").preprocess`` in a child process of ``python``."""

    def __init__(self, python: str | Path) -> None:
        self._process = subprocess.Popen(
            [str(python), __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def __call__(self, text: str) -> str:
        self._process.stdin.write(json.dumps(text) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the arabert process ended (exit code {self._process.wait()}); see its stderr")
        return json.loads(line)

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=30)

    def __enter__(self) -> ArabertReference:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def main() -> None:
    import logging

    from arabert.preprocess import ArabertPreprocessor

    logging.disable(logging.WARNING)  # it warns through the root logger; stdout is the answer channel
    preprocessor = ArabertPreprocessor("bert-base-arabertv02")
    for line in sys.stdin:
        sys.stdout.write(json.dumps(preprocessor.preprocess(json.loads(line)), ensure_ascii=False) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

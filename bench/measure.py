"""Run a command as the only child of this process; print its wall time and peak resident memory as JSON.

``python bench/measure.py OUT.json -- COMMAND ...``: the child's exit code is passed on. Peak memory is
``ru_maxrss`` of the children of this process, i.e. of that one command (and its own children).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main() -> int:
    out, sep, *command = sys.argv[1:]
    if sep != "--" or not command:
        raise SystemExit("usage: python bench/measure.py OUT.json -- COMMAND ...")
    started = time.perf_counter()
    code = subprocess.call(command)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"command": command, "exit_code": code, "wall_s": round(wall, 1), "peak_rss_mib": round(peak, 1)}, f)
    return code


if __name__ == "__main__":
    sys.exit(main())

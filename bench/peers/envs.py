"""The peers' virtual environments: SpanMarker and Flair need transformers < 5, akhbar runs on 5.

    python bench/peers/envs.py spanmarker flair           # create or check .venv-peers/<peer>
    python bench/peers/envs.py flair --resolve            # re-resolve from the top-level pins, rewrite the lock

Each peer lives in ``.venv-peers/<peer>`` (git-ignored), made with this Python's ``venv``. The CPU torch
wheel is installed first (``torch==2.13.0``: both peers accept any torch >= 1.13, and this machine's pip
finds a local CPU wheel; elsewhere pass ``--torch_index https://download.pytorch.org/whl/cpu``), then the
peer's lock file ``bench/peers/requirements-<peer>.txt`` (every package pinned, as ``pip freeze`` wrote it
after resolving the top-level pins below). A finished environment holds a stamp with the hash of its lock:
running this again does nothing unless the lock changed. Only the standard library is imported here, so
akhbar's environment (bench/run.py --peers) and a bare Python can both call it.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import shutil
import subprocess
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ENVS = ROOT / ".venv-peers"
TORCH = "torch==2.13.0"
# What each peer's documentation installs, pinned; transformers is the last 4.x (both need < 5).
TOP_LEVEL = {
    "spanmarker": ["span-marker==1.8.1", "transformers==4.57.6", "psutil"],
    "flair": ["flair==0.15.1", "transformers==4.57.6", "psutil"],
}
STAMP = ".akhbar-peer-lock"
logger = logging.getLogger(__name__)


def lock_file(peer: str) -> Path:
    return HERE / f"requirements-{peer}.txt"


def python_of(peer: str) -> Path:
    """The Python of a peer's environment (it may not exist yet)."""
    return ENVS / peer / "bin" / "python"


def lock_hash(peer: str) -> str:
    return hashlib.sha256(lock_file(peer).read_bytes()).hexdigest()


def ready(peer: str) -> bool:
    """Whether the peer's environment exists and was installed from its current lock."""
    stamp = ENVS / peer / STAMP
    return python_of(peer).is_file() and stamp.is_file() and stamp.read_text().strip() == lock_hash(peer)


def pip(peer: str, *args: str) -> None:
    command = [str(python_of(peer)), "-m", "pip", "install", "--disable-pip-version-check", *args]
    logger.info("%s: %s", peer, " ".join(command[3:]))
    subprocess.run(command, check=True)


def ensure(peer: str, resolve: bool = False, torch_index: str | None = None) -> Path:
    """Create (or reuse) the peer's environment; returns its Python.

    Raises:
        ValueError: an unknown peer.
        subprocess.CalledProcessError: pip failed (its output says why).
    """
    if peer not in TOP_LEVEL:
        raise ValueError(f"unknown peer {peer!r}: expected one of {', '.join(TOP_LEVEL)}")
    if not resolve and not lock_file(peer).is_file():
        raise FileNotFoundError(f"{lock_file(peer)} is missing: run `python {__file__} {peer} --resolve`")
    if not resolve and ready(peer):
        return python_of(peer)
    folder = ENVS / peer
    if folder.exists():
        shutil.rmtree(folder)  # a half-made or outdated environment: start again from the lock
    venv.EnvBuilder(with_pip=True).create(folder)
    pip(peer, TORCH, *(["--index-url", torch_index] if torch_index else []))
    if resolve:
        pip(peer, *TOP_LEVEL[peer])
        frozen = subprocess.run(
            [str(python_of(peer)), "-m", "pip", "freeze", "--exclude-editable"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        header = f"# {peer}: `python bench/peers/envs.py {peer} --resolve` from {' '.join(TOP_LEVEL[peer])}\n"
        lock_file(peer).write_text(header + frozen, encoding="utf-8")
    else:
        pip(peer, "-r", str(lock_file(peer)))
    (folder / STAMP).write_text(lock_hash(peer) + "\n")
    return python_of(peer)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Create or check the peers' virtual environments.")
    p.add_argument("peers", nargs="+", choices=sorted(TOP_LEVEL))
    p.add_argument("--resolve", action="store_true", help="install the top-level pins and rewrite the lock")
    p.add_argument("--torch_index", help="pip index of the CPU torch wheel, e.g. https://download.pytorch.org/whl/cpu")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for peer in args.peers:
        print(ensure(peer, args.resolve, args.torch_index))


if __name__ == "__main__":
    main()

"""Where a model name leads: a local folder, or a Hugging Face hub repository.

The hub client retries a failed request five times with back-off, for each file it asks for, so a model
name that can never load (a mistyped path, no network at all) used to cost about 50 s of retry warnings
before the error. :func:`hub_problem` answers at once the cases whose outcome is certain; the others are
left to the hub client (users have the hub, and a slow network is not an absent one).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

PICKLE_PATTERNS = ("*.bin", "*.pt", "*.pth", "*.pkl", "*.pickle", "*.ckpt*", "*.h5", "*.msgpack", "*.joblib", "*.npy")

OFFLINE_HINT = (
    "for an offline smoke run, `akhbar tiny-model models/tiny` builds a tiny random BERT (useless for quality)"
)


def hub_problem(name: str) -> str | None:
    """Why ``name`` (not a local folder) certainly cannot be loaded from the hub, or ``None`` if it may.

    Certain: the name is a file, or not a valid repository id (so it was meant as a path, and the path does not
    exist), ``HF_HUB_OFFLINE`` is set and the files are not in the local cache (the caller finds out), or the
    hub's host name does not resolve (no network or no DNS).
    """
    from huggingface_hub import constants
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if Path(name).is_file():  # meant as a path (the weights file, say), whatever the hub would make of the name
        return f"{name!r} is not a local folder (it is a file: give the folder that holds the model's files)"
    try:
        validate_repo_id(name)
    except HFValidationError:
        return f"{name!r} is not a local folder ({Path(name).resolve()} does not exist) and not a hub repository id"
    if constants.HF_HUB_OFFLINE:
        return None  # the hub client looks in its cache only, and fails at once if the files are not there
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError as err:
        return (
            f"{name!r} is not a local folder, and the Hugging Face hub ({host}) cannot be reached: its name does not "
            f"resolve ({err.strerror or err}); without network, set HF_HUB_OFFLINE=1 and point at a local folder"
        )
    return None


def offline() -> bool:
    """Whether the hub client is told not to use the network (``HF_HUB_OFFLINE``)."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


def near_miss(name: str) -> str:
    """``"did you mean models/ner-sample?"`` (or ``"models/ holds a, b"``) when ``name``'s folder exists here but
    ``name`` does not: a mistyped local path, which the hub error alone does not point out. Empty otherwise."""
    import difflib

    path = Path(name)
    if path.parent == Path(".") or not path.parent.is_dir():
        return ""
    try:
        folders = sorted(p.name for p in path.parent.iterdir() if p.is_dir())
    except OSError:
        return ""
    guess = difflib.get_close_matches(path.name, folders, n=1)
    if guess:
        return f"did you mean {path.parent / guess[0]}?"
    shown = ", ".join(folders[:8]) + (", ..." if len(folders) > 8 else "")
    return f"{path.parent}/ holds {shown or 'no folders'}"


def first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0] if lines else 'no detail'}"


def resolve_model_dir(name_or_path: str | Path, revision: str | None = None) -> Path:
    """A local folder as is; a hub id downloaded (or taken from the local cache) into a folder.

    Raises:
        FileNotFoundError: neither a local folder nor a reachable hub repository; says how to fix it.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return path
    problem = hub_problem(str(name_or_path))
    if problem:
        hint = near_miss(str(name_or_path)) or "point at a local packaged folder (e.g. models/<name>)"
        raise FileNotFoundError(f"model {problem}; {hint}")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        # Pickled weights are never fetched: akhbar loads safetensors only (a repository with nothing else
        # then fails with that reason, see akhbar.inference.package.published_settings).
        return Path(snapshot_download(str(name_or_path), revision=revision, ignore_patterns=list(PICKLE_PATTERNS)))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError) as err:
        hint = near_miss(str(name_or_path)) or "point at a local packaged folder instead (e.g. models/<name>)"
        raise FileNotFoundError(
            f"model {str(name_or_path)!r} is not a local folder and could not be fetched from the Hugging Face "
            f"hub ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no detail'}); {hint}"
        ) from None

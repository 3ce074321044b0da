"""``manifest.json``: what a packaged folder must contain, with sha256 sums, checked before loading.

A packaged model is often copied between machines, synced, or downloaded. The manifest lets the loader
refuse a folder whose weights were truncated or swapped, whose label schema no longer matches its
config, or that carries pickled files, instead of silently predicting garbage (or running code).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path, PurePosixPath

MANIFEST_FILE = "manifest.json"
FORMAT = "akhbar-package/1"
# Files that can hold pickles (arbitrary code on load), in any letter case. A package never contains them.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".npy", ".npz", ".joblib", ".dill")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class NotAPackage(FileNotFoundError, ValueError):
    """A folder without the files every package has (``manifest.json``, ``akhbar.json``): a missing file, and a
    bad input like every other refused package."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: str | Path, info: dict) -> dict:
    """Hash every file of ``directory`` and write ``manifest.json`` with ``info`` (versions, schema …)."""
    directory = Path(directory)
    files = {
        name: {"sha256": sha256(directory / name), "bytes": (directory / name).stat().st_size}
        for name in _tree(directory)
    }
    manifest = {"format": FORMAT, **info, "files": files}
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def _tree(directory: Path) -> list[str]:
    """Every file below ``directory`` (posix names, sorted), ``manifest.json`` excepted.

    Raises:
        ValueError: an entry that is not a regular file or folder (a FIFO, a device, a socket) or a symbolic
            link to one, or to a folder: reading it could block, never end, or leave the package.
    """
    names = []
    for root, folders, files in os.walk(directory):
        for name in sorted(folders) + sorted(files):
            path = Path(root) / name
            relative = path.relative_to(directory).as_posix()
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                # The hub's cache links a snapshot's files to its blobs: a link to a regular file is read as
                # that file; a link to anything else is refused.
                try:
                    target = os.stat(path).st_mode
                except OSError:
                    raise ValueError(f"{path}: a symbolic link to nothing; the package is incomplete") from None
                if not stat.S_ISREG(target):
                    raise ValueError(f"{path}: a symbolic link to something that is not a regular file; refusing it")
                names.append(relative)
            elif stat.S_ISDIR(mode):
                continue
            elif stat.S_ISREG(mode):
                if relative != MANIFEST_FILE:
                    names.append(relative)
            else:
                raise ValueError(f"{path}: not a regular file (a FIFO, device or socket); a package holds files only")
    return sorted(names)


def _entry_fault(name: object, entry: object) -> str | None:
    """Why a ``files`` entry of the manifest is malformed or points outside the package, or ``None``."""
    if not isinstance(name, str) or not name:
        return "a file name must be a non-empty string"
    pure = PurePosixPath(name)
    if pure.is_absolute() or "\\" in name or any(part in ("..", ".") for part in pure.parts) or ":" in pure.parts[0]:
        return "is not a path inside the package"
    if not isinstance(entry, dict) or set(entry) != {"sha256", "bytes"}:
        return 'must map to {"sha256": ..., "bytes": ...}'
    if not isinstance(entry["sha256"], str) or not _SHA256.fullmatch(entry["sha256"]):
        return "sha256 must be 64 lower-case hex digits"
    if not isinstance(entry["bytes"], int) or isinstance(entry["bytes"], bool) or entry["bytes"] < 0:
        return "bytes must be a non-negative integer"
    return None


def verify_manifest(directory: str | Path) -> dict:
    """Check a packaged folder against its manifest and return the manifest.

    Raises:
        NotAPackage: no manifest.
        ValueError: an unreadable manifest, an entry outside the package, a missing, changed or extra
            file, a pickle file, or an entry that is not a regular file; the message names the file and the
            fault. (A swapped ``config.json`` or ``akhbar.json`` shows up as a changed file: the label schema
            and preprocessing cannot drift from the weights unnoticed.)
    """
    directory = Path(directory)
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise NotAPackage(
            f"{directory}: no {MANIFEST_FILE}; this is not a complete akhbar package (re-create it with "
            "`akhbar package RUN_DIR`)"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: unreadable manifest (not UTF-8: {err.reason} at byte {err.start})") from None
    except (json.JSONDecodeError, KeyError, TypeError, RecursionError) as err:
        raise ValueError(f"{path}: unreadable manifest ({type(err).__name__}: {err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ValueError(f"{path}: format {found!r} is not {FORMAT!r}")
    if not isinstance(files, dict):
        raise ValueError(f"{path}: 'files' must map file names to their sha256 and size")
    for name, entry in files.items():
        fault = _entry_fault(name, entry)
        if fault:
            raise ValueError(f"{path}: entry {name!r} {fault}; the manifest is malformed")
    present = set(_tree(directory))
    pickles = sorted(name for name in present if name.lower().endswith(PICKLE_SUFFIXES))
    if pickles:
        raise ValueError(f"{directory}: refusing to load a package that contains pickle files {pickles}")
    for name, entry in files.items():
        file = directory / name
        if name not in present:
            raise ValueError(f"{file}: listed in {MANIFEST_FILE} but missing; the package is incomplete")
        if file.stat().st_size != entry["bytes"] or sha256(file) != entry["sha256"]:
            raise ValueError(f"{file}: sha256 does not match {MANIFEST_FILE}; the file is corrupted or was changed")
    extra = sorted(present - set(files))
    if extra:
        raise ValueError(f"{directory}: files not in {MANIFEST_FILE}: {extra}; the package was modified")
    return manifest

"""``manifest.json``: what a packaged folder must contain, with sha256 sums, checked before loading.

A packaged model is often copied between machines, synced, or downloaded. The manifest lets the loader
refuse a folder whose weights were truncated or swapped, whose label schema no longer matches its
config, or that carries pickled files, instead of silently predicting garbage (or running code).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MANIFEST_FILE = "manifest.json"
FORMAT = "akhbar-package/1"
# Files that can hold pickles (arbitrary code on load). A package never contains them.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


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
        p.relative_to(directory).as_posix(): {"sha256": sha256(p), "bytes": p.stat().st_size}
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MANIFEST_FILE
    }
    manifest = {"format": FORMAT, **info, "files": files}
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def verify_manifest(directory: str | Path) -> dict:
    """Check a packaged folder against its manifest and return the manifest.

    Raises:
        ValueError: missing or unreadable manifest, a missing, changed or extra file, or a pickle file; the
            message names the file and the fault. (A swapped ``config.json`` or ``akhbar.json`` shows up as
            a changed file: the label schema and preprocessing cannot drift from the weights unnoticed.)
    """
    directory = Path(directory)
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise ValueError(
            f"{directory}: no {MANIFEST_FILE}; this is not a complete akhbar package (re-create it with "
            "`akhbar package RUN_DIR`)"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: unreadable manifest ({err})") from None
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: format {manifest.get('format')!r} is not {FORMAT!r}")
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()} - {MANIFEST_FILE}
    pickles = sorted(name for name in present if name.endswith(PICKLE_SUFFIXES))
    if pickles:
        raise ValueError(f"{directory}: refusing to load a package that contains pickle files {pickles}")
    for name, entry in files.items():
        file = directory / name
        if not file.is_file():
            raise ValueError(f"{file}: listed in {MANIFEST_FILE} but missing; the package is incomplete")
        if file.stat().st_size != entry["bytes"] or sha256(file) != entry["sha256"]:
            raise ValueError(f"{file}: sha256 does not match {MANIFEST_FILE}; the file is corrupted or was changed")
    extra = sorted(present - set(files))
    if extra:
        raise ValueError(f"{directory}: files not in {MANIFEST_FILE}: {extra}; the package was modified")
    return manifest

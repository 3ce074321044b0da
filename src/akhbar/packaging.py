"""The self-describing checkpoint folder: weights, tokenizer, settings, evaluation report, model card.

``models/<name>/`` loads with plain transformers (its task's Auto class, e.g.
``AutoModelForTokenClassification.from_pretrained``, and ``transformers.pipeline``), and with the task's
predictor (:class:`akhbar.NerTagger`, :class:`akhbar.EventClassifier`), which also applies the saved
preprocessing and windows. The folder is built under a temporary name beside its destination
and renamed into place at the end, so an interrupted packaging never leaves a half folder under the real
name.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from transformers import AutoTokenizer

from .articles import ReadOptions
from .evaluation import evaluate, headline, read_for, write
from .inference import LoadOptions
from .manifest import write_manifest
from .model_card import render_card
from .settings import SETTINGS_FILE, PackageSettings
from .tasks import Split, get_task

logger = logging.getLogger(__name__)

RUN_CONFIG = "run_config.json"


def check_destination(dest: str | Path, overwrite: bool, how: str = "pass --overwrite to replace it") -> None:
    """Refuse to replace an existing package unless ``overwrite`` (checked before a long run starts).

    ``how``: the fix, in the words of the command that asked (train.py and ``akhbar package`` differ).
    """
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} already exists; {how}")


def evaluation_data(run: dict) -> tuple[str, str] | None:
    """``(split, file)`` a run is reported on: its test file, else its validation file, else ``None`` (a
    validation split held out of train is no file to read again)."""
    for split in ("test", "validation"):
        entry = run.get("data", {}).get(split)
        if entry and entry.get("file") and not entry.get("held_out"):
            return split, entry["file"]
    return None


def package_run(
    run_dir: str | Path,
    dest: str | Path,
    *,
    overwrite: bool = False,
    data_file: str | None = None,
    evaluation: Split | None = None,
    push_to_hub: str | None = None,
    show_progress: bool = True,
) -> Path:
    """Package the model saved in ``run_dir`` as ``dest``: evaluate it, write report and card, rename.

    Args:
        run_dir: a training run's output folder (best model, ``akhbar.json``, ``run_config.json``).
        dest: the package folder to create.
        overwrite: replace ``dest`` if it exists.
        data_file: evaluate on this file instead of the run's test (or validation) file.
        evaluation: evaluate on these articles, already read and checked (training hands over its test or
            validation split, so it is not read twice).
        push_to_hub: also upload the finished folder to this hub repository id.

    Returns:
        ``dest``.
    """
    run_dir, dest = Path(run_dir), Path(dest)
    check_destination(dest, overwrite)
    if not (run_dir / SETTINGS_FILE).is_file():  # train.py writes it once training has ended
        raise FileNotFoundError(
            f"{run_dir}: no {SETTINGS_FILE}: not a finished train.py run folder (its output_dir); a run that was "
            "stopped goes on with --resume_from_checkpoint last"
        )
    settings = PackageSettings.load(run_dir)
    run_file = run_dir / RUN_CONFIG
    run = json.loads(run_file.read_text(encoding="utf-8")) if run_file.is_file() else {}
    target = ("data", data_file) if data_file else evaluation_data(run)
    if evaluation is not None and not data_file:
        target = evaluation.name, evaluation.file
    elif target and not data_file and not Path(target[1]).exists():  # checked before the model loads
        raise FileNotFoundError(
            f"{target[1]}: the run's {target[0]} file ({RUN_CONFIG}) is not there: a relative path is read from "
            "the current folder, so run from the one train.py ran in, or pass --data FILE"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in dest.parent.glob(f".{dest.name}.partial-*"):  # left by a packaging that was killed
        logger.warning("removing %s, left by an interrupted packaging", stale)
        shutil.rmtree(stale)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    tmp.mkdir()
    try:
        task = get_task(settings.task)
        model = task.model_class().from_pretrained(run_dir, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(run_dir)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        settings.save(tmp)
        if run:
            (tmp / RUN_CONFIG).write_text(json.dumps(run, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        report = None
        if target is not None:
            split, path = target
            if evaluation is not None and not data_file:
                articles, skipped = evaluation.articles, evaluation.skipped
            else:
                data = run.get("data", {})
                options = ReadOptions(**data.get("read_options", {}))
                articles, load = read_for(settings, path, bool(data.get("skip_invalid", False)), options)
                skipped = len(load.skipped)
            # The packaged report measures the model as trained: float32 weights, whatever the machine prefers.
            predictor = task.predictor_class()(model, tokenizer, settings, LoadOptions(precision="float32"))
            report = evaluate(predictor, articles, data_name=path, show_progress=show_progress)
            report["data"]["split"] = split
            report["data"]["skipped_records"] = skipped
            write(report, tmp, title=dest.name)
            logger.info("%s on %s: %s", dest.name, path, headline(report))
        (tmp / "README.md").write_text(render_card(dest.name, settings, run, report), encoding="utf-8")
        write_manifest(tmp, manifest_info(settings, [model.config.id2label[i] for i in range(model.config.num_labels)]))
        # The manifest is written last, so a folder killed before this point never loads; the old package
        # (if replaced) is moved aside, not deleted, until the new one is in place.
        old = dest.with_name(f".{dest.name}.replaced-{os.getpid()}")
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    logger.info("packaged %s", dest)
    if push_to_hub:
        upload(dest, push_to_hub)
    return dest


def manifest_info(settings: PackageSettings, labels: list[str]) -> dict:
    """What the manifest records besides file hashes: versions, label schema, preprocessing."""
    import safetensors
    import tokenizers
    import torch
    import transformers

    return {
        "akhbar_version": settings.akhbar_version,
        "versions": {
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "safetensors": safetensors.__version__,
            "torch": torch.__version__,
        },
        "task": settings.task,
        "labels": labels,
        "entity_labels": settings.entity_labels,
        "event_labels": settings.event_labels,
        "multi_label": settings.multi_label,
        "pooling": settings.pooling,
        "thresholds": settings.thresholds,
        "preprocessing": settings.preprocessing.to_dict(),
        "max_length": settings.max_length,
        "stride": settings.stride,
        "base_model": settings.base_model,
    }


def upload(folder: str | Path, repo_id: str) -> None:
    """Upload a packaged folder to the Hugging Face hub (needs a token with write access)."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="Upload akhbar model")
    logger.info("uploaded %s to https://huggingface.co/%s", folder, repo_id)

"""The settings a packaged checkpoint carries beside its weights (``akhbar.json``).

Everything inference must do exactly as training did lives here: the preprocessing steps, the window
length and stride, the label schema. Training writes it; :mod:`akhbar.inference` reads it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .manifest import NotAPackage
from .preprocessing import PreprocessingConfig

SETTINGS_FILE = "akhbar.json"
AGGREGATIONS = ("max", "noisy_or")


@dataclass
class PackageSettings:
    """What a checkpoint needs to be used the way it was trained."""

    task: str  # a registered task's name (akhbar.tasks)
    entity_labels: list[str]  # NER: the entity types (id2label is their BIO expansion)
    preprocessing: PreprocessingConfig
    max_length: int
    stride: int
    base_model: str
    akhbar_version: str
    event_labels: list[str] = field(default_factory=list)  # events: id2label in order
    multi_label: bool = False  # events: sigmoid and thresholds instead of softmax and argmax
    pooling: str = "mean"  # events: how window logits become the article's
    thresholds: dict[str, float] | None = None  # events, multi-label: per-label decision thresholds
    join_sentences: int = 0  # CoNLL evaluation files: sentences joined into articles of up to N words
    aggregation: str = "max"  # sentence events: how sentence probabilities become the article's (max, noisy_or)

    def __post_init__(self) -> None:
        # akhbar.json is read from packages of any origin: wrong types fail here, naming the key, rather than
        # deep inside tokenization.
        def need(ok: bool, key: str, expected: str) -> None:
            if not ok:
                raise ValueError(f"{key} must be {expected}, found {getattr(self, key)!r}")

        def strings(value) -> bool:
            return isinstance(value, list) and all(isinstance(v, str) and v for v in value)

        def integer(value) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        need(isinstance(self.task, str) and bool(self.task), "task", "a task name")
        need(strings(self.entity_labels), "entity_labels", "a list of label names")
        need(strings(self.event_labels), "event_labels", "a list of label names")
        need(isinstance(self.preprocessing, PreprocessingConfig), "preprocessing", "preprocessing settings")
        need(integer(self.max_length) and self.max_length >= 8, "max_length", "an integer of at least 8")
        need(
            integer(self.stride) and 0 <= self.stride < self.max_length // 2,
            "stride",
            "an integer in [0, max_length/2)",
        )
        need(integer(self.join_sentences) and self.join_sentences >= 0, "join_sentences", "a non-negative integer")
        need(isinstance(self.multi_label, bool), "multi_label", "true or false")
        need(self.pooling in ("mean", "max"), "pooling", "'mean' or 'max'")
        need(self.aggregation in AGGREGATIONS, "aggregation", f"one of {', '.join(AGGREGATIONS)}")
        need(
            self.thresholds is None
            or isinstance(self.thresholds, dict)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.thresholds.values()),
            "thresholds",
            "null or a mapping of labels to numbers",
        )
        need(isinstance(self.base_model, str), "base_model", "a string")
        need(isinstance(self.akhbar_version, str), "akhbar_version", "a string")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["preprocessing"] = self.preprocessing.to_dict()
        return data

    def save(self, directory: str | Path) -> None:
        path = Path(directory) / SETTINGS_FILE
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> PackageSettings:
        """Read ``akhbar.json`` from a folder.

        Raises:
            NotAPackage: the folder is not an akhbar package (no ``akhbar.json``).
            ValueError: the file is not valid settings.
        """
        path = Path(directory) / SETTINGS_FILE
        if not path.is_file():
            raise NotAPackage(
                f"{path}: not found; {directory} is not a packaged akhbar model (train.py writes one under "
                "models/, and `akhbar package RUN_DIR` packages a run folder)"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data["preprocessing"] = PreprocessingConfig.from_dict(data["preprocessing"])
            return cls(**data)
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}: not UTF-8 ({err.reason} at byte {err.start})") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, RecursionError) as err:
            raise ValueError(f"{path}: not valid akhbar settings: {type(err).__name__}: {err}") from None

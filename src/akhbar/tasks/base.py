"""The contract every task implements: what it learns, how it trains, how it is scored, served and described.

A task is the one place that knows what differs between, say, named entities and article events: the
transformers model class, the label schema and its checks, how articles become training examples, the
collator and loss, the Trainer's metrics, how a packaged model is evaluated and its report written, its
model-card section, its predictor, and what its ONNX parity check compares. The training pipeline
(:mod:`akhbar.training`), packaging, evaluation, the CLI and the ONNX export ask the task and never branch on
its name. Heavy imports (torch, datasets, the Trainer) happen inside the methods that need them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from ..config import AkhbarTrainingArguments, DataArguments
    from ..preprocessing import PreprocessingConfig
    from ..settings import PackageSettings


@dataclass
class Split:
    """One data split: its name, where it came from, its articles, and how many records reading skipped.

    ``held_out``: a validation split drawn from the training file (no file of its own to read again).
    """

    name: str
    file: str
    articles: list[dict]
    skipped: int = 0
    held_out: bool = False


class Predictor(Protocol):
    """What evaluation needs of a loaded model: its settings and how it ran (each task's evaluator also
    calls its predictor's own method: ``tag`` for entities, ``scores`` for events)."""

    settings: PackageSettings
    backend: str
    precision: str


class Task(ABC):
    """One task. Subclasses set the class attributes and implement the methods; :func:`akhbar.tasks.register`
    makes them available under ``name``.

    Attributes:
        name: the config's ``task`` value and ``akhbar.json``'s.
        best_metric: the Trainer's validation metric that picks the best checkpoint (``metric_for_best_model:
            auto``).
        prediction_unit: what the ONNX parity check compares (``tokens``, ``windows``).
        pipeline_tag, card_tags, model_index_task, card_metric_names: the model card's metadata.
        example_config: a shipped config that trains it on the sample data (the contract test uses it).
        hf_head: how the architecture names of published checkpoints of the task end (a checkpoint whose
            ``config.architectures`` ends so is read as this task's model); ``None``: published checkpoints
            are never read as this task.
    """

    name: ClassVar[str]
    best_metric: ClassVar[str]
    prediction_unit: ClassVar[str]
    pipeline_tag: ClassVar[str]
    card_tags: ClassVar[list[str]]
    model_index_task: ClassVar[tuple[str, str]]
    card_metric_names: ClassVar[list[str]]
    example_config: ClassVar[str]
    hf_head: ClassVar[str | None]

    # --- the schema -------------------------------------------------------------------------------------
    @abstractmethod
    def schema(self, train: Split, data_args: DataArguments) -> list[str]:
        """The labels the model learns (given in the config, or found in ``train``), checked."""

    def entity_labels_for_reading(self, schema: list[str], data_args: DataArguments) -> list[str] | None:
        """The entity labels the other splits are read against (``None``: any)."""
        return data_args.entity_labels

    def check_split(self, split: Split, schema: list[str], data_args: DataArguments) -> None:  # noqa: B027
        """Check a split's articles against the schema beyond what reading checks (raise ``ValueError``);
        by default reading checked everything."""

    @abstractmethod
    def model_labels(self, schema: Sequence[str]) -> list[str]:
        """The model's ``id2label``, in order."""

    @abstractmethod
    def schema_of(self, settings: PackageSettings) -> list[str]:
        """The schema a package was trained with."""

    def model_config(self, data_args: DataArguments) -> dict:
        """Extra ``from_pretrained`` config of the task's model (e.g. ``problem_type``)."""
        return {}

    @abstractmethod
    def settings_fields(self, schema: list[str], data_args: DataArguments) -> dict:
        """The task's fields of :class:`~akhbar.settings.PackageSettings`, known before training."""

    def without_validation(self, data_args: DataArguments) -> str:
        """What a run without validation data also loses, for the warning (``""``: nothing more)."""
        return ""

    # --- training ---------------------------------------------------------------------------------------
    @abstractmethod
    def build_trainer(
        self,
        *,
        model,
        tokenizer,
        training_args: AkhbarTrainingArguments,
        data_args: DataArguments,
        splits: dict[str, Split],
        schema: list[str],
        preprocessing: PreprocessingConfig,
        callbacks: list,
    ) -> tuple[object, Callable[[], dict]]:
        """The Trainer over the encoded train and validation splits, and a function that gives the settings
        fields only training can tell (called after training, on every process: e.g. tuned thresholds)."""

    # --- packaged models --------------------------------------------------------------------------------
    @abstractmethod
    def predictor_class(self) -> type:
        """The inference class that runs the task's packages."""

    def model_class(self):
        """The transformers Auto class of the task's model."""
        return self.predictor_class().model_class

    def check_articles(self, articles: list[dict], source: str, settings: PackageSettings) -> None:  # noqa: B027
        """Check articles a package is evaluated on beyond reading them (raise ``ValueError``); by default
        reading checked everything."""

    @abstractmethod
    def evaluate(self, predictor: Predictor, articles: Sequence[dict], data_name: str, show_progress: bool) -> dict:
        """The evaluation report (``eval_report.json``) of a loaded package on annotated articles."""

    @abstractmethod
    def write_report(self, report: dict, directory: Path, title: str) -> None:
        """``eval_report.json``, ``eval_report.md`` and the task's pictures in ``directory``."""

    @abstractmethod
    def headline(self, report: dict) -> str:
        """One line for logs and the CLI."""

    @abstractmethod
    def summary(self, report: dict) -> dict[str, float]:
        """A packaged report's headline figures under the names the Trainer logs them (fractions)."""

    @abstractmethod
    def compare_figures(self, report: dict) -> dict[str, float]:
        """The figures ``akhbar compare`` tables for one model (fractions, by column name)."""

    @abstractmethod
    def describe(self, settings: PackageSettings) -> str:
        """The labels of a package in one line (``akhbar info``)."""

    @abstractmethod
    def renamed(self, settings: PackageSettings, label_map: dict[str, str]) -> PackageSettings:
        """``settings`` with its labels renamed by ``label_map`` (to score against another schema)."""

    @abstractmethod
    def published_fields(self, labels: list[str], config, label_map: dict[str, str] | None) -> dict:
        """The :class:`~akhbar.settings.PackageSettings` fields of a published checkpoint of the task (one that is
        not an akhbar package), read from its ``id2label`` (``labels``) and config, types renamed by
        ``label_map``."""

    # --- the model card ---------------------------------------------------------------------------------
    @abstractmethod
    def card_metrics(self, report: dict) -> list[dict]:
        """``model-index`` metrics (fractions)."""

    @abstractmethod
    def card_intro(self, name: str, settings: PackageSettings, report: dict | None) -> list[str]:
        """The card's opening, how to load, and results."""

    @abstractmethod
    def card_use(self, settings: PackageSettings) -> tuple[str, str]:
        """``(intended use, a task-specific limitation)`` sentences of the card."""


def card_opening(
    summary: str,
    code: Sequence[str],
    report: dict | None,
    results: Callable[[dict], list[str]],
    note: Sequence[str] = (),
) -> list[str]:
    """A card's opening, the same shape for every task: what the model is, how to load it (``code``, Python
    lines), an optional ``note`` and the results (``results(report)``, or a line saying there were none)."""
    lines = [summary, "", "## How to load", "", "```python", *code, "```", "", *note, "## Results", ""]
    if report is None:
        return lines + ["Not evaluated: the run had no test or validation data.", ""]
    return lines + results(report)

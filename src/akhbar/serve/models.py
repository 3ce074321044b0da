"""The models a service holds: loaded and verified once, described for ``GET /v1/models``."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..inference import Analyzer, ArgumentTagger, EventClassifier, NerTagger, resolve_model_dir
from ..tasks import get_task

logger = logging.getLogger(__name__)
JOBS = ("analyze", "entities", "events")  # what a request asks of the models


def package_info(directory: Path, model) -> dict:
    """What ``GET /v1/models`` says of one loaded package: task, labels, base model, evaluation headline,
    manifest hash and versions (read from the files its manifest verified at load)."""
    settings = model.settings
    task = get_task(settings.task)
    # A published checkpoint (not an akhbar package) has no manifest: it is described as unverified.
    manifest_path = directory / "manifest.json"
    manifest_bytes = manifest_path.read_bytes() if manifest_path.is_file() else b""
    manifest = json.loads(manifest_bytes) if manifest_bytes else {}
    digest = hashlib.sha256(manifest_bytes or (directory / "config.json").read_bytes()).hexdigest()
    evaluation = None
    report_path = directory / "eval_report.json"
    if report_path.is_file():
        report = json.loads(report_path.read_text(encoding="utf-8"))
        evaluation = {**task.summary(report), "data": report["data"]["name"], "articles": report["data"]["articles"]}
    return {
        "name": directory.name,
        "task": settings.task,
        "verified": getattr(model, "verified", True),
        "labels": task.schema_of(settings),
        "multi_label": settings.multi_label if settings.event_labels and not settings.entity_labels else None,
        "base_model": settings.base_model,
        "evaluation": evaluation,
        "manifest_sha256": digest if manifest_bytes else None,
        "model_version": f"{directory.name}@{digest[:12]}",
        "max_length": settings.max_length,
        "preprocessing": settings.preprocessing.preset,
        "backend": model.backend,
        "precision": model.precision,
        "device": str(model.device),
        "versions": {"akhbar": settings.akhbar_version, **manifest.get("versions", {})},
    }


@dataclass
class ServedModels:
    """A NER package and, optionally, an events package (and an argument package), with the three jobs the
    routes ask for.

    ``analyze`` gives ``Analyzer.predict``'s ``{"entities", "events"}`` per text when the events model is loaded
    (each event with its ``evidence`` from a sentence event model, and its ``arguments`` from an argument
    model), ``{"entities"}`` with the NER model alone.
    """

    ner: NerTagger
    events: EventClassifier | None
    info: dict = field(default_factory=dict)
    arguments: ArgumentTagger | None = None  # last, so that ServedModels(ner, events, info) reads as before

    def __post_init__(self) -> None:
        # Analyzer refuses an argument model beside an article-level event model (it has no sentences to read).
        self.analyzer = Analyzer(self.ner, self.events, self.arguments) if self.events is not None else None

    @classmethod
    def load(
        cls, ner: str | Path, events: str | Path | None = None, arguments: str | Path | None = None, **options
    ) -> ServedModels:
        """Load (verifying each manifest) the packages; ``options`` go to ``from_pretrained`` (device,
        backend, precision, batch sizes). ``arguments`` (task ``arguments``) needs ``events`` to be a sentence
        event model."""
        if arguments is not None and events is None:
            raise ValueError(
                f"the argument model {arguments} reads the sentences that carry each event: give a sentence event "
                "model too (--events)"
            )
        if events is None:
            tagger, classifier, roles = NerTagger.from_pretrained(ner, **options), None, None
        else:  # Analyzer.from_pretrained checks the events package's task and loads the argument model
            loaded = Analyzer.from_pretrained(ner, events, arguments=arguments, **options)
            tagger, classifier, roles = loaded.ner, loaded.events, loaded.arguments
        info = {"ner": package_info(resolve_model_dir(ner), tagger), "events": None, "arguments": None}
        if classifier is not None:
            info["events"] = package_info(resolve_model_dir(events), classifier)
        if roles is not None:
            info["arguments"] = package_info(resolve_model_dir(arguments), roles)
        return cls(tagger, classifier, info, roles)

    @property
    def model_version(self) -> str:
        """Label Studio ``model_version``: ``NAME@HASH`` of each package, ``+`` between them (as
        :func:`akhbar.formats.model_version`)."""
        return "+".join(self.info[k]["model_version"] for k in ("ner", "events", "arguments") if self.info.get(k))

    def has(self, job: str) -> bool:
        return job != "events" or self.events is not None

    def run(self, job: str, texts: list[str]) -> list[dict]:
        """One result dict per text for ``job`` (one of :data:`JOBS`)."""
        if job == "entities":
            return [{"entities": e} for e in self.ner.predict(texts)]
        if job == "events":
            return [{"events": e} for e in self.events.predict(texts)]
        if self.analyzer is None:
            return [{"entities": e} for e in self.ner.predict(texts)]
        return self.analyzer.predict(texts)

"""Label Studio's ML-backend protocol on the same service: ``GET /health``, ``POST /setup``, ``POST /predict``
(and ``GET /versions``).

Label Studio (``label_studio/ml/api_connector.py``) posts ``{"project", "schema": label config, …}`` to
``/setup`` and expects ``{"model_version"}``; it posts ``{"tasks": [{"id", "data": {…}}, …], "project",
"label_config", "params"}`` to ``/predict`` and expects ``{"results": [one prediction per task, in order],
"model_version"}``, a prediction being ``{"result": [regions], "score", "model_version"}``, exactly what akhbar
writes for ``akhbar predict --format label-studio`` (:func:`akhbar.formats.label_studio.to_tasks`).

The names of the project's controls come from its labelling config: the ``<Labels>`` and ``<Choices>``
controls and the ``<Text>`` object they point to (its ``value="$field"`` names the task data field). Spans of
a label the project's ``<Labels>`` do not list are left out of the prediction, and logged with their count.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass

from ..formats import WriteOptions, predictions_to_articles
from ..formats.label_studio import to_tasks

logger = logging.getLogger(__name__)


@dataclass
class LabelConfig:
    """What akhbar needs of a Label Studio labelling config."""

    from_name: str = "label"  # the <Labels> control
    to_name: str = "text"  # the <Text> object
    text_field: str = "text"  # the task data field the <Text> shows ($text)
    choices_name: str = "event"  # the <Choices> control
    entity_labels: list[str] | None = None  # the <Labels>' values (None: no config given)
    event_labels: list[str] | None = None
    has_labels: bool = True
    has_choices: bool = True

    @classmethod
    def parse(cls, xml: str | None) -> LabelConfig:
        """Read a labelling config; ``None`` or ``""`` gives akhbar's default names.

        Raises:
            ValueError: not XML, or no ``<Text>`` object for the text.
        """
        if not xml:
            return cls()
        try:
            root = ET.fromstring(xml)
        except ET.ParseError as err:
            raise ValueError(f"the labelling config is not XML: {err}") from None
        texts = {t.get("name"): t.get("value", "") for t in root.iter("Text") if t.get("name")}
        if not texts:
            raise ValueError('the labelling config has no <Text name=… value="$field"> for akhbar to read')
        labels = next(iter(root.iter("Labels")), None)
        choices = next(iter(root.iter("Choices")), None)
        control = labels if labels is not None else choices
        to_name = control.get("toName") if control is not None else next(iter(texts))
        if to_name not in texts:
            raise ValueError(f"the labelling config's controls point to {to_name!r}, which is no <Text> in it")
        value = texts[to_name]
        if not value.startswith("$") or len(value) < 2:
            raise ValueError(f"<Text name={to_name!r}> has value {value!r}; akhbar reads a task field ($field)")
        return cls(
            from_name=labels.get("name", "label") if labels is not None else "label",
            to_name=to_name,
            text_field=value[1:],
            choices_name=choices.get("name", "event") if choices is not None else "event",
            entity_labels=[x.get("value") for x in labels.iter("Label")] if labels is not None else [],
            event_labels=[x.get("value") for x in choices.iter("Choice")] if choices is not None else [],
            has_labels=labels is not None,
            has_choices=choices is not None,
        )


def task_texts(tasks: list, config: LabelConfig) -> tuple[list[str], list[str]]:
    """The text and the id of each Label Studio task.

    Raises:
        ValueError: a task that is not an object, has no ``data`` object or no string ``data[text_field]``.
    """
    texts, ids = [], []
    for i, task in enumerate(tasks):
        ref = f"tasks[{i}]" + (f" (task {task.get('id')})" if isinstance(task, dict) and "id" in task else "")
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise ValueError(f"{ref}: a task must be an object with a 'data' object")
        text = task["data"].get(config.text_field)
        if not isinstance(text, str):
            raise ValueError(
                f"{ref}: data has no string field {config.text_field!r} (the labelling config's <Text> reads "
                f"${config.text_field})"
            )
        texts.append(text)
        ids.append(str(task.get("id", i)))
    return texts, ids


def predictions(texts: list[str], ids: list[str], results: list[dict], config: LabelConfig, version: str) -> list:
    """One Label Studio prediction per task, from akhbar's results (``{"entities", "events"}`` per text)."""
    unknown: Counter = Counter()  # labels the model gave that the project's config does not list
    kept = []
    for result in results:
        entities, events = result.get("entities", []), result.get("events", [])
        if not config.has_labels:
            entities = []
        elif config.entity_labels is not None:
            for e in entities:
                if e["label"] not in config.entity_labels:
                    unknown[e["label"]] += 1
            entities = [e for e in entities if e["label"] in config.entity_labels]
        if not config.has_choices:
            events = []
        elif config.event_labels is not None:
            for e in events:
                if e["label"] not in config.event_labels:
                    unknown[e["label"]] += 1
            events = [e for e in events if e["label"] in config.event_labels]
        kept.append({"entities": entities, "events": events})
    if unknown:
        logger.warning(
            "left out predictions whose labels the project's labelling config does not list: %s",
            ", ".join(f"{label} ({n})" for label, n in sorted(unknown.items())),
        )
    options = WriteOptions(
        predictions=True,
        model_version=version,
        from_name=config.from_name,
        to_name=config.to_name,
        choices_name=config.choices_name,
        text_field=config.text_field,
    )
    return [task["predictions"][0] for task in to_tasks(predictions_to_articles(texts, kept, ids), options)]

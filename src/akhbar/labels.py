"""The BIO label schema and the reading of tag sequences as entity spans."""

from __future__ import annotations

from collections.abc import Sequence


def label_fault(label: str) -> str | None:
    """Why ``label`` cannot be an entity type, or ``None``: types are plain names such as ``PERS``, ``LOC``.

    A space, an empty name, ``O`` or a ``B-``/``I-`` prefix would become tags such as ``B-LOC ``, ``B-`` or
    ``B-B-LOC`` in the model's schema.
    """
    if not label:
        return "is empty"
    if any(c.isspace() for c in label):
        return "contains whitespace"
    if label == "O" or label[:2] in ("B-", "I-"):
        return "is a tag, not a type (write LOC, not B-LOC; O means no entity)"
    return None


def bio_labels(entity_labels: Sequence[str]) -> list[str]:
    """``["O", "B-X", "I-X", ...]`` in the order of ``entity_labels``: the model's id2label."""
    return ["O"] + [f"{prefix}-{label}" for label in entity_labels for prefix in ("B", "I")]


def tags_to_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Entities as ``(first, end_exclusive, type)`` over tag positions; IOB1 and IOB2 both accepted.

    ``B-X`` always starts an entity; ``I-X`` continues an entity of type X or else starts one (IOB1, and
    sloppy IOB2). This is seqeval's default (lenient) reading, used for CoNLL input and for predictions.
    """
    spans: list[tuple[int, int, str]] = []
    for i, tag in enumerate(tags):
        if tag == "O":
            continue
        prefix, kind = tag.split("-", 1)
        if prefix == "I" and spans and spans[-1][1] == i and spans[-1][2] == kind:
            spans[-1] = (spans[-1][0], i + 1, kind)
        else:
            spans.append((i, i + 1, kind))
    return spans

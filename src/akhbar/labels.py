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


# Tagging schemes of published token-classification models, told apart by the prefixes their labels use.
SCHEMES = ("IOB2", "BIOES", "BILOU", "IO", "bare")


def detect_scheme(labels: Sequence[str]) -> str:
    """The tagging scheme of a model's labels: ``IOB2`` (``B-``/``I-``, read leniently, so IOB1 too),
    ``BIOES`` (``S-``/``E-`` as well), ``BILOU`` (``U-``/``L-``), ``IO`` (``I-`` only) or ``bare`` (types
    without prefixes, such as ``PER``).

    Raises:
        ValueError: labels that mix schemes or have no entity label at all.
    """
    prefixes = {label.split("-", 1)[0] for label in labels if label != "O" and "-" in label}
    bare = [label for label in labels if label != "O" and "-" not in label]
    if bare and prefixes:
        raise ValueError(f"labels {list(labels)} mix bare types ({bare}) and prefixed tags; cannot read them as spans")
    if bare:
        return "bare"
    if not prefixes:
        raise ValueError(f"labels {list(labels)} hold no entity label")
    for scheme, allowed in (
        ("IO", {"I"}),
        ("IOB2", {"B", "I"}),
        ("BIOES", {"B", "I", "E", "S"}),
        ("BILOU", {"B", "I", "L", "U"}),
    ):
        if prefixes <= allowed:
            return scheme
    raise ValueError(f"labels {list(labels)}: prefixes {sorted(prefixes)} fit none of {', '.join(SCHEMES)}")


def to_iob(label: str, scheme: str, label_map: dict[str, str] | None = None) -> str:
    """A model label as the IOB tag span decoding reads (:func:`tags_to_spans`), its type renamed by
    ``label_map`` (``PER`` -> ``PERS``, to score against a gold schema).

    Single-token and last-token tags become ``B-``/``I-`` (``S-X``/``U-X`` -> ``B-X``, ``E-X``/``L-X`` ->
    ``I-X``); a bare type ``X`` is ``I-X`` (consecutive words of one type are one entity, as in IO).
    """
    if label == "O":
        return label
    if scheme == "bare":
        prefix, kind = "I", label
    else:
        prefix, kind = label.split("-", 1)
        prefix = {"S": "B", "U": "B", "E": "I", "L": "I"}.get(prefix, prefix)
    return f"{prefix}-{(label_map or {}).get(kind, kind)}"

"""Outside formats of annotated articles: one module per format, each a reader and a writer.

A format module defines a :class:`Format` subclass and calls :func:`register` on it; every module of this
package is imported the first time a format is looked up, so a new format is one new module and nothing
else changes. :func:`find_format` names the format of a path from its content (each format's ``sniff``),
unless the user names it.

A reader yields :class:`Item` objects: an article record (which :func:`akhbar.articles.read_articles` then
validates) or the :class:`~akhbar.articles.AnnotationError` of a bad one, so that ``skip_invalid`` can count
it and go on. Annotation-tool readers build :class:`~akhbar.formats.annotations.Task` objects and let
:func:`~akhbar.formats.annotations.resolve` check offsets, apply the annotator policy and measure agreement,
the same way for every tool.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..articles import AnnotationError, LoadReport, ReadOptions

_REGISTRY: dict[str, Format] = {}
_ALL_IMPORTED = False
_HELPERS = {"annotations", "offsets"}  # modules of this package that are not formats
SNIFF_BYTES = 1 << 16
FOLDER_FORMATS = ("brat", "doccano", "webanno-tsv")  # the formats whose exports can be a folder


@dataclass
class Source:
    """What a reader reads: the path, the options, the report it adds its counts to."""

    path: Path
    options: ReadOptions
    report: LoadReport
    join_sentences: int = 0
    entity_labels: Sequence[str] | None = None


@dataclass
class Item:
    """One record read: an article record, or the error that makes it unusable.

    ``records``: how many source records it stands for (a CoNLL article of joined sentences stands for several).
    """

    path: Path
    line: int | None
    record: dict | None = None
    error: AnnotationError | None = None
    records: int = 1


@dataclass
class WriteOptions:
    """How to write articles or predictions.

    Attributes:
        predictions: write model output (Label Studio ``predictions`` with scores, no ``answer`` in Prodigy)
            rather than annotations.
        model_version: Label Studio ``model_version`` of predictions (package name and manifest hash).
        from_name, to_name, choices_name: Label Studio: the ``<Labels>`` name, the ``<Text>`` name and the
            ``<Choices>`` name of the user's labelling config.
        text_field: Label Studio: the task data field for the text.
        skip_unrepresentable: leave out (and count) what the target format cannot hold, such as events in
            brat or CoNLL, instead of stopping.
    """

    predictions: bool = False
    model_version: str | None = None
    from_name: str = "label"
    to_name: str = "text"
    choices_name: str = "event"
    text_field: str = "text"
    skip_unrepresentable: bool = False
    dropped: Counter = field(default_factory=Counter)  # what the writer left out, by kind


class Format:
    """A reader and a writer of one outside format.

    Attributes:
        name: the name users give (``--format``, ``data_format:``).
        description: one line for help texts.
        folder: whether it is written as a folder (one file per article) rather than one file.
        holds_events: whether it can hold the article's events.
        holds_judged: whether it can hold which event labels an article was judged for (``judged``).
        holds_text: whether the text comes back exactly (CoNLL re-spaces it).
    """

    name = ""
    description = ""
    folder = False
    holds_events = True
    holds_judged = False
    holds_text = True

    def sniff(self, path: Path, head: str | None) -> bool:
        """Whether ``path`` is in this format; ``head``: the start of a file as text (``None`` for folders)."""
        raise NotImplementedError

    def read(self, source: Source) -> Iterator[Item]:
        raise NotImplementedError

    def write(self, articles: Sequence[dict], path: Path, options: WriteOptions) -> None:
        raise NotImplementedError

    def check_writable(self, article: dict, options: WriteOptions) -> dict:
        """The article as this format can hold it: events refused (or dropped and counted) where it has none."""
        if article.get("events") and not self.holds_events:
            if not options.skip_unrepresentable:
                raise ValueError(
                    f"article {article['id']!r} has events {event_labels(article)} and {self.name} has no place for "
                    "article events; convert to a format that holds them, or pass --skip-unrepresentable to leave "
                    "them out (counted)"
                )
            options.dropped["article events"] += len(article["events"])
            article = {**article, "events": []}
        if article.get("judged") is not None and not self.holds_judged:
            if not options.skip_unrepresentable:
                raise ValueError(
                    f"article {article['id']!r} was judged for {article['judged']} only, and {self.name} has no place "
                    "for that: every label would read as judged; convert to jsonl, or pass --skip-unrepresentable to "
                    "leave it out (counted)"
                )
            options.dropped["judged lists"] += 1
            article = {k: v for k, v in article.items() if k != "judged"}
        return article


def register(fmt: type[Format]) -> type[Format]:
    """Class decorator: make a format available by its name."""
    _REGISTRY[fmt.name] = fmt()
    return fmt


def formats() -> dict[str, Format]:
    """Every registered format by name (importing the format modules once: a module imported on its own
    before, such as ``label_studio`` by the ML backend, has registered itself only)."""
    global _ALL_IMPORTED
    if not _ALL_IMPORTED:
        for module in pkgutil.iter_modules(__path__):
            if module.name not in _HELPERS:
                importlib.import_module(f"{__name__}.{module.name}")
        _ALL_IMPORTED = True
    return _REGISTRY


def get_format(name: str) -> Format:
    table = formats()
    if name not in table:
        raise ValueError(f"unknown data format {name!r}; choose one of {', '.join(sorted(table))}")
    return table[name]


def find_format(path: str | Path, name: str | None = None) -> Format:
    """The format ``name``, or the one format whose ``sniff`` accepts the content of ``path``.

    Raises:
        ValueError: no format or several formats recognise the content; says how to name one.
    """
    path = Path(path)
    if name:
        fmt = get_format(name)
        if path.is_dir() and fmt.name not in FOLDER_FORMATS:  # was a bare "[Errno 21] Is a directory"
            raise ValueError(
                f"{path}: a folder; {fmt.name} is read one file at a time (folders: {', '.join(FOLDER_FORMATS)})"
            )
        return fmt
    head = None
    if path.is_file():
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES).decode("utf-8", errors="replace").removeprefix("\ufeff")
    found = [fmt for fmt in formats().values() if fmt.sniff(path, head)]
    if len(found) == 1:
        return found[0]
    names = ", ".join(sorted(formats()))
    if not found:
        what = "folder" if path.is_dir() else "file"
        if head is not None and not head.strip() and path.stat().st_size <= SNIFF_BYTES:
            raise ValueError(f"{path}: the file is empty (no records to read)")
        entries = list(path.iterdir()) if path.is_dir() else []
        if path.is_dir() and not entries:
            raise ValueError(f"{path}: the folder is empty (no records to read)")
        jsonl = sorted(p for p in entries if p.suffix.lower() == ".jsonl")
        if jsonl:
            raise ValueError(
                f"{path}: a folder of .jsonl files: give one file (such as {jsonl[0]}); only "
                f"{', '.join(FOLDER_FORMATS)} exports are read as folders"
            )
        raise ValueError(
            f"{path}: cannot tell the format of this {what} from its content; name it with --format "
            f"(or data_format: in the config), one of {names}"
        )
    raise ValueError(
        f"{path}: the content fits several formats ({', '.join(f.name for f in found)}); name it with --format"
    )


def event_labels(article: dict) -> list[str]:
    """The event labels of an article whose events are labels or predictions ``{"label", "score"}``."""
    return [e["label"] if isinstance(e, dict) else e for e in article.get("events", [])]


def event_scores(article: dict) -> list[tuple[str, float | None]]:
    return [(e["label"], e.get("score")) if isinstance(e, dict) else (e, None) for e in article.get("events", [])]


def check_output_path(path: str | Path) -> None:
    """Refuse an output whose folder does not exist, before any work (the open() further on would stop with a
    bare ``[Errno 2]`` after the model had run). The folder is not made: a mistyped path should not quietly
    grow a tree."""
    parent = Path(path).absolute().parent
    if not parent.is_dir():
        raise ValueError(f"{path}: cannot write there, the folder {parent} does not exist")


def write_articles(
    articles: Sequence[dict], path: str | Path, data_format: str, options: WriteOptions | None = None
) -> WriteOptions:
    """Write ``articles`` (annotations, or predictions with scores) to ``path`` in ``data_format``.

    Returns:
        The options, whose ``dropped`` counts what was left out with ``skip_unrepresentable``.

    Raises:
        ValueError: an article holds what the format cannot (unless ``skip_unrepresentable``).
    """
    options = options or WriteOptions()
    fmt = get_format(data_format)
    check_output_path(path)
    # Checked for every format here, before anything is written: what the format cannot hold stops the
    # conversion (or, with skip_unrepresentable, is left out and counted).
    fmt.write([fmt.check_writable(a, options) for a in articles], Path(path), options)
    return options


def predictions_to_articles(texts: Sequence[str], results: Sequence, ids: Sequence[str] | None = None) -> list[dict]:
    """Articles from model output: ``NerTagger.predict`` (a list of entities per text),
    ``EventClassifier.predict`` (a list of ``{"label", "score"}`` per text), ``ArgumentTagger.predict`` (the
    role as the label) or ``Analyzer.predict`` (``{"entities", "events"}`` per text)."""
    ids = list(ids) if ids is not None else [f"{i + 1}" for i in range(len(texts))]
    articles = []
    for ident, text, result in zip(ids, texts, results):
        if isinstance(result, dict):
            entities, events = result.get("entities", []), result.get("events", [])
        elif result and "start" not in result[0]:
            entities, events = [], result
        else:
            entities, events = result, []
        # An argument's role is its label in an annotation tool (ArgumentTagger.predict says "role").
        entities = [{k: e[k] for k in ("start", "end", "label", "score") if k in e} | _role(e) for e in entities]
        articles.append({"id": ident, "text": text, "entities": entities, "events": list(events)})
    return articles


def _role(entity: dict) -> dict:
    return {"label": entity["role"]} if "label" not in entity and "role" in entity else {}


def model_version(*packages: str | Path) -> str:
    """Label Studio ``model_version`` of packaged models: ``NAME@HASH`` per package (``+`` between them), the
    hash being the first 12 hex digits of the sha256 of its ``manifest.json``, which changes with any file."""
    parts = []
    for package in packages:
        package = Path(package)
        digest = hashlib.sha256((package / "manifest.json").read_bytes()).hexdigest()[:12]
        parts.append(f"{package.name}@{digest}")
    return "+".join(parts)

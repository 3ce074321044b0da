"""brat standoff: a folder of ``NAME.txt`` + ``NAME.ann`` pairs (sub-folders too).

Reading. ``T`` lines (``T1<TAB>LABEL START END<TAB>TEXT``) are the entities; their text is checked against
the ``.txt`` (read byte for byte: a CRLF counts two characters, as brat counts them). A discontinuous span
(``START END;START END``), and every other kind of line (``R`` relations, ``E`` events, ``A``/``M``
attributes, ``N`` normalizations, ``*`` equivalences, ``#`` notes) are things akhbar cannot hold. The id is
the file's path in the folder without ``.txt``. brat has no place for article events.

Writing. One ``.txt`` (the text exactly) and one ``.ann`` per article, named by the article id (characters
that cannot be in a file name are %-escaped and read back), and an ``annotation.conf`` listing the entity
labels so that brat shows them. Predictions are written as plain ``T`` lines: brat has no field for a score.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote, unquote

from ..articles import AnnotationError
from . import Format, Item, Source, WriteOptions, register
from .annotations import Annotation, Task, resolve_all
from .offsets import Span

KINDS = {
    "R": "relation",
    "E": "event",
    "A": "attribute",
    "M": "attribute",
    "N": "normalization",
    "*": "equivalence",
    "#": "note",
}
CONFIG_FILES = {"annotation.conf", "visual.conf", "tools.conf", "kb_shortcuts.conf"}


def file_name(article_id: str) -> str:
    """A file name for an article id that reads back to the same id (see :func:`article_id`)."""
    return quote(article_id, safe=" -_.,:;()[]+=@~") or "_"


def article_id(stem: str) -> str:
    return unquote(stem)


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise AnnotationError(path, None, f"invalid UTF-8 at byte {err.start}") from None


def _task(txt: Path, ann: Path, ident: str) -> Task:
    text = _read_text(txt)
    annotation = Annotation(None, ref="")
    task = Task(ann, None, ident, text, [annotation], f"document {ident!r}")
    for number, line in enumerate(_read_text(ann).splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        tag = fields[0]
        if tag.startswith("T"):
            if len(fields) < 2 or len(fields[1].split(" ")) < 3:
                raise AnnotationError(ann, number, f"expected 'T<id> TAB LABEL START END TAB TEXT', found {line!r}")
            label, _, frags = fields[1].partition(" ")
            text_field = fields[2] if len(fields) > 2 else None
            pieces = [p.split(" ") for p in frags.split(";")]
            if not all(len(p) == 2 and p[0].isdigit() and p[1].isdigit() for p in pieces):
                raise AnnotationError(ann, number, f"{tag}: offsets {frags!r} are not 'START END' integers")
            if len(pieces) > 1:
                annotation.unrepresentable.append(("discontinuous span", f"{tag} ({label} {frags}, line {number})"))
                continue
            start, end = int(pieces[0][0]), int(pieces[0][1])
            annotation.spans.append(Span(start, end, label, text_field, f"{tag} (line {number})"))
        elif tag[:1] in KINDS:
            annotation.unrepresentable.append((KINDS[tag[:1]], f"{tag} (line {number}: {line[:60]!r})"))
        else:
            raise AnnotationError(
                ann, number, f"unknown annotation line {line[:60]!r} (brat lines start T, R, E, A, M, N, * or #)"
            )
    return task


@register
class Brat(Format):
    name = "brat"
    description = "brat standoff folder (.txt + .ann)"
    folder = True
    holds_events = False

    def sniff(self, path: Path, head: str | None) -> bool:
        if head is not None:
            return path.suffix == ".ann"
        return any(path.rglob("*.ann"))

    def read(self, source: Source) -> Iterator[Item]:
        root = source.path
        anns = [root] if root.is_file() else sorted(root.rglob("*.ann"))
        items: list = []
        for ann in anns:
            txt = ann.with_suffix(".txt")
            rel = ann.with_suffix("").name if root.is_file() else ann.relative_to(root).with_suffix("").as_posix()
            ident = "/".join(article_id(part) for part in rel.split("/"))
            if not txt.is_file():
                items.append(Item(ann, None, error=AnnotationError(ann, None, f"no text file {txt.name} beside it")))
                continue
            try:
                items.append(_task(txt, ann, ident))
            except AnnotationError as error:
                items.append(Item(ann, error.line, error=error))
        yield from resolve_all(items, source)

    def write(self, articles: Sequence[dict], path: Path, options: WriteOptions) -> None:
        path.mkdir(parents=True, exist_ok=True)
        labels: set[str] = set()
        for article in articles:
            name = file_name(article["id"])
            txt = path / f"{name}.txt"
            text = article["text"]
            lines = []
            for i, e in enumerate(sorted(article["entities"], key=lambda e: e["start"]), start=1):
                span = text[e["start"] : e["end"]]
                if "\n" in span or "\r" in span:
                    raise ValueError(
                        f"article {article['id']!r}: span [{e['start']}, {e['end']}) crosses a line break, which a "
                        "brat T line cannot hold as one fragment"
                    )
                labels.add(e["label"])
                lines.append(f"T{i}\t{e['label']} {e['start']} {e['end']}\t{span}\n")
            txt.write_bytes(text.encode("utf-8"))
            txt.with_suffix(".ann").write_text("".join(lines), encoding="utf-8")
        conf = "[entities]\n" + "".join(f"{label}\n" for label in sorted(labels))
        conf += "\n[relations]\n\n[events]\n\n[attributes]\n"
        (path / "annotation.conf").write_text(conf, encoding="utf-8")

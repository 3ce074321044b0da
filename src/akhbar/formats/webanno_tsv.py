"""INCEpTION / WebAnno TSV 3.3: one document per file, one token per row, one column per layer feature.

Reading. The header names the layers (``#T_SP=…NamedEntity|identifier|value``); a sentence is its ``#Text=``
line(s) and its rows ``SENT-TOKEN<TAB>BEGIN-END<TAB>TOKEN<TAB>…``, where a row ``1-3.1`` is a sub-token
(part of token 3: Arabic clitics are annotated inside words that way). The NamedEntity ``value`` column gives
the label: ``LOC`` on one unit, ``LOC[4]`` on every unit of multi-unit span 4, ``LOC[4]|PERS[5]`` for stacked
(overlapping) spans; ``_`` is none and ``*`` an entity without a label (an error). The document text is the
sentences placed at their tokens' offsets (what lies between sentences, which the format does not keep, is
read as line breaks), and every token's text is checked at its offsets: INCEpTION counts UTF-16 code units
(Java), so those are tried first, then code points. A filled ``identifier`` (entity linking), and values in
any other layer, are things akhbar cannot hold. A folder is read file by file; in INCEpTION's export layout
(``annotation/DOCUMENT/USER.tsv``) the folder is the document and each file an annotator.

Writing. One ``.tsv`` per article (named as brat names files), only the NamedEntity layer, one sentence per
line of the text, tokens split at whitespace, UTF-16 offsets; a span edge inside a token becomes a sub-token
row. TSV has no place for article events.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..articles import AnnotationError, read_lines
from . import Format, Item, Source, WriteOptions, register
from .annotations import Annotation, Task, resolve_all
from .brat import article_id, file_name
from .offsets import Span, unit_map

HEADER = "#FORMAT=WebAnno TSV 3.3"
NE_LAYER = "de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity"
_ROW = re.compile(r"^(\d+)-(\d+)(?:\.(\d+))?$")
_CELL = re.compile(r"^(.*?)(?:\[(\d+)\])?$")
_EMPTY_FEATURE = re.compile(r"^\*(\[\d+\])?(\|\*(\[\d+\])?)*$")
_SPECIAL = "\\[]|_->;\t\n*"


def unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value, flags=re.S)


def escape(value: str) -> str:
    return "".join("\\" + c if c in _SPECIAL else c for c in value)


def _split_cell(cell: str) -> list[str]:
    """A cell's stacked values (``A[1]|B[2]``), splitting at unescaped ``|``."""
    return re.split(r"(?<!\\)\|", cell)


def _u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _parse(path: Path, annotator: str | None, ident: str) -> Task:
    lines = list(read_lines(path))
    if not lines or lines[0][1].strip() != HEADER:
        found = lines[0][1][:40] if lines else "an empty file"
        raise AnnotationError(path, 1, f"expected the header {HEADER!r}, found {found!r}")
    columns: list[tuple[str, str]] = []  # (layer, feature) per annotation column
    sentences: list[tuple[int, str, list]] = []  # (line, text, rows)
    text_lines: list[str] = []
    for number, line in lines[1:]:
        if line.startswith("#T_"):
            layer, *features = line.split("=", 1)[1].split("|")
            columns += [(layer, f) for f in features] if line.startswith("#T_") else []
        elif line.startswith("#Text="):
            if not text_lines or sentences and sentences[-1][2]:
                sentences.append((number, "", []))
                text_lines = []
            text_lines.append(line[len("#Text=") :])
            sentences[-1] = (sentences[-1][0], "\n".join(text_lines), [])
        elif line.strip() and not line.startswith("#"):
            if not sentences:
                raise AnnotationError(path, number, "a token row before any #Text= line")
            cells = line.split("\t")
            if cells and cells[-1] == "":
                cells = cells[:-1]
            m = _ROW.match(cells[0]) if cells else None
            offsets = cells[1].split("-") if len(cells) > 1 else []
            if m is None or len(offsets) != 2 or not all(o.isdigit() for o in offsets):
                raise AnnotationError(
                    path, number, f"expected 'SENT-TOKEN<TAB>BEGIN-END<TAB>TOKEN…', found {line[:60]!r}"
                )
            if len(cells) != 3 + len(columns):
                raise AnnotationError(
                    path, number, f"expected {3 + len(columns)} columns (3 + one per layer feature), found {len(cells)}"
                )
            sentences[-1][2].append((number, cells[0], int(offsets[0]), int(offsets[1]), unescape(cells[2]), cells[3:]))
        elif not line.strip():
            text_lines = [] if sentences and sentences[-1][2] else text_lines
    text, table, unit = _document_text(path, sentences)
    annotation = Annotation(annotator, ref=f"annotator {annotator}" if annotator else "")
    moved = 0
    try:
        value_col = columns.index((NE_LAYER, "value"))
    except ValueError:
        value_col = None
    groups: dict[int, list] = {}
    for _, _, rows in sentences:
        for number, row_id, begin, end, _token, cells in rows:
            b, e = table[begin], table[end]
            for col, ((layer, feature), cell) in enumerate(zip(columns, cells)):
                if cell == "_" or (col == value_col):
                    continue
                if layer == NE_LAYER and _EMPTY_FEATURE.match(cell):
                    continue  # an entity whose identifier is not set
                short = layer.rsplit(".", 1)[-1]
                what = "entity link" if (layer, feature) == (NE_LAYER, "identifier") else f"layer {short}"
                annotation.unrepresentable.append((what, f"{short}|{feature} {cell!r} on row {row_id} (line {number})"))
            if value_col is None or cells[value_col] == "_":
                continue
            for part in _split_cell(cells[value_col]):
                m = _CELL.match(part)
                label, span_id = unescape(m.group(1)), m.group(2)
                if label in ("", "*"):
                    raise AnnotationError(path, number, f"row {row_id}: a NamedEntity without a value ({part!r})")
                if span_id is None:
                    annotation.spans.append(Span(b, e, label, text[b:e], f"row {row_id} (line {number})"))
                    moved += (b, e) != (begin, end)
                else:
                    groups.setdefault(int(span_id), []).append((b, e, label, row_id, number, begin, end))
    for span_id, units in sorted(groups.items()):
        labels = {u[2] for u in units}
        if len(labels) > 1:
            raise AnnotationError(path, units[0][4], f"span [{span_id}] has several labels {sorted(labels)}")
        b, e = min(u[0] for u in units), max(u[1] for u in units)
        moved += (b, e) != (min(u[5] for u in units), max(u[6] for u in units))
        annotation.spans.append(Span(b, e, units[0][2], text[b:e], f"span [{span_id}] (line {units[0][4]})"))
    task = Task(path, sentences[0][0] if sentences else None, ident, text, [annotation], f"document {ident!r}")
    if moved:
        task.converted[unit] += moved
    return task


def _document_text(path: Path, sentences: list) -> tuple[str, list[int], str]:
    """The document text and the map from the file's offsets to code points, in the unit that makes every
    token's text match (UTF-16 code units first, as INCEpTION writes them, then code points)."""
    first_bad = None
    for unit in ("utf16", "codepoint"):
        measure = _u16 if unit == "utf16" else len
        text, ok = "", True
        for _, sentence, rows in sentences:
            if not rows:
                continue
            lead = sentence.find(rows[0][4])
            start = rows[0][2] - measure(sentence[: max(lead, 0)])
            gap = start - measure(text)
            if lead < 0 or gap < 0:
                ok = False
                first_bad = first_bad or (rows[0], sentence)
                break
            text += "\n" * gap + sentence
        if not ok:
            continue
        table = unit_map(text, unit)
        for row in (r for _, _, rows in sentences for r in rows):
            number, row_id, begin, end, token, _ = row
            if (
                not (0 <= begin < end < len(table))
                or table[begin] < 0
                or table[end] < 0
                or text[table[begin] : table[end]] != token
            ):
                ok = False
                first_bad = first_bad or (
                    row,
                    text[table[begin] : table[end]] if 0 <= begin < end < len(table) else None,
                )
                break
        if ok:
            return text, table, unit
    (number, row_id, begin, end, token, _), got = first_bad
    raise AnnotationError(
        path,
        number,
        f"row {row_id}: token {token!r} at [{begin}, {end}) is not where the #Text lines put it (found {got!r}) in "
        "UTF-16 code units or in code points",
    )


def _files(root: Path) -> list[tuple[Path, str | None, str]]:
    """(file, annotator, document id) for a file or for every .tsv of a folder."""
    if root.is_file():
        return [(root, None, article_id(root.stem))]
    out = []
    for f in sorted(root.rglob("*.tsv")):
        rel = f.relative_to(root)
        if len(rel.parts) > 1:  # INCEpTION: DOCUMENT/USER.tsv
            out.append((f, f.stem, "/".join(article_id(p) for p in rel.parent.parts)))
        else:
            out.append((f, None, article_id(f.stem)))
    return out


@register
class WebAnnoTsv(Format):
    name = "webanno-tsv"
    description = "INCEpTION / WebAnno TSV 3.3 (a file, or a folder of files)"
    folder = True
    holds_events = False

    def sniff(self, path: Path, head: str | None) -> bool:
        if head is not None:
            return head.startswith("#FORMAT=WebAnno TSV")
        tsv = next(iter(sorted(path.rglob("*.tsv"))), None)
        if tsv is None or any(path.rglob("*.ann")):
            return False
        with tsv.open(encoding="utf-8", errors="replace") as f:
            return f.read(64).removeprefix("\ufeff").startswith("#FORMAT=WebAnno TSV")

    def read(self, source: Source) -> Iterator[Item]:
        tasks: dict[str, Task] = {}
        order: list = []
        for file, annotator, ident in _files(source.path):
            try:
                task = _parse(file, annotator, ident)
            except AnnotationError as error:
                order.append(Item(file, error.line, error=error))
                continue
            known = tasks.get(ident)
            if known is None:
                tasks[ident] = task
                order.append(task)
            elif known.text != task.text:
                fault = f"annotator {annotator}'s text differs from {known.path.name}'s for document {ident!r}"
                order.append(Item(file, None, error=AnnotationError(file, None, fault)))
            else:
                known.annotations += task.annotations
        yield from resolve_all(order, source)

    def write(self, articles: Sequence[dict], path: Path, options: WriteOptions) -> None:
        path.mkdir(parents=True, exist_ok=True)
        for article in articles:
            name = file_name(article["id"])
            target = path / f"{name}.tsv"
            target.write_text(_render(article), encoding="utf-8")


def _render(article: dict) -> str:
    text = article["text"]
    u16 = [0]
    for char in text:
        u16.append(u16[-1] + (2 if ord(char) > 0xFFFF else 1))
    entities = sorted(article["entities"], key=lambda e: e["start"])
    words = list(re.finditer(r"\S+", text))
    suffix: dict[int, str] = {}  # entity index -> "[N]" for spans over several units
    for i, e in enumerate(entities):
        if sum(m.start() < e["end"] and e["start"] < m.end() for m in words) > 1:
            suffix[i] = f"[{len(suffix) + 1}]"

    def row(row_id: str, s: int, f: int, values: list[tuple[str, str]]) -> str:
        identifier = "|".join(f"*{n}" for _, n in values) or "_"
        value = "|".join(f"{escape(label)}{n}" for label, n in values) or "_"
        return f"{row_id}\t{u16[s]}-{u16[f]}\t{escape(text[s:f])}\t{identifier}\t{value}\t"

    out = [HEADER, f"#T_SP={NE_LAYER}|identifier|value", "", ""]
    sentence, line_start = 0, 0
    for line in text.split("\n"):
        tokens = list(re.finditer(r"\S+", line))
        if tokens:
            sentence += 1
            out.append(f"#Text={line}")
            for t, m in enumerate(tokens, start=1):
                a, b = m.start() + line_start, m.end() + line_start
                whole, subs = [], []
                for i, e in enumerate(entities):
                    if e["start"] < b and a < e["end"]:
                        s, f = max(a, e["start"]), min(b, e["end"])
                        value = (e["label"], suffix.get(i, ""))
                        (whole if (s, f) == (a, b) else subs).append((s, f, value))
                out.append(row(f"{sentence}-{t}", a, b, [v for _, _, v in whole]))
                out += [row(f"{sentence}-{t}.{k}", s, f, [v]) for k, (s, f, v) in enumerate(subs, start=1)]
            out.append("")
        line_start += len(line) + 1
    return "\n".join(out) + "\n"

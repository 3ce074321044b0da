"""Convert public corpora into akhbar's native JSON Lines, with fixed seeded splits.

    akhbar prepare gsr --input ../shared/data/arabic_event_gsr --output data/gsr
    akhbar prepare ant --input ../shared/data/antcorpus --output data/ant

Each writes ``train.jsonl``, ``validation.jsonl``, ``test.jsonl`` and ``prepare_report.json`` (counts, the
label mapping, the seed). ``data/README.md`` documents the corpora, their licences and the mapping.
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

from sklearn.model_selection import train_test_split

logger = logging.getLogger(__name__)

GSR_FILES = {"PROTEST": "protest_gsr.csv", "ASSAULT": "assault_gsr.csv"}
GSR_VOTES = {"yes": "yes", "easy no": "no", "difficult no": "no", "ambiguous": "ambiguous"}
ANT_FIELDS = ("DOCNO", "CAT", "TITLE", "ABSTRACT", "TEXT")


def split_articles(articles: list[dict], strata: list[str], seed: int, validation: float, test: float) -> dict:
    """Seeded stratified train/validation/test split (strata: one key per article)."""
    index = list(range(len(articles)))
    rest, test_idx = train_test_split(index, test_size=test, random_state=seed, stratify=strata)
    rest_strata = [strata[i] for i in rest]
    train_idx, val_idx = train_test_split(
        rest, test_size=validation / (1 - test), random_state=seed, stratify=rest_strata
    )
    return {
        name: [articles[i] for i in sorted(idx)]
        for name, idx in (("train", train_idx), ("validation", val_idx), ("test", test_idx))
    }


def write_splits(splits: dict, output: Path, report: dict) -> dict:
    output.mkdir(parents=True, exist_ok=True)
    for name, articles in splits.items():
        with (output / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for article in articles:
                f.write(json.dumps(article, ensure_ascii=False) + "\n")
        report.setdefault("splits", {})[name] = {
            "articles": len(articles),
            "events": dict(Counter(e for a in articles for e in a["events"]).most_common()),
            "articles_without_event": sum(not a["events"] for a in articles),
        }
    (output / "prepare_report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return report


def prepare_gsr(
    source: str | Path, output: str | Path, seed: int = 13, ambiguous: str = "exclude", unjudged: str = "unknown"
) -> dict:
    """arabic_event_gsr -> multi-label PROTEST/ASSAULT sentences.

    Mapping: "yes" (all annotators accept) -> the file's event; "easy no" and "difficult no" -> not that
    event; "ambiguous" -> excluded (``ambiguous="exclude"``, default), or counted as ``positive`` or
    ``negative``. A sentence listed several times takes the common vote if its rows agree (yes/no) and
    is ambiguous if they do not. Each sentence was judged for the event type(s) of the file(s) it is in,
    nearly always one: ``judged`` lists them, so the other type is unknown for it, not negative (the corpus
    was drawn per event type; see data/README.md). ``unjudged="negative"`` leaves ``judged`` out, so the other
    type reads as a negative: the same sentences and split, the "before" variant of bench/events_judged.py,
    which scored as well or better on the judged labels there (BENCHMARKS.md).
    """
    source, output = Path(source), Path(output)
    if ambiguous not in ("exclude", "positive", "negative"):
        raise ValueError(f"ambiguous must be exclude, positive or negative, found {ambiguous!r}")
    if unjudged not in ("unknown", "negative"):
        raise ValueError(f"unjudged must be unknown or negative, found {unjudged!r}")
    votes: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    ids: dict[str, str] = {}
    rows = 0
    for event, name in GSR_FILES.items():
        path = source / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found (expected the arabic_event_gsr CSV files in {source})")
        with path.open(encoding="utf-8", newline="") as f:
            for line, row in enumerate(csv.DictReader(f), start=2):
                if row.get("label") not in GSR_VOTES or not (row.get("text") or "").strip():
                    raise ValueError(f"{path}:{line}: expected a label in {sorted(GSR_VOTES)} and a text")
                rows += 1
                text = row["text"].strip()
                votes[text][event].add(GSR_VOTES[row["label"]])
                ids.setdefault(text, f"{event.lower()}-{row['id'][-40:]}")
    articles, dropped = [], Counter()
    for text, by_event in votes.items():
        events = []
        keep = True
        for event, vote in by_event.items():
            decided = vote.pop() if len(vote) == 1 else "ambiguous"
            if decided == "ambiguous":
                if ambiguous == "exclude":
                    keep = False
                    dropped[event] += 1
                    break
                decided = "yes" if ambiguous == "positive" else "no"
            if decided == "yes":
                events.append(event)
        if keep:
            articles.append(
                {"id": ids[text], "text": text, "entities": [], "events": sorted(events)}
                | ({"judged": sorted(by_event)} if unjudged == "unknown" else {})
            )
    strata = ["+".join(a["events"]) or ("none-" + a["id"].split("-")[0]) for a in articles]
    splits = split_articles(articles, strata, seed, 0.1, 0.1)
    report = {
        "corpus": "arabic_event_gsr",
        "source": str(source),
        "seed": seed,
        "mapping": {"yes": "event", "easy no": "no event", "difficult no": "no event", "ambiguous": ambiguous},
        "judged": "each sentence for the event types of the files it is in; the others "
        + ("unknown" if unjudged == "unknown" else "negative (unjudged: negative; no judged field written)"),
        "csv_rows": rows,
        "unique_sentences": len(votes),
        "excluded_ambiguous": dict(dropped),
        "articles": len(articles),
    }
    return write_splits(splits, output, report)


def _ant_field(raw: str, field: str) -> str | None:
    m = re.search(rf"<{field}>(.*?)</{field}>", raw, re.S)
    return m.group(1).strip() if m else None


def prepare_ant(source: str | Path, output: str | Path, seed: int = 13, skip_invalid: bool = False) -> dict:
    """ANT Corpus -> single-label articles (the category) with title, abstract and text as the article.

    Raises:
        ValueError: a file without DOCNO, CAT or TEXT (21 of the corpus files have an empty TEXT), or whose
            CAT disagrees with its folder; names the file. With ``skip_invalid`` such files are skipped and
            listed in the report instead.
    """
    source, output = Path(source), Path(output)
    files = sorted(source.glob("*/*.txt"))
    if not files:
        raise FileNotFoundError(f"{source}: no <category>/<article>.txt files (expected the ANT corpus layout)")
    articles, skipped = [], []
    for path in files:
        raw = path.read_text(encoding="utf-8")
        fields = {name: _ant_field(raw, name) for name in ANT_FIELDS}
        missing = [name for name in ("DOCNO", "CAT", "TEXT") if not fields[name]]
        fault = None
        if missing:
            fault = f"{path}: empty or missing {', '.join(missing)} field"
        elif fields["CAT"] != path.parent.name:
            fault = f"{path}: CAT {fields['CAT']!r} disagrees with its folder {path.parent.name!r}"
        if fault:
            if not skip_invalid:
                raise ValueError(fault + " (--skip-invalid skips such files and lists them in the report)")
            skipped.append(fault)
            continue
        parts = [fields["TITLE"], fields["ABSTRACT"], fields["TEXT"]]
        text = "\n\n".join(p for p in parts if p)
        articles.append({"id": fields["DOCNO"], "text": text, "entities": [], "events": [fields["CAT"]]})
    splits = split_articles(articles, [a["events"][0] for a in articles], seed, 0.1, 0.1)
    if skipped:
        logger.warning("skipped %d of %d files (first: %s)", len(skipped), len(files), skipped[0])
    report = {
        "corpus": "ANT Corpus v1.1",
        "source": str(source),
        "seed": seed,
        "mapping": "events = [CAT]; text = TITLE + ABSTRACT + TEXT",
        "files": len(files),
        "articles": len(articles),
        "skipped": skipped,
    }
    return write_splits(splits, output, report)


# --- arabic_event_gsr argument spans -------------------------------------------------------------------------

GSR_SPAN_FILES = {"PROTEST": "protest_spans.json", "ASSAULT": "assault_spans.json"}
GSR_ROLES = {"source_actor": "SOURCE", "verb": "TRIGGER", "target_actor": "TARGET"}
ARGUMENT_POLICIES = ("consensus", "first")


def _is_punct(char: str) -> bool:
    return unicodedata.category(char)[0] in "PS"


def _is_letter(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM"


def token_occurrences(text: str, tokens: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Where a token list of the corpus sits in ``text``: ``(how, spans)``.

    ``how`` is ``exact`` (the tokens joined by single spaces are a run of whole words of the text),
    ``normalized`` (they follow each other with only spaces or punctuation between them: the annotation
    tool split punctuation off words, ``«``, ``(``, ``.`` of ``س . ع``, and punctuation tokens
    may be missing or extra), ``discontiguous`` (every token is in the text, but other words come between
    them: ``لم يتردد ... عن التظاهر``), or ``missing`` (a token is no whole word of the text). ``spans``
    are the character ranges of every place it sits (whole words at both ends, punctuation trimmed off the
    edges), empty unless exact or normalized.
    """
    words = [t for t in tokens if t.strip()]
    letters = [t for t in words if any(_is_letter(c) for c in t)]
    if not letters:
        return "missing", []
    joined = " ".join(words)
    exact = [
        (m.start(), m.end())
        for m in re.finditer(re.escape(joined), text)
        if (m.start() == 0 or text[m.start() - 1].isspace()) and (m.end() == len(text) or text[m.end()].isspace())
    ]
    if exact:
        return "exact", [_trim(text, a, b) for a, b in exact]
    found = []
    for m in re.finditer(re.escape(letters[0]), text):
        if m.start() > 0 and _is_letter(text[m.start() - 1]):
            continue  # inside another word
        end = _follow(text, m.end(), letters[1:])
        if end is not None and (end == len(text) or not _is_letter(text[end])):
            found.append(_trim(text, m.start(), end))
    if found:
        return "normalized", found
    if all(_whole_word(text, t) for t in letters):
        return "discontiguous", []
    return "missing", []


def _whole_word(text: str, token: str) -> bool:
    """Whether ``token`` occurs in ``text`` with no letter right before or after it."""
    return any(
        (m.start() == 0 or not _is_letter(text[m.start() - 1]))
        and (m.end() == len(text) or not _is_letter(text[m.end()]))
        for m in re.finditer(re.escape(token), text)
    )


def _follow(text: str, pos: int, rest: list[str]) -> int | None:
    """The end of ``rest`` matched from ``pos`` with only spaces and punctuation skipped between tokens."""
    for token in rest:
        while pos < len(text) and (text[pos].isspace() or _is_punct(text[pos])) and not text.startswith(token, pos):
            pos += 1
        if not text.startswith(token, pos):
            return None
        pos += len(token)
    return pos


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (_is_punct(text[start]) or text[start].isspace()):
        start += 1
    while end > start and (_is_punct(text[end - 1]) or text[end - 1].isspace()):
        end -= 1
    return start, end


def _place_roles(candidates: dict[str, list[tuple[int, int]]]) -> dict[str, tuple[int, int]] | None:
    """One place per role such that no two roles overlap, earliest places first (``None``: none fits)."""
    roles = list(candidates)
    best = None
    for choice in itertools.product(*(range(len(candidates[r])) for r in roles)):
        spans = sorted(candidates[r][i] for r, i in zip(roles, choice))
        if any(b[0] < a[1] for a, b in zip(spans, spans[1:])):
            continue
        if best is None or sum(choice) < sum(best):
            best = choice
    return None if best is None else {r: candidates[r][i] for r, i in zip(roles, best)}


def _agreement(a: dict[str, tuple[int, int]], b: dict[str, tuple[int, int]]) -> float:
    """Character overlap (Dice) of two variants' spans, summed over the roles (both empty: 1)."""
    total = 0.0
    for role in GSR_ROLES.values():
        x, y = a.get(role), b.get(role)
        if x is None and y is None:
            total += 1.0
        elif x is not None and y is not None:
            overlap = max(0, min(x[1], y[1]) - max(x[0], y[0]))
            total += 2 * overlap / ((x[1] - x[0]) + (y[1] - y[0]))
    return total


def _record_fault(record: object) -> str | None:
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}"
    for key in ("_id", "text"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            return f"{key!r} must be a non-empty string, found {record.get(key)!r}"
    if not isinstance(record.get("spans"), list):
        return f"'spans' must be a list of variants, found {type(record.get('spans')).__name__}"
    for v, variant in enumerate(record["spans"]):
        if not isinstance(variant, dict):
            return f"spans[{v}] must be an object, found {type(variant).__name__}"
        for key in GSR_ROLES:
            tokens = variant.get(key, [])
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                return f"spans[{v}].{key} must be a list of token strings, found {tokens!r}"
    return None


def gsr_argument_articles(source: str | Path, policy: str = "consensus") -> tuple[list[dict], dict]:
    """arabic_event_gsr's ``*_spans.json`` -> one article per sentence and event type with its argument spans.

    Each record lists annotators' variants (``spans``), each a source actor, a verb and a target actor as
    token lists. Every token list is aligned to character offsets (:func:`token_occurrences`); a variant is
    usable when each of its non-empty token lists aligns and its roles land on places that do not overlap.
    ``policy`` picks one usable variant per sentence: ``consensus`` (default) the one that agrees most with
    the other usable variants (character overlap per role, ties to the earlier), or ``first``. Sentences
    without a usable variant are counted and left out, as are the corpus's unalignable token lists: they are
    the corpus's, not a fault of the file.

    Returns:
        The articles (``entities``: SOURCE, TRIGGER, TARGET spans; ``events``: the file's type; ``meta``: the
        CAMEO actor codes and which variant was taken) and the alignment report.

    Raises:
        FileNotFoundError: a spans file is missing.
        ValueError: a record that is not in the corpus's shape; names the file, the record and the fault.
    """
    if policy not in ARGUMENT_POLICIES:
        raise ValueError(f"policy must be one of {', '.join(ARGUMENT_POLICIES)}, found {policy!r}")
    source = Path(source)
    articles: list[dict] = []
    alignment: Counter = Counter()
    counts: Counter = Counter()
    for event, name in GSR_SPAN_FILES.items():
        path = source / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found (expected the arabic_event_gsr spans files in {source})")
        try:
            records = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not JSON ({err})") from None
        if not isinstance(records, list):
            raise ValueError(f"{path}: expected a JSON list of records, found {type(records).__name__}")
        for index, record in enumerate(records):
            fault = _record_fault(record)
            if fault is None and record.get("event_type", event) != event:
                fault = f"event_type {record['event_type']!r} in the {event} file"
            if fault:
                rid = record.get("_id") if isinstance(record, dict) else None
                raise ValueError(f"{path}: record {index}" + (f" (_id {rid!r})" if rid else "") + f": {fault}")
            text = record["text"].strip()
            counts[f"{event}_sentences"] += 1
            usable = []
            for v, variant in enumerate(record["spans"]):
                counts["variants"] += 1
                candidates, ok = {}, True
                for key, role in GSR_ROLES.items():
                    tokens = variant.get(key, [])
                    if not any(t.strip() for t in tokens):
                        alignment[f"{role} empty"] += 1
                        continue
                    how, places = token_occurrences(text, tokens)
                    alignment[f"{role} {how}"] += 1
                    alignment[how] += 1
                    if places:
                        candidates[role] = places
                        counts["several_places"] += len(places) > 1
                    else:
                        ok = False
                if not ok:
                    counts["variants_unaligned"] += 1
                    continue
                placed = _place_roles(candidates)
                if placed is None:
                    counts["variants_roles_overlap"] += 1
                    continue
                usable.append((v, placed, variant))
            if not usable:
                counts["sentences_without_usable_variant"] += 1
                continue
            if policy == "first" or len(usable) == 1:
                chosen = usable[0]
            else:
                scores = [sum(_agreement(p, q) for w, q, _ in usable if w != v) for v, p, _ in usable]
                chosen = usable[scores.index(max(scores))]
            v, placed, variant = chosen
            entities = sorted(
                ({"start": a, "end": b, "label": role} for role, (a, b) in placed.items()), key=lambda e: e["start"]
            )
            counts["sentences"] += 1
            counts["variants_usable"] += len(usable)
            articles.append(
                {
                    "id": f"{event.lower()}-{record['_id']}",
                    "text": text,
                    "entities": entities,
                    "events": [event],
                    "meta": {
                        "variant": v,
                        "variants": len(record["spans"]),
                        "usable_variants": len(usable),
                        "source_code": variant.get("source_role") or {},
                        "target_code": variant.get("target_role") or {},
                    },
                }
            )
    token_lists = sum(alignment[k] for k in ("exact", "normalized", "discontiguous", "missing"))
    report = {
        "policy": policy,
        "records": {e: counts[f"{e}_sentences"] for e in GSR_SPAN_FILES},
        "variants": counts["variants"],
        "token_lists": token_lists,
        "alignment": {k: alignment[k] for k in ("exact", "normalized", "discontiguous", "missing")},
        "alignment_by_role": {k: v for k, v in sorted(alignment.items()) if " " in k},
        "token_lists_with_several_places": counts["several_places"],
        "variants_unaligned": counts["variants_unaligned"],
        "variants_roles_overlap": counts["variants_roles_overlap"],
        "variants_usable": counts["variants_usable"],
        "sentences_without_usable_variant": counts["sentences_without_usable_variant"],
        "sentences": counts["sentences"],
        "arguments": dict(Counter(e["label"] for a in articles for e in a["entities"]).most_common()),
    }
    return articles, report


def prepare_gsr_arguments(
    source: str | Path, output: str | Path, seed: int = 13, policy: str = "consensus", test: float = 0.2
) -> dict:
    """arabic_event_gsr argument spans -> train/validation/test JSONL (see :func:`gsr_argument_articles`).

    Split: stratified by event type, seeded; validation 10%, test ``test`` (20% by default: the corpus has a
    few hundred sentences, and a tenth of it would score each role on a few dozen spans).
    """
    articles, report = gsr_argument_articles(source, policy)
    splits = split_articles(articles, [a["events"][0] for a in articles], seed, 0.1, test)
    report = {"corpus": "arabic_event_gsr (argument spans)", "source": str(source), "seed": seed, **report}
    report = write_splits(splits, Path(output), report)
    for name, split in splits.items():
        report["splits"][name]["arguments"] = dict(Counter(e["label"] for a in split for e in a["entities"]))
    (Path(output) / "prepare_report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return report

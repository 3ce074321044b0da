"""Convert public corpora into akhbar's native JSON Lines, with fixed seeded splits.

    akhbar prepare gsr --input ../shared/data/arabic_event_gsr --output data/gsr
    akhbar prepare ant --input ../shared/data/antcorpus --output data/ant

Each writes ``train.jsonl``, ``validation.jsonl``, ``test.jsonl`` and ``prepare_report.json`` (counts, the
label mapping, the seed). ``data/README.md`` documents the corpora, their licences and the mapping.
"""

from __future__ import annotations

import csv
import json
import logging
import re
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


def prepare_gsr(source: str | Path, output: str | Path, seed: int = 13, ambiguous: str = "exclude") -> dict:
    """arabic_event_gsr -> multi-label PROTEST/ASSAULT sentences.

    Mapping: "yes" (all annotators accept) -> the file's event; "easy no" and "difficult no" -> not that
    event; "ambiguous" -> excluded (``ambiguous="exclude"``, default), or counted as ``positive`` or
    ``negative``. A sentence listed several times takes the common vote if its rows agree (yes/no) and
    is ambiguous if they do not. Each sentence was judged for the event type(s) of the file(s) it is in,
    nearly always one: ``judged`` lists them, so the other type is unknown for it, not negative (the corpus
    was drawn per event type; see data/README.md).
    """
    source, output = Path(source), Path(output)
    if ambiguous not in ("exclude", "positive", "negative"):
        raise ValueError(f"ambiguous must be exclude, positive or negative, found {ambiguous!r}")
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
                {"id": ids[text], "text": text, "entities": [], "events": sorted(events), "judged": sorted(by_event)}
            )
    strata = ["+".join(a["events"]) or ("none-" + a["id"].split("-")[0]) for a in articles]
    splits = split_articles(articles, strata, seed, 0.1, 0.1)
    report = {
        "corpus": "arabic_event_gsr",
        "source": str(source),
        "seed": seed,
        "mapping": {"yes": "event", "easy no": "no event", "difficult no": "no event", "ambiguous": ambiguous},
        "judged": "each sentence for the event types of the files it is in; the others unknown",
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

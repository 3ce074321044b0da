"""Entities and events of archives beyond one process, with Ray Data (the ``ray`` extra).

    import ray
    from akhbar.ray_data import AkhbarAnalyzer, analyze_files

    ray.init()                                     # a local cluster, or ray.init(address="auto") on a cluster
    analyze_files("archive/*.jsonl", "out/", ner="models/ner-anercorp", events="models/events-gsr", workers=8)

    # or the same pipeline by hand:
    ds = ray.data.read_json("archive/*.jsonl")
    ds = ds.map_batches(AkhbarAnalyzer, fn_constructor_kwargs={"ner": "models/ner-anercorp"},
                        batch_format="pyarrow", batch_size=64, compute=ray.data.ActorPoolStrategy(size=8))
    ds.write_parquet("out/")

:class:`AkhbarAnalyzer` is a callable class: Ray Data makes one instance per worker (an actor), so each
worker loads and verifies the packages once and then answers batch after batch. Each output row is the input
row's id with the article's ``entities`` and ``events`` (what ``Analyzer.predict`` returns), typed as Arrow
lists of structs, so JSON Lines and Parquet hold the same thing. A row without a string text stops the job
with a message naming its id. Which order rows come out in is Ray's; the ids say which article is which.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from .extras import MissingDependency
from .inference import Analyzer, NerTagger, SentenceEventClassifier

logger = logging.getLogger(__name__)
INSTALL_RAY = 'pip install "akhbar[ray]"'
FORMATS = ("jsonl", "parquet")


def import_ray():
    """``ray`` with Ray Data, or a :class:`MissingDependency` that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise MissingDependency(f"akhbar.ray_data needs Ray Data, which is not installed: {INSTALL_RAY}") from None
    return ray


def _result_types(evidence: bool = False, arguments: bool = False):
    """Arrow types of the ``entities`` and ``events`` columns (fixed per model, so that every block has one
    schema, an empty list included); ``evidence``: the events carry the sentences that say them (a
    sentence-event model); ``arguments``: their role spans (an argument model; null for an event type it does
    not know)."""
    import pyarrow as pa

    entity = pa.struct(
        [
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("label", pa.string()),
            ("text", pa.string()),
            ("score", pa.float64()),
        ]
    )
    fields = [("label", pa.string()), ("score", pa.float64())]
    if evidence:
        fields.append(
            ("evidence", pa.list_(pa.struct([("start", pa.int64()), ("end", pa.int64()), ("score", pa.float64())])))
        )
    if arguments:
        span = [("role", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("text", pa.string())]
        fields.append(("arguments", pa.list_(pa.struct([*span, ("score", pa.float64())]))))
    event = pa.struct(fields)
    return pa.list_(entity), pa.list_(event)


class AkhbarAnalyzer:
    """``Dataset.map_batches`` callable class: ``pyarrow.Table`` batches of articles in, ``{id, entities,
    events}`` rows out.

    Args:
        ner: NER package folder (or hub id), loaded once per worker.
        events: events package; without it ``events`` is null in every row.
        arguments: argument package (needs a sentence event model for ``events``): each event's ``arguments``.
        text_column, id_column: the input columns holding each article's text and id.
        **load_options: for ``from_pretrained`` (``device``, ``backend``, ``precision``, ``batch_size``,
            ``batch_tokens``). A worker given a GPU by Ray (``num_gpus=1``) uses it by default.
    """

    def __init__(
        self,
        ner: str | Path,
        events: str | Path | None = None,
        text_column: str = "text",
        id_column: str = "id",
        arguments: str | Path | None = None,
        **load_options,
    ):
        if arguments and not events:
            raise ValueError(
                f"the argument model {arguments} reads the sentences of a sentence event model: give events"
            )
        # Analyzer.from_pretrained checks the events package's task and loads the argument model.
        self.analyzer = Analyzer.from_pretrained(ner, events, arguments=arguments, **load_options) if events else None
        tagger = self.analyzer.ner if self.analyzer else NerTagger.from_pretrained(ner, **load_options)
        self.evidence = self.analyzer is not None and isinstance(self.analyzer.events, SentenceEventClassifier)
        self.arguments = self.analyzer is not None and self.analyzer.arguments is not None
        self.tagger = tagger
        self.text_column = text_column
        self.id_column = id_column
        logger.info("loaded %s on %s", " and ".join(str(p) for p in (ner, events, arguments) if p), tagger.device)

    def __call__(self, batch):
        import pyarrow as pa

        for column in (self.text_column, self.id_column):
            if column not in batch.column_names:
                raise ValueError(
                    f"the input has no column {column!r} (columns: {', '.join(batch.column_names)}); set "
                    f"{'text_column' if column == self.text_column else 'id_column'}"
                )
        ids = batch.column(self.id_column)
        texts = batch.column(self.text_column).to_pylist()
        for ident, text in zip(ids.to_pylist(), texts):
            if not isinstance(text, str):
                raise ValueError(f"article {ident!r}: {self.text_column!r} must be a string, found {text!r}")
        if self.analyzer is not None:
            results = self.analyzer.predict(texts)
        else:
            results = [{"entities": e, "events": None} for e in self.tagger.predict(texts)]
        entities, events = _result_types(self.evidence, self.arguments)
        return pa.table(
            {
                self.id_column: ids,
                "entities": pa.array([r["entities"] for r in results], type=entities),
                "events": pa.array([r["events"] for r in results], type=events),
            }
        )


def expand(inputs: str | Sequence[str]) -> list[str]:
    """Paths for ``ray.data.read_json``: local globs expanded (Ray reads files and folders, not patterns);
    URIs (``s3://…``) and plain paths as given.

    Raises:
        FileNotFoundError: a local pattern that matches nothing.
    """
    import glob

    out = []
    for item in [inputs] if isinstance(inputs, str) else list(inputs):
        item = str(item)
        if "://" not in item and any(c in item for c in "*?["):
            matches = sorted(glob.glob(item))
            if not matches:
                raise FileNotFoundError(f"{item}: no file matches")
            out += matches
        else:
            out.append(item)
    return out


def analyze_files(
    inputs: str | Sequence[str],
    output: str | Path,
    ner: str | Path,
    events: str | Path | None = None,
    *,
    arguments: str | Path | None = None,
    output_format: str = "jsonl",
    workers: int = 2,
    batch_size: int = 64,
    num_cpus: float = 1,
    num_gpus: float = 0,
    text_column: str = "text",
    id_column: str = "id",
    **load_options,
) -> None:
    """Read JSONL shards (paths or globs, local or any filesystem Ray reads), analyze every article on
    ``workers`` actors (each ``num_cpus`` CPUs and ``num_gpus`` GPUs), write ``output`` as a folder of
    JSONL or Parquet files.

    Ray streams the blocks: reading, the model and writing overlap, and memory holds the blocks in flight,
    not the archive. The read and write tasks need CPUs besides the workers': on a machine of N CPUs, workers
    times ``num_cpus`` must stay below N (else the read waits for ever). Needs a running Ray (``ray.init()``;
    a local one is started if none).
    """
    ray = import_ray()
    if output_format not in FORMATS:
        raise ValueError(f"unknown output_format {output_format!r}; choose one of {', '.join(FORMATS)}")
    for name, value in (("workers", workers), ("batch_size", batch_size)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, not {value}")
    ds = ray.data.read_json(expand(inputs))
    ds = ds.map_batches(
        AkhbarAnalyzer,
        fn_constructor_kwargs={
            "ner": str(ner),
            "events": str(events) if events else None,
            "arguments": str(arguments) if arguments else None,
            "text_column": text_column,
            "id_column": id_column,
            **load_options,
        },
        batch_format="pyarrow",
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=num_cpus,
        num_gpus=num_gpus,
    )
    if output_format == "parquet":
        ds.write_parquet(str(output))
    else:
        ds.write_json(str(output))

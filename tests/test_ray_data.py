"""Ray Data integration on a local Ray cluster of 2 CPUs and 2 workers: JSONL shards in, JSONL and Parquet out,
every article once, with its id, equal to in-process ``Analyzer.predict``."""

import json
import os

import pytest
from conftest import SAMPLE

# A one-machine cluster on the loopback address: Ray's own switch for it (named after the platforms where it is
# the default), read when ray is imported; the workers inherit it.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from akhbar.inference import Analyzer  # noqa: E402
from akhbar.ray_data import AkhbarAnalyzer, analyze_files  # noqa: E402

pytestmark = pytest.mark.slow
# Two workers of half a CPU each: on 2 CPUs, the read and write tasks need the rest (two 1-CPU workers would
# hold both CPUs and the read would wait for ever).
HALF = {"num_cpus": 0.5, "device": "cpu", "precision": "float32"}  # float32: bfloat16 rounding varies with batches
ARTICLES = [
    {"id": a["id"], "text": a["text"]}
    for split in ("train", "test")
    for a in map(json.loads, (SAMPLE / f"{split}.jsonl").read_text(encoding="utf-8").splitlines())
]


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    yield
    ray.shutdown()


def same(got, want) -> bool:
    """Equal results, scores up to one step of their 4-decimal rounding: the workers' batches hold other texts
    than the in-process call's, which moves float sums by ~1e-7 and, now and then, a rounded score by 1e-4."""
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == want.keys() and all(same(got[k], want[k]) for k in want)
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(same, got, want))
    if isinstance(want, float):
        return abs(got - want) <= 1.0001e-4
    return got == want


def read_jsonl_folder(folder):
    return [json.loads(line) for path in sorted(folder.glob("*.json*")) for line in path.read_text().splitlines()]


def test_shards_in_results_out_with_ids(cluster, random_packages, tmp_path):
    import pyarrow.parquet as pq

    ner, events = random_packages
    shards = tmp_path / "in"
    shards.mkdir()
    half = len(ARTICLES) // 2
    for i, part in enumerate((ARTICLES[:half], ARTICLES[half:])):
        (shards / f"shard-{i}.jsonl").write_text(
            "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in part), encoding="utf-8"
        )
    analyzer = Analyzer.from_pretrained(ner, events, precision="float32")
    expected = dict(zip([a["id"] for a in ARTICLES], analyzer.predict([a["text"] for a in ARTICLES])))
    assert sum(len(r["entities"]) for r in expected.values()) > 20

    analyze_files(str(shards / "*.jsonl"), tmp_path / "jsonl", ner, events, workers=2, batch_size=4, **HALF)
    rows = read_jsonl_folder(tmp_path / "jsonl")
    assert sorted(r["id"] for r in rows) == sorted(expected)  # every article once
    for row in rows:
        assert same({"entities": row["entities"], "events": row["events"]}, expected[row["id"]])

    analyze_files(
        [str(p) for p in sorted(shards.glob("*.jsonl"))], tmp_path / "parquet", ner, None,
        output_format="parquet", workers=2, batch_size=4, **HALF,
    )  # fmt: skip
    table = pq.read_table(tmp_path / "parquet")
    assert table.column_names == ["id", "entities", "events"]
    got = {row["id"]: row for row in table.to_pylist()}
    assert sorted(got) == sorted(expected)
    for ident, row in got.items():
        assert same(row["entities"], expected[ident]["entities"]) and row["events"] is None


def test_bad_rows_and_options_are_named(cluster, random_packages, tmp_path):
    import pyarrow as pa

    ner, _ = random_packages
    analyzer = AkhbarAnalyzer(ner, device="cpu")
    with pytest.raises(ValueError, match=r"article 'b-2': 'text' must be a string, found None"):
        analyzer(pa.table({"id": ["b-1", "b-2"], "text": ["زار الوزير بيروت", None]}))
    with pytest.raises(ValueError, match=r"no column 'text' \(columns: id, body\); set text_column"):
        analyzer(pa.table({"id": ["b-1"], "body": ["زار"]}))
    with pytest.raises(ValueError, match="unknown output_format 'csv'"):
        analyze_files("x.jsonl", tmp_path / "out", ner, output_format="csv")
    with pytest.raises(ValueError, match="workers must be at least 1, not 0"):
        analyze_files("x.jsonl", tmp_path / "out", ner, workers=0)

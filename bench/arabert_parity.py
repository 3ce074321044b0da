"""How often akhbar's ``arabertv02`` preprocessing gives exactly what ``ArabertPreprocessor`` gives.

    python bench/arabert_parity.py [--corpora ../shared/data] [--out bench/results/arabert-parity.json]
    python bench/arabert_parity.py --preprocessing old.py   # another version of src/akhbar/preprocessing.py
    python bench/arabert_parity.py --write-fixture           # recompute tests/data/web_text.jsonl's outputs

The reference is arabert 1.0.1's ``ArabertPreprocessor("bert-base-arabertv02")``, run in its own virtual
environment (``bench/peers/arabert_reference.py`` says how to make it; ``--arabert-python`` or
``$AKHBAR_ARABERT_PYTHON`` name its Python, else ``.venv-arabert``). The text sets: the committed web-style
strings (``tests/data/web_text.jsonl``), and where ``--corpora`` has them, ANERcorp's sentences (CAMeL
split, train and test), arabic_event_gsr's sentences and ANT's articles, read as ``akhbar prepare`` and
training read them. For each set: how many texts, and the share whose normalized text equals the
reference's, with the preset as shipped and with its deliberate additions (``AKHBAR_ADDITIONS``) off.

``--preprocessing FILE`` measures another version of the module, e.g. the one before a change:
``git show REV:src/akhbar/preprocessing.py > old.py``. No corpus text is written to ``--out``; ``--show N``
prints up to N differing texts of each set (trimmed to the first difference) to the terminal.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench" / "peers"))

from arabert_reference import ArabertReference, reference_python  # noqa: E402

FIXTURE = ROOT / "tests" / "data" / "web_text.jsonl"
logger = logging.getLogger("arabert_parity")


def load_preprocessing(path: Path | None):
    """akhbar.preprocessing, or the module in ``path`` (an older or newer version of it)."""
    if path is None:
        import akhbar.preprocessing

        return akhbar.preprocessing
    spec = importlib.util.spec_from_file_location("preprocessing_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def text_sets(corpora: Path) -> dict[str, list[str]]:
    """The texts of each set that is present, in a fixed order."""
    from akhbar.articles import read_articles
    from akhbar.corpora import prepare_ant, prepare_gsr

    def texts(folder: Path, files: list[str]) -> list[str]:
        return [a["text"] for name in files for a in read_articles(folder / name, skip_invalid=True)[0]]

    sets = {"web_text (committed)": [json.loads(line)["text"] for line in FIXTURE.open(encoding="utf-8")]}
    anercorp = corpora / "anercorp" / "derived_camel_style_split"
    if anercorp.is_dir():
        sets["ANERcorp sentences"] = texts(anercorp, ["train.txt", "test.txt"])
    for name, folder, prepare in (
        ("arabic_event_gsr sentences", corpora / "arabic_event_gsr", prepare_gsr),
        ("ANT articles", corpora / "antcorpus", prepare_ant),
    ):
        if not folder.is_dir():
            continue
        with tempfile.TemporaryDirectory() as out:
            kwargs = {"skip_invalid": True} if prepare is prepare_ant else {}
            prepare(folder, out, **kwargs)
            sets[name] = texts(Path(out), ["train.jsonl", "validation.jsonl", "test.jsonl"])
    return sets


def first_difference(a: str, b: str, context: int = 40) -> str:
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    lo = max(0, i - context)
    return f"akhbar …{a[lo : i + context]!r}…\n    arabert …{b[lo : i + context]!r}…"


def measure(module, reference: ArabertReference, sets: dict[str, list[str]], show: int) -> list[dict]:
    additions = getattr(module, "AKHBAR_ADDITIONS", ("remove_invisible",))  # older versions had this one only
    preset = module.PreprocessingConfig.from_preset("arabertv02")
    exact = module.PreprocessingConfig.from_preset("arabertv02", **dict.fromkeys(additions, False))
    rows = []
    for name, texts in sets.items():
        start = time.perf_counter()
        same_preset = same_exact = 0
        shown = 0
        for text in texts:
            expected = reference(text)
            same_preset += module.normalize(text, preset).text == expected
            got = module.normalize(text, exact).text
            same_exact += got == expected
            if got != expected and shown < show:
                shown += 1
                print(f"{name}: {first_difference(got, expected)}")
        rows.append(
            {
                "set": name,
                "texts": len(texts),
                "identical_preset": same_preset,
                "identical_additions_off": same_exact,
                "identical_preset_pct": round(100 * same_preset / len(texts), 2),
                "identical_additions_off_pct": round(100 * same_exact / len(texts), 2),
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
        logger.info("%s", rows[-1])
    return rows


def write_fixture(reference: ArabertReference) -> None:
    rows = [json.loads(line) for line in FIXTURE.open(encoding="utf-8")]
    with FIXTURE.open("w", encoding="utf-8") as f:
        for row in rows:
            row["arabert"] = reference(row["text"])
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    logger.info("wrote the reference outputs of %d strings to %s", len(rows), FIXTURE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--arabert-python", type=Path, help="a Python with arabert==1.0.1 installed")
    parser.add_argument("--preprocessing", type=Path, help="measure this file instead of akhbar.preprocessing")
    parser.add_argument("--out", type=Path, help="write the table as JSON here")
    parser.add_argument("--show", type=int, default=0, help="print up to N differing texts per set")
    parser.add_argument("--write-fixture", action="store_true", help="recompute the fixture's reference outputs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    python = args.arabert_python or reference_python()
    if python is None:
        parser.error("no Python with arabert: pass --arabert-python or create .venv-arabert (see bench/peers)")
    with ArabertReference(python) as reference:
        if args.write_fixture:
            write_fixture(reference)
            return 0
        rows = measure(load_preprocessing(args.preprocessing), reference, text_sets(args.corpora), args.show)
    print(f"{'set':<28} {'texts':>7} {'preset':>8} {'additions off':>14}")
    for row in rows:
        print(
            f"{row['set']:<28} {row['texts']:>7} {row['identical_preset_pct']:>7.2f}% "
            f"{row['identical_additions_off_pct']:>13.2f}%"
        )
    if args.out:
        result = {
            "command": " ".join(["python bench/arabert_parity.py", *(sys.argv[1:] if argv is None else argv)]),
            "preprocessing": str(args.preprocessing or "src/akhbar/preprocessing.py"),
            "sets": rows,
        }
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

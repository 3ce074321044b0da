"""The ``akhbar`` command: data, evaluation, packaging, prediction and serving subcommands.

User errors (bad files, bad records, bad config) print one line on stderr and exit with code 2; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# A bad file, record, config or path. OSError subclasses that only a path the user gave can cause are
# user errors too (their message names the path).
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)


def run_user_command(func: Callable, *args) -> int:
    """Call ``func``; turn user errors into one line on stderr and exit code 2."""
    try:
        func(*args)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not at interpreter exit
    except USER_ERRORS as err:
        # One line, even for library messages written over several lines.
        message = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())
        print(f"error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`akhbar info M | head -3`): stop quietly, as cat and grep do, without a
        # traceback. Python's documented recipe: point stdout at devnull so the exit-time flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # what a shell reports for a program ended by SIGPIPE
    return 0


def _tiny_model(args: argparse.Namespace) -> None:
    from .tiny import build_tiny_model, read_texts

    files = args.text or sorted(Path("data/sample").glob("*.jsonl"))
    if not files:
        raise FileNotFoundError("no text to train the vocabulary on: run from the repository root or pass --text FILE")
    for f in files:
        if not Path(f).is_file():
            raise FileNotFoundError(f"{f}: no such file")
    out = build_tiny_model(args.output_dir, read_texts(files), source=", ".join(str(f) for f in files))
    print(f"wrote a tiny random BERT to {out} (for offline smoke runs only: useless for quality)")


def _read_options(args: argparse.Namespace):
    from .articles import ReadOptions

    return ReadOptions(
        data_format=args.format,
        text_field=args.text_field,
        annotator_policy=args.annotator_policy,
        offset_unit=args.offset_unit,
        choices_name=args.choices_name,
        skip_unrepresentable=args.skip_unrepresentable,
    )


def _add_read_options(p: argparse.ArgumentParser, flag: str = "--format") -> None:
    p.add_argument(
        flag,
        dest="format",
        help="data format: jsonl, conll, label-studio, doccano, brat, webanno-tsv, prodigy (default: from the content)",
    )
    p.add_argument("--text-field", default="text", help="Label Studio: the task data field holding the text")
    p.add_argument(
        "--annotator-policy",
        default="first",
        help="records with several annotations: first, latest, majority or annotator:NAME (default: first)",
    )
    p.add_argument(
        "--offset-unit",
        choices=["auto", "codepoint", "utf16", "grapheme"],
        default="auto",
        help="unit of the tool's span offsets (default auto: checked against the span text)",
    )
    p.add_argument("--choices-name", default="event", help="Label Studio: the name of the Choices control (events)")
    p.add_argument(
        "--skip-unrepresentable",
        action="store_true",
        help="skip (and count) discontinuous/overlapping spans, relations, attributes instead of stopping",
    )


def _validate(args: argparse.Namespace) -> None:
    from collections import Counter

    from .articles import agreement_line, counted, read_articles

    options = _read_options(args)
    for path in args.files:
        articles, report = read_articles(path, args.entity_labels, skip_invalid=args.skip_invalid, options=options)
        entities = Counter(e["label"] for a in articles for e in a["entities"])
        events = Counter(e for a in articles for e in a["events"])
        print(
            f"{report.summary()}; {counted(sum(entities.values()), 'entity', 'entities')} "
            f"({', '.join(f'{k} {v}' for k, v in entities.most_common()) or 'none'}); "
            f"events: {', '.join(f'{k} {v}' for k, v in events.most_common()) or 'none'}"
        )
        partly = [a for a in articles if a.get("judged") is not None]
        if partly:  # the events of these articles say nothing about the labels they did not judge
            judged = Counter(label for a in partly for label in a["judged"])
            print(
                f"  judged: {len(partly)} of {counted(len(articles), 'article')} judged only some labels "
                f"({', '.join(f'{k} {v}' for k, v in judged.most_common()) or 'none'}); the others judged every label"
            )
        if report.agreement:
            print(f"  {agreement_line(report.agreement)}")
        for error in report.skipped:
            print(f"  skipped: {error}")


def _convert(args: argparse.Namespace) -> None:
    from .articles import counted, read_articles
    from .formats import WriteOptions, check_output_path, get_format, write_articles

    target = get_format(args.to)  # a bad --to or an output folder that is not there fails before any reading
    check_output_path(args.output)
    articles, report = read_articles(args.input, args.entity_labels, args.skip_invalid, options=_read_options(args))
    out = Path(args.output)
    if out.exists() and (out.is_file() or any(out.iterdir())) and not args.overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    options = WriteOptions(
        from_name=args.from_name,
        to_name=args.to_name,
        choices_name=args.choices_name,
        text_field=args.text_field,
        skip_unrepresentable=args.skip_unrepresentable,
    )
    try:
        write_articles(articles, out, target.name, options)
    except ValueError as err:  # what the target format cannot hold: name the input file as well as the article
        raise ValueError(f"{args.input}: {err}") from None
    dropped = "".join(f"; left out {n} {kind}" for kind, n in sorted(options.dropped.items()))
    respaced = "" if target.holds_text else f" (text re-spaced: {target.name} keeps tokens, not spacing)"
    print(f"{report.summary()}\nwrote {counted(len(articles), 'article')} to {out} ({target.name}){respaced}{dropped}")


def _evaluate(args: argparse.Namespace) -> None:
    from .articles import counted
    from .evaluation import evaluate, headline, read_for, report_folder, write
    from .inference import load_model
    from .tasks import get_task

    # Verify the package once, then check where the report goes and validate the data against the package's
    # schema, all before loading the weights.
    options = _load_options(args)
    loaded = load_model(args.model, options=options)
    directory, settings = loaded.directory, loaded.settings
    # A package is immutable (its manifest hashes every file): reports go beside it, not into it.
    from .inference import resolve_device, resolve_precision

    precision = resolve_precision(options.precision, resolve_device(options.device), options.backend)
    planned = {"backend": options.backend, "precision": precision}
    if options.backend == "onnx":
        planned["onnx_file"] = options.onnx_file
    out = Path(args.output) if args.output else report_folder(args.model, args.data, planned)
    if out.resolve().is_relative_to(directory.resolve()):
        raise ValueError(
            f"--output {out} is inside the package {directory}; a package is immutable (its manifest hashes every "
            "file): write the report elsewhere"
        )
    articles, load = read_for(settings, args.data, args.skip_invalid, _read_options(args), not loaded.verified)
    predictor = get_task(settings.task).predictor_class().from_verified(directory, settings, options, loaded.verified)
    report = evaluate(predictor, articles, data_name=args.data, show_progress=True)
    report["data"]["skipped_records"] = len(load.skipped)
    write(report, out, title=f"{Path(args.model).name} on {Path(args.data).name}")
    print(f"{headline(report)}  ({counted(len(articles), 'article')}) -> {out / 'eval_report.md'}")


def _compare(args: argparse.Namespace) -> None:
    from .evaluation import compare, compare_markdown

    out = Path(args.output) if args.output else Path("eval") / f"compare-{Path(args.data).stem}"
    result = compare(args.models, args.data, _load_options(args), args.skip_invalid, _read_options(args), out)
    table = compare_markdown(result)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "compare.md").write_text(table, encoding="utf-8")
    print(table + f"\n-> {out / 'compare.md'}, {out / 'compare.json'} (and each model's report under {out})")


def _info(args: argparse.Namespace) -> None:
    from .articles import counted
    from .evaluation import headline
    from .inference import load_model
    from .manifest import MANIFEST_FILE
    from .tasks import get_task

    loaded = load_model(args.model)  # an akhbar package is verified against its manifest first
    directory, settings = loaded.directory, loaded.settings
    labels = get_task(settings.task).describe(settings)
    preset = settings.preprocessing.preset
    windows = f"windows of {settings.max_length} tokens, stride {settings.stride}"
    if not loaded.verified:  # a published checkpoint (predict and evaluate read it): say how akhbar reads it
        print(f"{directory}: a transformers model, not an akhbar package (no manifest: its files are not verified)")
        print(f"  read as an akhbar {settings.task} model: {labels}")
        print(f"  preprocessing: {preset} (predict and evaluate take --preprocessing); {windows}")
        print("  evaluation: none packaged (akhbar evaluate --model ... --data FILE scores it)")
        return
    manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    print(
        f"{directory}: akhbar {settings.task} package, verified ({len(manifest['files'])} files match {MANIFEST_FILE})"
    )
    print(f"  {labels}")
    print(f"  base model: {settings.base_model}")
    print(f"  preprocessing: {preset}; {windows}")
    report_path = directory / "eval_report.json"
    if report_path.is_file():
        report = json.loads(report_path.read_text(encoding="utf-8"))
        data = report["data"]
        print(f"  evaluation: {headline(report)} on {data['name']} ({counted(data['articles'], 'article')})")
    else:
        print("  evaluation: none (the run had no test or validation data)")
    versions = ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items())
    print(f"  made with: akhbar {settings.akhbar_version}; {versions}")
    print("  files:")
    for name, entry in sorted(manifest["files"].items()):
        print(
            f"    {name}  {entry['bytes'] / 1e6:.1f} MB"
            if entry["bytes"] >= 1e5
            else f"    {name}  {entry['bytes']:,} bytes"
        )


def _package(args: argparse.Namespace) -> None:
    from .packaging import package_run

    run_dir = Path(args.run_dir)
    dest = Path(args.output) if args.output else Path("models") / run_dir.name
    package_run(run_dir, dest, overwrite=args.overwrite, data_file=args.data, push_to_hub=args.push_to_hub)
    print(f"packaged {run_dir} -> {dest}")


def _export_onnx(args: argparse.Namespace) -> None:
    from .onnx.export import export_onnx

    result = export_onnx(
        args.package,
        quantize=args.quantize,
        opset=args.opset,
        check=not args.no_check,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    package = Path(result["package"])
    for name, size in result["files"].items():
        line = f"wrote {package / name} ({size / 1e6:.1f} MB, opset {result['opset']})"
        figures = result["parity"].get(name)
        if figures:
            line += (
                f"; vs PyTorch on {result['windows']} windows: max |logit diff| {figures['max_abs_diff']:.2g}, "
                f"argmax agreement {figures['argmax_agreement']:.2%} of {figures['compared']}"
            )
        print(line)
    if not result["parity"]:
        print("parity check skipped (--no-check)")
    for name, figures in result["parity"].items():
        if figures["argmax_agreement"] < INT8_AGREEMENT_WARNING:
            print(
                f"warning: {name} picks another label than PyTorch for {1 - figures['argmax_agreement']:.1%} of "
                f"the check's {result['unit']}; measure what that costs on "
                f"your data: akhbar evaluate --model {package} --data FILE --backend onnx --onnx_file "
                f"{Path(name).name}",
                file=sys.stderr,
            )
    int8 = " (or --onnx_file model.int8.onnx)" if any(n.endswith(".int8.onnx") for n in result["files"]) else ""
    print(f"rewrote {package / 'manifest.json'}; load it with --backend onnx{int8}")


INT8_AGREEMENT_WARNING = 0.99  # below this share of identical predictions, export-onnx warns


def _load_options(args: argparse.Namespace):
    """The :class:`~akhbar.inference.LoadOptions` every command that runs a package shares (``_add_run_options``)."""
    from .inference import LoadOptions
    from .inference.options import parse_label_map

    return LoadOptions(
        backend=args.backend,
        onnx_file=args.onnx_file,
        precision=args.precision,
        device=args.device,
        batch_size=args.batch_size,
        batch_tokens=args.batch_tokens,
        preprocessing=args.preprocessing,
        label_map=parse_label_map(args.label_map) if args.label_map else None,
    )


def _add_run_options(p: argparse.ArgumentParser) -> None:
    from .inference.options import BACKENDS, PRECISIONS, PUBLISHED_PREPROCESSING

    p.add_argument(
        "--preprocessing",
        choices=PUBLISHED_PREPROCESSING,
        help="a checkpoint that is not an akhbar package: normalize its input with this preset (default: none, raw "
        "text; arabertv02 for AraBERT v0.2 models). Packages carry their own",
    )
    p.add_argument(
        "--label-map",
        "--label_map",
        metavar="FROM=TO,…",
        help="rename the model's entity types or event labels, e.g. PER=PERS,GPE=LOC, to score against your schema",
    )

    p.add_argument("--device", help="cpu, cuda, cuda:1 … (default: cuda when available)")
    p.add_argument(
        "--batch-size",
        "--batch_size",
        type=int,
        help="at most this many windows per forward pass (default: 32 on a GPU; on CPU see --batch-tokens)",
    )
    p.add_argument(
        "--batch-tokens",
        "--batch_tokens",
        type=int,
        help="at most this many padded tokens per forward pass (default on CPU: 2048, onnx backend 1024; "
        "a longer window goes alone)",
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=BACKENDS[0],
        help="onnx: run the package's ONNX export with ONNX Runtime on CPU (see `akhbar export-onnx`)",
    )
    p.add_argument(
        "--onnx_file",
        "--onnx-file",
        default="model.onnx",
        help="with --backend onnx: model.onnx (float32, default) or model.int8.onnx",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=PRECISIONS[0],
        help="torch backend: auto (default) takes bfloat16 where the device runs it natively (GPUs with bfloat16, "
        "CPUs with AMX: several times faster; CPUs with AVX512-BF16 but no AMX where a probe product, well under "
        "a second, measures it at least 1.3x faster) and float32 elsewhere (bfloat16 is 100-300x slower on AVX2)",
    )


ARGUMENTS_HELP = (
    "packaged argument model (task arguments): each event's source, trigger and target in its evidence sentences "
    "(needs a sentence event model for --events)"
)
MAX_CHARS = 1_000_000  # default --max-chars: about 100 MB of maps and windows for one article


@dataclass
class InputLine:
    """One line of ``predict``/``analyze`` input: its number, the id it carried (if JSON) and its text."""

    line: int
    text: str
    id: object = None

    def result(self, **fields) -> dict:
        return {"line": self.line, **({"id": self.id} if self.id is not None else {}), **fields}


def _iter_inputs(source: str, max_chars: int = MAX_CHARS) -> Iterator[InputLine]:
    """Input lines, read lazily: plain text, or JSON with ``text`` (and optionally ``id``), one per line.

    Lines end at ``\n`` only (a ``\r\n`` ending is dropped, a bare ``\r`` inside a text is kept); a blank
    line is an empty text, so every input line gets an output line; a byte-order mark at the start is not
    text. A line is read up to ``max_chars`` characters (so endless input such as ``/dev/zero`` stops at
    once); a longer one, invalid UTF-8 or JSON, or a text with a split surrogate pair is an error naming
    the line.
    """
    from .articles import SURROGATE

    path = Path(source)
    if source != "-" and path.is_dir():
        raise IsADirectoryError(f"{source}: is a folder; predict reads a file with one article per line (or -)")
    if source != "-" and not path.exists():
        raise FileNotFoundError(f"{source}: no such file")
    stream = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
    limit = 4 * max_chars + 2  # UTF-8 takes at most 4 bytes a character, plus the line end
    with stream:
        number = 0
        while raw := stream.readline(limit):
            number += 1
            if len(raw) == limit and not raw.endswith(b"\n"):
                raise ValueError(f"{source}:{number}: line longer than --max-chars {max_chars:,} characters")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise ValueError(f"{source}:{number}: invalid UTF-8 at byte {err.start + 1}") from None
            if number == 1:
                line = line.removeprefix("\ufeff")
            line = line.removesuffix("\n").removesuffix("\r")
            ident = None
            if line.lstrip().startswith("{"):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{source}:{number}: invalid JSON: {err.msg} at column {err.colno}") from None
                except RecursionError:
                    raise ValueError(f"{source}:{number}: JSON nested too deeply to read") from None
                if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                    raise ValueError(f"{source}:{number}: a JSON line needs a string field 'text'")
                line, ident = record["text"], record.get("id")
                for name, value in (("text", line), ("id", ident)):
                    bad = SURROGATE.search(value) if isinstance(value, str) else None
                    if bad:
                        raise ValueError(
                            f"{source}:{number}: {name} has an unpaired surrogate U+{ord(bad.group()):04X} at "
                            f"index {bad.start()} (a character split in two by a broken \\u escape)"
                        )
            if len(line) > max_chars:
                raise ValueError(
                    f"{source}:{number}: an article of {len(line):,} characters is over --max-chars {max_chars:,}"
                )
            yield InputLine(number, line, ident)
    if number == 0 and source != "-":  # an empty stdin is a stream that ended; an empty file is likely a mistake
        print(f"warning: {source}: the file is empty; nothing to predict", file=sys.stderr)


def _stream_results(
    args: argparse.Namespace, predict: Callable[[list[str]], list]
) -> Iterator[tuple[InputLine, object]]:
    """Input lines with their results, a chunk at a time (the first results come before the input ends)."""
    from tqdm.auto import tqdm

    from .inference import chunked

    if args.max_chars < 1:
        raise ValueError(f"--max-chars must be at least 1, not {args.max_chars}")
    interactive = args.input == "-" and sys.stdin.isatty()
    lines = _iter_inputs(args.input, args.max_chars)
    # A bar on stderr (articles read, articles/s) where a person watches it, or when asked for; the total is
    # unknown (the input is a stream), so it counts rather than fills.
    show = args.progress or sys.stderr.isatty()
    with tqdm(desc=args.command, unit=" articles", disable=not show, file=sys.stderr, mininterval=0.5) as bar:
        # Chunks of 1, 2, 4, ... up to 32 articles: the first result is out as soon as the first line is read.
        for chunk in chunked(lines, lambda item: len(item.text), max_items=1 if interactive else 32, first=1):
            yield from zip(chunk, predict([item.text for item in chunk]))
            bar.update(len(chunk))


def _write_predictions(args: argparse.Namespace, texts: list[str], ids: list[str], results: list, packages) -> None:
    from .articles import counted
    from .formats import WriteOptions, get_format, model_version, predictions_to_articles, write_articles
    from .inference import resolve_model_dir

    fmt = get_format(args.format)
    options = WriteOptions(
        predictions=True,
        model_version=model_version(*(resolve_model_dir(p) for p in packages)),
        from_name=args.from_name,
        to_name=args.to_name,
        choices_name=args.choices_name,
        text_field=args.text_field,
        skip_unrepresentable=args.skip_unrepresentable,
    )
    write_articles(predictions_to_articles(texts, results, ids), args.output, fmt.name, options)
    dropped = "".join(f"; left out {n} {kind}" for kind, n in sorted(options.dropped.items()))
    print(
        f"wrote predictions for {counted(len(texts), 'article')} to {args.output} "
        f"({fmt.name}, {options.model_version}){dropped}"
    )


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-chars",
        "--max_chars",
        type=int,
        default=MAX_CHARS,
        help=f"refuse an article longer than this many characters (default {MAX_CHARS:,}; memory grows with it)",
    )
    p.add_argument(
        "--progress",
        action="store_true",
        help="show articles done and articles/s on stderr (the default when stderr is a terminal)",
    )


def _add_write_options(p: argparse.ArgumentParser, predictions: bool) -> None:
    if predictions:
        p.add_argument(
            "--format",
            help="write articles with predictions in this format (label-studio, doccano, brat, conll, jsonl, "
            "webanno-tsv, prodigy) to --output; default: one JSON line of results per input line on stdout",
        )
        p.add_argument("--output", help="with --format: the file (folder for brat, webanno-tsv) to write")
        p.add_argument("--text-field", default="text", help="Label Studio: the task data field for the text")
        p.add_argument("--choices-name", default="event", help="Label Studio: the name of your Choices control")
        p.add_argument(
            "--skip-unrepresentable", action="store_true", help="leave out (and count) what the format cannot hold"
        )
    p.add_argument("--from-name", default="label", help="Label Studio: the name of your Labels control")
    p.add_argument("--to-name", default="text", help="Label Studio: the name of your Text object")


def _check_write_options(args: argparse.Namespace) -> None:
    """Refuse ``--format``/``--output`` that do not go together before a model loads or any input is read."""
    from .formats import check_output_path, get_format

    if args.output and not args.format:
        raise ValueError(
            f"--output needs --format (a tool's format, or jsonl for articles): without it, results are JSON "
            f"Lines on stdout (> {args.output} to keep them)"
        )
    if args.format:
        get_format(args.format)
        if not args.output:
            raise ValueError(f"--format {args.format} writes to a file or folder: give it with --output")
        check_output_path(args.output)


def _predict(args: argparse.Namespace) -> None:
    from .inference import NerTagger

    _check_write_options(args)
    tagger = NerTagger.from_pretrained(args.model, _load_options(args))
    _emit(args, tagger.predict, [args.model], lambda entities: {"entities": entities})


def _analyze(args: argparse.Namespace) -> None:
    from .inference import Analyzer

    _check_write_options(args)
    analyzer = Analyzer.from_pretrained(args.ner, args.events, _load_options(args), arguments=args.arguments)
    packages = [args.ner, args.events] + ([args.arguments] if args.arguments else [])
    _emit(args, analyzer.predict, packages, lambda result: result)


def _emit(args: argparse.Namespace, predict: Callable, packages: list, fields: Callable[[object], dict]) -> None:
    """JSON Lines on stdout as results come (one per input line, with its line number and id), or the whole
    input in a tool's format (``--format``; blank lines are no article there and are left out)."""
    if args.format:
        done = [(item, result) for item, result in _stream_results(args, predict) if item.text.strip()]
        texts = [item.text for item, _ in done]
        ids = [str(item.id if item.id is not None else item.line) for item, _ in done]
        _write_predictions(args, texts, ids, [result for _, result in done], packages)
        return
    for item, result in _stream_results(args, predict):
        print(json.dumps(item.result(**fields(result)), ensure_ascii=False), flush=True)


def _serve(args: argparse.Namespace) -> None:
    from .serve.server import import_serving

    import_serving()  # the install hint before anything loads
    from .serve.app import Limits

    for name, value, least in (
        ("--max-body-mb", args.max_body_mb, 0.001),
        ("--max-texts", args.max_texts, 1),
        ("--max-chars", args.max_chars, 1),
        ("--timeout", args.timeout, 0.001),
        ("--max-queue", args.max_queue, 1),
        ("--batch-wait-ms", args.batch_wait_ms, 0),
    ):
        if not value >= least:  # also refuses nan
            raise ValueError(f"{name} must be at least {least}, not {value}")
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in 0..65535, not {args.port}")
    limits = Limits(
        max_body_bytes=int(args.max_body_mb * 2**20),
        max_texts=args.max_texts,
        max_chars=args.max_chars,
        timeout=args.timeout,
        max_wait=args.batch_wait_ms / 1000,
        max_queued_texts=args.max_queue,
    )

    def announce(models, url: str) -> None:
        names = " + ".join(models.info[k]["name"] for k in ("ner", "events", "arguments") if models.info.get(k))
        print(
            f"serving {names} ({models.model_version}) at {url}: web page /, API /v1/analyze /v1/entities "
            f"/v1/events /v1/models, schema /openapi.json; Label Studio ML backend URL {url}",
            file=sys.stderr,
            flush=True,
        )

    from .serve.server import serve

    load = dataclasses.asdict(_load_options(args))
    serve(args.ner, args.events, args.arguments, args.host, args.port, limits, load, announce)


def _prepare(args: argparse.Namespace) -> None:
    from .articles import counted
    from .corpora import prepare_ant, prepare_gsr, prepare_gsr_arguments

    # Splits already there (perhaps edited, or made with other options) were replaced without a word.
    written = ("train.jsonl", "validation.jsonl", "test.jsonl", "prepare_report.json")
    there = [name for name in written if (Path(args.output) / name).exists()]
    if there and not args.overwrite:
        raise FileExistsError(f"{args.output} already holds {', '.join(there)}; pass --overwrite to replace them")
    if args.corpus == "gsr":
        report = prepare_gsr(args.input, args.output, seed=args.seed, ambiguous=args.ambiguous, unjudged=args.unjudged)
    elif args.corpus == "gsr-arguments":
        report = prepare_gsr_arguments(args.input, args.output, seed=args.seed, policy=args.policy)
        aligned = report["alignment"]
        print(
            f"{report['token_lists']} token lists in {report['variants']} variants: {aligned['exact']} exact, "
            f"{aligned['normalized']} after normalization, {aligned['discontiguous']} discontiguous, "
            f"{aligned['missing']} missing; {report['sentences']} sentences kept ({report['policy']} variant), "
            f"{report['sentences_without_usable_variant']} without a usable variant"
        )
    else:
        report = prepare_ant(args.input, args.output, seed=args.seed, skip_invalid=args.skip_invalid)
        if report["skipped"]:
            print(f"skipped {len(report['skipped'])} of {report['files']} files (listed in prepare_report.json)")
    for name, split in report["splits"].items():
        print(f"{args.output}/{name}.jsonl: {counted(split['articles'], 'article')}, events {split['events']}")


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, as every other user error (exit code 2), not a usage block."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message}; `{self.prog} --help` lists the options\n")


def _unrecognized(extra: list[str], parser: argparse.ArgumentParser) -> str:
    """The message for flags a command lacks, with the closest one (``--skip_invalid``: ``--skip-invalid``)."""
    import difflib

    options = [s for action in parser._actions for s in action.option_strings]
    flags = [w.split("=", 1)[0] for w in extra if w.startswith("--")]
    guess = difflib.get_close_matches(flags[0], options, n=1) if flags else []
    return f"unrecognized arguments: {' '.join(extra)}" + (f" (did you mean {guess[0]}?)" if guess else "")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="akhbar", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"akhbar {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="what a packaged model is: task, labels, base model, evaluation, files")
    p.add_argument(
        "model",
        help="packaged model folder (or hub id); verified against its manifest first. A transformers checkpoint "
        "that is not an akhbar package is described as predict would read it",
    )
    p.set_defaults(func=_info)

    p = sub.add_parser("tiny-model", help="build a tiny random BERT + WordPiece tokenizer for offline smoke runs")
    p.add_argument("output_dir", help="folder to write the model and tokenizer to (e.g. models/tiny)")
    p.add_argument(
        "--text", nargs="+", help="JSONL files whose 'text' trains the vocabulary (default: data/sample/*.jsonl)"
    )
    p.set_defaults(func=_tiny_model)

    p = sub.add_parser("validate", help="check annotated files (any format) and count what they hold")
    p.add_argument("files", nargs="+", help="annotated files (a brat folder too), format told from content")
    p.add_argument("--entity-labels", nargs="+", help="the schema; default: accept any label")
    p.add_argument("--skip-invalid", action="store_true", help="report every bad record instead of stopping")
    _add_read_options(p)
    p.set_defaults(func=_validate)

    p = sub.add_parser("convert", help="convert annotated data between formats (akhbar JSONL, CoNLL, tools' exports)")
    p.add_argument("input", help="file or folder to read")
    p.add_argument("output", help="file or folder to write (a folder for brat and webanno-tsv)")
    p.add_argument(
        "--to", required=True, help="target format: jsonl, conll, label-studio, doccano, brat, webanno-tsv, prodigy"
    )
    _add_read_options(p, "--from")
    p.add_argument("--entity-labels", nargs="+", help="the schema; default: accept any label")
    p.add_argument("--skip-invalid", action="store_true", help="skip (and count) bad records instead of stopping")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    _add_write_options(p, predictions=False)
    p.set_defaults(func=_convert)

    p = sub.add_parser("evaluate", help="score a packaged model on an annotated file and write the report")
    p.add_argument("--model", required=True, help="packaged model folder (or hub id)")
    p.add_argument("--data", required=True, help="annotated data in any format (JSONL, CoNLL, a tool's export)")
    p.add_argument(
        "--output",
        help="report folder (default: eval/<model>-<data file stem>, plus -<onnx file> or -bfloat16 for other engines)",
    )
    p.add_argument("--skip-invalid", action="store_true", help="skip and count bad records instead of stopping")
    _add_read_options(p)
    _add_run_options(p)
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("compare", help="evaluate several models (packages or published checkpoints) on one file")
    p.add_argument(
        "--models", nargs="+", required=True, help="packaged model folders, published checkpoints or hub ids"
    )
    p.add_argument("--data", required=True, help="annotated data in any format (JSONL, CoNLL, a tool's export)")
    p.add_argument(
        "--output", help="folder for compare.{json,md} and each model's report (default: eval/compare-<data>)"
    )
    p.add_argument("--skip-invalid", action="store_true", help="skip and count bad records instead of stopping")
    _add_read_options(p)
    _add_run_options(p)
    p.set_defaults(func=_compare)

    p = sub.add_parser("package", help="package a training run folder as models/<name>")
    p.add_argument("run_dir", help="a train.py output_dir")
    p.add_argument("--output", help="package folder (default: models/<run folder name>)")
    p.add_argument("--data", help="evaluate on this file (default: the run's test or validation file)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing package folder")
    p.add_argument(
        "--push_to_hub", "--push-to-hub", metavar="REPO", help="also upload the folder to this hub repository"
    )
    p.set_defaults(func=_package)

    p = sub.add_parser("export-onnx", help="export a package's model to ONNX (PACKAGE/onnx/) for faster CPU inference")
    p.add_argument("package", metavar="PACKAGE", help="a local packaged model folder (its manifest is rewritten)")
    p.add_argument(
        "--quantize", choices=["int8"], help="also write onnx/model.int8.onnx (int8 weights: smaller, faster)"
    )
    p.add_argument("--opset", type=int, help="ONNX opset version (default: the exporter's)")
    p.add_argument(
        "--no-check", "--no_check", action="store_true", help="skip the parity check against the PyTorch model"
    )
    p.set_defaults(func=_export_onnx)

    p = sub.add_parser("predict", help="tag articles, one per line (plain text or JSON with 'text'); JSON Lines out")
    p.add_argument("--model", required=True, help="packaged model folder (or hub id)")
    p.add_argument("input", nargs="?", default="-", help="input file, or - for standard input (default)")
    _add_run_options(p)
    _add_input_options(p)
    _add_write_options(p, predictions=True)
    p.set_defaults(func=_predict)
    p = sub.add_parser("prepare", help="convert a public corpus (gsr, gsr-arguments, ant) into native JSONL splits")
    p.add_argument(
        "corpus",
        choices=["gsr", "gsr-arguments", "ant"],
        help="gsr: arabic_event_gsr events; gsr-arguments: its argument spans (*_spans.json); ant: ANT Corpus v1.1",
    )
    p.add_argument("--input", required=True, help="the corpus folder")
    p.add_argument("--output", required=True, help="folder for train/validation/test.jsonl")
    p.add_argument("--seed", type=int, default=13, help="split seed (default 13)")
    p.add_argument(
        "--ambiguous",
        choices=["exclude", "positive", "negative"],
        default="exclude",
        help="gsr: what an 'ambiguous' judgement becomes (default: exclude the sentence)",
    )
    p.add_argument(
        "--unjudged",
        choices=["unknown", "negative"],
        default="unknown",
        help="gsr: the event type a sentence was not judged for: unknown (default; written as 'judged') or "
        "negative (no 'judged'; see BENCHMARKS.md, GSR events: judged labels)",
    )
    p.add_argument(
        "--policy",
        choices=["consensus", "first"],
        default="consensus",
        help="gsr-arguments: which annotator variant a sentence takes (default: the one closest to the others)",
    )
    p.add_argument("--skip-invalid", action="store_true", help="ant: skip (and list) files with an empty text")
    p.add_argument("--overwrite", action="store_true", help="replace the splits --output already holds")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("analyze", help="entities and events of each article (JSON Lines out)")
    p.add_argument("--ner", required=True, help="packaged NER model folder (or hub id)")
    p.add_argument("--events", required=True, help="packaged event model folder (or hub id)")
    p.add_argument("--arguments", help=ARGUMENTS_HELP)
    p.add_argument("input", nargs="?", default="-", help="input file (one article per line, text or JSON), or -")
    _add_run_options(p)
    _add_input_options(p)
    _add_write_options(p, predictions=True)
    p.set_defaults(func=_analyze)

    p = sub.add_parser(
        "serve",
        help="HTTP service: JSON API, web page and Label Studio ML backend (needs akhbar[serve])",
        description="Serve packaged models over HTTP until SIGINT/SIGTERM (requests in flight are finished).",
    )
    p.add_argument("--ner", required=True, help="packaged NER model folder (or hub id)")
    p.add_argument("--events", help="packaged event model folder (or hub id); without it /v1/events is 404")
    p.add_argument("--arguments", help=ARGUMENTS_HELP)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    _add_run_options(p)
    p.add_argument("--max-body-mb", type=float, default=10.0, help="largest request body in MiB (default 10): 413")
    p.add_argument("--max-texts", type=int, default=256, help="most texts or tasks per request (default 256): 413")
    p.add_argument("--max-chars", type=int, default=100_000, help="longest text in characters (default 100,000): 413")
    p.add_argument(
        "--timeout", type=float, default=60.0, help="seconds a request may take, queueing included (default 60): 504"
    )
    p.add_argument(
        "--batch-wait-ms",
        type=float,
        default=50.0,
        help="milliseconds a model call waits, after the previous one, for more requests to share it (default 50; "
        "a request to an idle model does not wait)",
    )
    p.add_argument(
        "--max-queue", type=int, default=4096, help="texts waiting for the model before requests get 503 (default 4096)"
    )
    p.set_defaults(func=_serve)
    for command in sub.choices.values():  # so that main can name the command a stray flag was given to
        command.set_defaults(command_parser=command)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        command = getattr(args, "command_parser", parser)
        command.error(_unrecognized(extra, command))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # weight-loading bars would bury the one line a user error prints
    return run_user_command(args.func, args)


if __name__ == "__main__":
    sys.exit(main())

"""The annotation loop against a real Label Studio, started here on 127.0.0.1 (no mock):

pre-annotate Arabic articles with a tiny akhbar model -> import them into a new project (NER + events
labelling config, created through the SDK) -> submit annotations through the API (one with UTF-16 offsets
after an emoji, as a browser's JavaScript counts them; one cancelled; a second annotator) -> export the
project -> read the export with akhbar -> train a tiny model on it with train.py.

And the ML backend: ``akhbar serve`` with the same tiny model, connected to a second project as its ML
backend through the SDK; Label Studio's "retrieve predictions" action makes it call ``/predict``, and the
predictions that land on the tasks must be the ones ``akhbar predict --format label-studio`` wrote.

Runs in the Label Studio environment (its pinned dependencies stay out of akhbar's), calling akhbar's own
interpreter for akhbar's commands:

    python3 -m venv .venv-ls && .venv-ls/bin/pip install label-studio==1.23.2 label-studio-sdk==2.1.2
    .venv-ls/bin/python tests/label_studio/roundtrip.py --akhbar-python .venv/bin/python

Exits 0 when every check passes; writes the timings and versions to ``--report`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "akhbar0roundtrip0token0000000000000000000"
LABEL_CONFIG = """<View style="direction: rtl">
  <Labels name="label" toName="text">
    <Label value="PERS"/><Label value="LOC"/><Label value="ORG"/><Label value="MISC"/>
  </Labels>
  <Text name="text" value="$text"/>
  <Choices name="event" toName="text" choice="multiple">
    <Choice value="PROTEST"/><Choice value="ASSAULT"/><Choice value="ARREST"/><Choice value="ELECTION"/>
  </Choices>
</View>"""
# Our own texts. The first has an emoji before its spans: one code point, two UTF-16 code units.
ARTICLES = [
    (
        "ls-1",
        "📢 تظاهر مئات الطلاب أمام وزارة التربية في إربد صباح الأحد.",
        [("وزارة التربية", "ORG"), ("إربد", "LOC")],
        ["PROTEST"],
    ),
    (
        "ls-2",
        "اعتقلت الشرطة في بيروت ثلاثة رجال بعد اشتباك مع قوات الأمن.",
        [("الشرطة", "ORG"), ("بيروت", "LOC")],
        ["ARREST", "ASSAULT"],
    ),
    (
        "ls-3",
        "زار وزير الخارجية عمّان أمس والتقى الملك عبد الله الثاني.",
        [("عمّان", "LOC"), ("عبد الله الثاني", "PERS")],
        [],
    ),
    (
        "ls-4",
        "أعلنت اللجنة العليا للانتخابات في تونس موعد الاقتراع المقبل.",
        [("اللجنة العليا للانتخابات", "ORG"), ("تونس", "LOC")],
        ["ELECTION"],
    ),
]
SCHEMA = ["PERS", "LOC", "ORG", "MISC"]


def u16(text: str, i: int) -> int:
    return len(text[:i].encode("utf-16-le")) // 2


def result(text: str, spans, events, utf16: bool = False) -> list[dict]:
    out = []
    for k, (word, label) in enumerate(spans):
        s = text.index(word)
        e = s + len(word)
        start, end = (u16(text, s), u16(text, e)) if utf16 else (s, e)
        out.append(
            {
                "id": f"r{k}",
                "from_name": "label",
                "to_name": "text",
                "type": "labels",
                "value": {"start": start, "end": end, "text": word, "labels": [label]},
            }
        )
    if events:
        out.append(
            {"id": "ev", "from_name": "event", "to_name": "text", "type": "choices", "value": {"choices": list(events)}}
        )
    return out


def gold_article(ident: str, text: str, spans, events) -> dict:
    entities = []
    for word, label in spans:
        start = text.index(word)
        entities.append({"start": start, "end": start + len(word), "label": label})
    return {"id": ident, "text": text, "entities": entities, "events": list(events)}


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, **kw)
    if done.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(map(str, cmd))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def start_label_studio(exe: str, data: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        # The ML backend is akhbar serve on 127.0.0.1: Label Studio refuses local addresses for it (and for the
        # webhook it adds at the backend's /webhook) unless told.
        "ML_BLOCK_LOCAL_IP": "false",
        "SSRF_PROTECTION_ENABLED": "false",
    }
    log = (data / "label-studio.log").open("w")
    proc = subprocess.Popen(
        [
            exe,
            "start",
            "--no-browser",
            "--internal-host",
            "127.0.0.1",
            "--port",
            str(port),
            "--host",
            f"http://127.0.0.1:{port}",
            "--username",
            "admin@example.org",
            "--password",
            "akhbar-roundtrip",
            "--user-token",
            TOKEN,
            "--enable-legacy-api-token",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"FAILED: Label Studio exited ({proc.returncode}); see {data / 'label-studio.log'}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(1)
    proc.terminate()
    raise SystemExit("FAILED: Label Studio did not answer /health within 300 s")


def wait_health(url: str, proc: subprocess.Popen, what: str, log: Path, seconds: float = 300) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"FAILED: {what} exited ({proc.returncode}); see {log}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"FAILED: {what} did not answer /health within {seconds:g} s")


def ml_backend(client, py: str, package: Path, port: int, work: Path, expected: list[dict]) -> str:
    """akhbar serve as the ML backend of a new project; Label Studio retrieves its predictions for every task.

    ``expected``: the tasks ``akhbar predict --format label-studio`` wrote for the same articles.
    """
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    log = work / "akhbar-serve.log"
    url = f"http://127.0.0.1:{port}"
    command = [py, "-m", "akhbar.cli", "serve", "--ner", str(package), "--port", str(port), "--device", "cpu"]
    command += ["--precision", "float32"]
    with log.open("w") as out:
        serve = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_health(url, serve, "akhbar serve", log, seconds=180)
        project = client.projects.create(title="akhbar ML backend", label_config=LABEL_CONFIG)
        client.projects.import_tasks(
            id=project.id, request=[{"data": {"text": t, "article_id": a}} for a, t, _, _ in ARTICLES]
        )
        backend = client.ml.create(url=url, project=project.id, title="akhbar")
        state = client.ml.get(id=backend.id)
        check(state.state == "CO", f"Label Studio connected to akhbar serve as ML backend (state {state.state})")
        client.actions.create(id="retrieve_tasks_predictions", project=project.id, selected_items={"all": True})
        tasks = {t.data["article_id"]: t for t in client.tasks.list(project=project.id)}
        version = expected[0]["predictions"][0]["model_version"]
        for task in expected:
            ident = task["data"]["article_id"]
            got = client.predictions.list(task=tasks[ident].id)
            check(
                len(got) == 1 and got[0].model_version == version,
                f"{ident}: one prediction from the ML backend, model_version {version}",
            )
            want = task["predictions"][0]
            check(
                got[0].result == want["result"] and abs(got[0].score - want["score"]) < 1e-9,
                f"{ident}: the ML backend's {len(got[0].result)} regions equal akhbar predict's, scores included",
            )
    finally:
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(timeout=60)
    check(code == 0, "akhbar serve stopped on SIGTERM with exit code 0")
    return version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--akhbar-python", default=str(ROOT / ".venv" / "bin" / "python"))
    parser.add_argument("--label-studio", default=str(Path(sys.executable).with_name("label-studio")))
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--serve-port", type=int, default=8090, help="akhbar serve, the ML backend")
    parser.add_argument("--workdir", help="kept for inspection (default: a temporary folder, removed)")
    parser.add_argument("--report", help="write the timings and versions here (JSON)")
    args = parser.parse_args()
    from label_studio_sdk import LabelStudio

    work = Path(args.workdir or tempfile.mkdtemp(prefix="akhbar-ls-"))
    (work / "ls").mkdir(parents=True, exist_ok=True)
    py = args.akhbar_python
    times: dict[str, float] = {}
    t0 = time.time()

    # 1. A tiny akhbar model, trained on these articles' gold (a previous annotation round) so that it predicts
    #    spans to pre-annotate with.
    gold = work / "gold.jsonl"
    gold.write_text(
        "".join(json.dumps(gold_article(*a), ensure_ascii=False) + "\n" for a in ARTICLES), encoding="utf-8"
    )
    run([py, "-m", "akhbar.cli", "tiny-model", str(work / "tiny")])
    common = [
        "--model_name_or_path",
        str(work / "tiny"),
        "--max_length",
        "64",
        "--stride",
        "16",
        "--learning_rate",
        "3e-3",
        "--warmup_steps",
        "0",
        "--disable_tqdm",
        "true",
        "--package_dir",
        str(work / "models"),
        "--validation_split",
        "0",
        "--per_device_train_batch_size",
        "4",
    ]
    run(
        [
            py,
            "train.py",
            "--config",
            "configs/ner-sample.yaml",
            "--train_file",
            str(gold),
            "--validation_file",
            str(gold),
            "--test_file",
            str(gold),
            "--output_dir",
            str(work / "run-pre"),
            "--model_name",
            "pre",
            "--num_train_epochs",
            "60",
            "--eval_strategy",
            "steps",
            "--eval_steps",
            "1000",
            "--save_strategy",
            "steps",
            "--save_steps",
            "1000",
            "--load_best_model_at_end",
            "false",
            *common,
        ]
    )
    texts = work / "articles.jsonl"
    texts.write_text(
        "".join(json.dumps({"id": a, "text": t}, ensure_ascii=False) + "\n" for a, t, _, _ in ARTICLES),
        encoding="utf-8",
    )
    tasks_file = work / "tasks.json"
    run(
        [
            py,
            "-m",
            "akhbar.cli",
            "predict",
            "--model",
            str(work / "models" / "pre"),
            str(texts),
            "--format",
            "label-studio",
            "--output",
            str(tasks_file),
            "--precision",  # float32 on both sides: bfloat16 rounding varies with the batches
            "float32",
        ]
    )
    tasks = json.loads(tasks_file.read_text(encoding="utf-8"))
    model_version = tasks[0]["predictions"][0]["model_version"]
    predicted = sum(len(t["predictions"][0]["result"]) for t in tasks)
    check(predicted > 0, f"the tiny model pre-annotated {predicted} spans")
    times["akhbar_model_and_predictions_s"] = round(time.time() - t0, 1)

    # 2. A real Label Studio on 127.0.0.1.
    t1 = time.time()
    proc = start_label_studio(args.label_studio, work / "ls", args.port)
    times["label_studio_start_s"] = round(time.time() - t1, 1)
    try:
        t2 = time.time()
        client = LabelStudio(base_url=f"http://127.0.0.1:{args.port}", api_key=TOKEN)
        project = client.projects.create(title="akhbar round trip", label_config=LABEL_CONFIG)
        check(project.id is not None, f"project {project.id} created through the SDK")
        client.projects.import_tasks(id=project.id, request=tasks)
        imported = list(client.tasks.list(project=project.id))
        check(len(imported) == len(ARTICLES), f"{len(imported)} tasks imported with akhbar's pre-annotations")
        preds = [p for t in imported for p in client.predictions.list(task=t.id)]
        check(
            len(preds) == len(ARTICLES) and all(p.model_version == model_version for p in preds),
            f"Label Studio holds {len(preds)} predictions of model_version {model_version}",
        )
        regions = [r for p in preds for r in p.result]
        check(
            len(regions) == predicted and all("score" in r for r in regions),
            f"{len(regions)} predicted regions kept their scores",
        )
        second = client.users.create(username="annotator2", email="annotator2@example.org", password="akhbar-ls-2")
        by_article = {t.data["article_id"]: t for t in imported}
        for ident, text, spans, events in ARTICLES:
            task = by_article[ident]
            # ls-1: UTF-16 offsets after the emoji, as a browser's JavaScript counts them.
            client.annotations.create(
                id=task.id, result=result(text, spans, events, utf16=ident == "ls-1"), was_cancelled=False
            )
        # A second annotator disagrees on ls-3 (the person without its last word) and cancels ls-4.
        t3, t4 = by_article["ls-3"], by_article["ls-4"]
        text3 = ARTICLES[2][1]
        client.annotations.create(
            id=t3.id,
            result=result(text3, [("عمّان", "LOC"), ("عبد الله", "PERS")], []),
            completed_by=second.id,
            was_cancelled=False,
        )
        client.annotations.create(id=t4.id, result=[], completed_by=second.id, was_cancelled=True)
        export = work / "export.json"
        with export.open("wb") as f:
            for chunk in client.projects.exports.download_sync(project.id, export_type="JSON", download_all_tasks=True):
                f.write(chunk)
        times["label_studio_api_s"] = round(time.time() - t2, 1)

        t_ml = time.time()
        ml_backend(client, py, work / "models" / "pre", args.serve_port, work, tasks)
        times["ml_backend_s"] = round(time.time() - t_ml, 1)
    finally:
        proc.terminate()
        proc.wait(timeout=60)

    exported = json.loads(export.read_text(encoding="utf-8"))
    check(len(exported) == len(ARTICLES), f"export holds {len(exported)} tasks")
    annotators = {str(a.get("completed_by")) for t in exported for a in t["annotations"]}
    check(len(annotators) == 2, f"annotations by two users ({sorted(annotators)})")

    # 3. akhbar reads the export as it is.
    t5 = time.time()
    done = run([py, "-m", "akhbar.cli", "validate", str(export), "--entity-labels", *SCHEMA])
    print(done.stdout.strip())
    check("offsets converted: 2 spans from utf16" in done.stdout, "the 2 UTF-16 spans were converted")
    check("1 cancelled" in done.stdout, "the cancelled annotation was left out and counted")
    agreement = "inter-annotator agreement over 1 record with several annotators"
    check(agreement in done.stdout, "agreement measured on the doubly annotated task")
    converted = work / "export.jsonl"
    run([py, "-m", "akhbar.cli", "convert", str(export), str(converted), "--to", "jsonl"])
    got = {a["id"]: a for a in map(json.loads, converted.read_text(encoding="utf-8").splitlines())}
    for ident, _, spans, events in ARTICLES:
        article = got[ident]
        check(
            [(article["text"][e["start"] : e["end"]], e["label"]) for e in article["entities"]] == spans
            and article["events"] == events,
            f"{ident}: spans and events as annotated",
        )

    # 4. Train a tiny model on the export itself.
    run(
        [
            py,
            "train.py",
            "--config",
            "configs/ner-sample.yaml",
            "--train_file",
            str(export),
            "--validation_file",
            str(export),
            "--test_file",
            str(export),
            "--output_dir",
            str(work / "run-export"),
            "--model_name",
            "from-ls",
            *common,
        ]
    )
    check(
        (work / "models" / "from-ls" / "manifest.json").is_file(), "train.py trained and packaged a model on the export"
    )
    times["akhbar_read_and_train_s"] = round(time.time() - t5, 1)
    times["total_s"] = round(time.time() - t0, 1)
    report = {"label-studio": version("label-studio"), "label-studio-sdk": version("label-studio-sdk"), **times}
    print(json.dumps(report))
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

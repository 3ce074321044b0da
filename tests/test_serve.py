"""``akhbar serve``: routes against in-process predictions, every bad request a JSON 4xx, batching of concurrent
requests, timeouts, failures that stay with their request, SIGTERM finishing requests in flight, the Label
Studio ML-backend routes. A real uvicorn on 127.0.0.1 (an ephemeral port) answers real HTTP requests."""

import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import EVENTS, ROLES, ROOT, SAMPLE, live_server

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")

from akhbar.cli import main as cli  # noqa: E402
from akhbar.formats import model_version  # noqa: E402
from akhbar.inference import Analyzer  # noqa: E402
from akhbar.serve.app import Limits, create_app  # noqa: E402
from akhbar.serve.label_studio import LabelConfig  # noqa: E402
from akhbar.serve.models import ServedModels  # noqa: E402

TEXTS = [json.loads(line)["text"] for line in (SAMPLE / "test.jsonl").read_text(encoding="utf-8").splitlines()]
LABEL_CONFIG = """<View style="direction: rtl">
  <Labels name="ner" toName="article">
    <Label value="PERS"/><Label value="LOC"/><Label value="ORG"/>
  </Labels>
  <Text name="article" value="$body"/>
  <Choices name="topic" toName="article" choice="multiple">
    <Choice value="PROTEST"/><Choice value="ASSAULT"/><Choice value="ARREST"/><Choice value="ELECTION"/>
  </Choices>
</View>"""


@pytest.fixture(scope="module")
def packages(random_packages):
    return random_packages


@pytest.fixture(scope="module")
def models(packages):
    return ServedModels.load(*packages, device="cpu", precision="float32")  # bfloat16 rounding varies with batches


@pytest.fixture(scope="module")
def expected(models):
    """In-process predictions of the sample texts, what every route must give back."""
    return Analyzer(models.ner, models.events).predict(TEXTS)


class Recorded(ServedModels):
    """The real models, recording the texts of each model call; ``delay``: seconds the first call sleeps
    first (so that concurrent requests queue up behind it); ``fail_on``: a text that makes a call raise."""

    def __init__(self, models: ServedModels, delay: float = 0.0, fail_on: str | None = None):
        super().__init__(models.ner, models.events, models.info, models.arguments)
        self.calls: list[list[str]] = []
        self.delay = delay
        self.fail_on = fail_on
        self.hold = None  # a test may set a condition the first call waits for (at most 60 s) instead of delay

    def run(self, job, texts):
        self.calls.append(list(texts))
        if len(self.calls) == 1 and self.hold is not None:
            deadline = time.time() + 60
            while not self.hold() and time.time() < deadline:
                time.sleep(0.05)
        elif len(self.calls) == 1 and self.delay:
            time.sleep(self.delay)
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError("a model failure for the test")
        return super().run(job, texts)


@pytest.fixture(scope="module")
def url(models):
    limits = Limits(max_body_bytes=64 * 1024, max_texts=8, max_chars=5_000, timeout=30)
    with live_server(create_app(models, limits)) as base:
        yield base


def test_routes_return_what_the_models_return_in_process(url, models, expected, packages):
    with httpx.Client(base_url=url, timeout=60) as client:
        got = client.post("/v1/analyze", json={"texts": TEXTS[:5]})
        assert got.status_code == 200
        body = got.json()
        assert body["results"] == expected[:5]
        assert body["model_version"] == model_version(*packages)
        articles = [{"id": f"a-{i}", "text": t} for i, t in enumerate(TEXTS[:3])] + [{"id": 7, "text": TEXTS[3]}]
        got = client.post("/v1/analyze", json={"articles": articles}).json()["results"]
        assert [r.pop("id") for r in got] == ["a-0", "a-1", "a-2", 7]
        assert got == expected[:4]
        entities = client.post("/v1/entities", json={"texts": TEXTS[:5]}).json()["results"]
        assert entities == [{"entities": e} for e in models.ner.predict(TEXTS[:5])]
        assert sum(len(r["entities"]) for r in entities) > 10, "many entities, or this comparison proves little"
        events = client.post("/v1/events", json={"texts": TEXTS[:5]}).json()["results"]
        assert events == [{"events": e} for e in models.events.predict(TEXTS[:5])]
        assert any(r["events"] for r in events)
        for result, text in zip(expected[:5], TEXTS):
            assert all(text[e["start"] : e["end"]] == e["text"] for e in result["entities"])


def test_health_has_every_counter_before_the_first_request():
    # The counters were a bare Counter: a fresh service's /health lacked "requests", "texts", ... (README lists them).
    from akhbar.serve.batcher import MicroBatcher

    batcher = MicroBatcher(lambda kind, texts: texts)
    try:
        counters = ("requests", "texts", "batches", "model_calls", "abandoned", "failed")
        assert batcher.status() == {"queued_texts": 0, "running_texts": 0, **dict.fromkeys(counters, 0)}
    finally:
        batcher._executor.shutdown()


def test_models_health_and_openapi(url, packages):
    with httpx.Client(base_url=url, timeout=60) as client:
        info = client.get("/v1/models").json()
        ner, events = packages
        assert info["ner"]["name"] == "ner-sample" and info["ner"]["labels"] == ["PERS", "LOC", "ORG", "MISC"]
        assert info["events"]["labels"] == EVENTS and info["events"]["multi_label"] is True
        assert info["ner"]["manifest_sha256"] == hashlib.sha256((ner / "manifest.json").read_bytes()).hexdigest()
        report = json.loads((ner / "eval_report.json").read_text(encoding="utf-8"))
        assert info["ner"]["evaluation"]["strict_f1"] == report["strict"]["micro"]["f1"]
        assert info["events"]["evaluation"]["macro_f1"] is not None
        assert info["ner"]["base_model"].endswith("tiny-bert") and "transformers" in info["ner"]["versions"]
        assert info["model_version"] == model_version(ner, events) and info["limits"]["max_texts"] == 8
        health = client.get("/health").json()
        assert health["status"] == "UP" and health["model_version"] == info["model_version"]
        schema = client.get("/openapi.json").json()
        assert {"/v1/analyze", "/v1/entities", "/v1/events", "/v1/models", "/health", "/predict", "/setup"} <= set(
            schema["paths"]
        )
        assert "413" in schema["paths"]["/v1/analyze"]["post"]["responses"]
        page = client.get("/")
        assert page.status_code == 200 and 'dir="rtl"' in page.text and 'lang="ar"' in page.text
        assert client.get("/static/app.js").status_code == 200


DEEP = b'{"texts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
BAD_REQUESTS = [
    # (route, body (bytes, or an object sent as JSON), headers, status, message)
    ("/v1/analyze", b'{"texts": ["a"', {}, 400, "not valid JSON"),
    ("/v1/analyze", b"\xff\xfe{}", {}, 400, "not valid JSON"),
    ("/v1/analyze", DEEP[:60_000], {}, 400, "not JSON that can be read|not valid JSON"),
    ("/v1/analyze", b'{"texts": [' + b"1" * 5000 + b"]}", {}, 400, "not JSON that can be read"),
    ("/v1/analyze", b'{"texts": ["\\ud800 x"]}', {}, 422, r"texts\[0\] has an unpaired surrogate U\+D800"),
    ("/v1/analyze", b'{"texts": ["a"]}', {"content-type": "text/plain"}, 415, "Content-Type: application/json"),
    ("/v1/analyze", b'{"texts": ["a"]}', {"content-type": ""}, 415, r"found none"),
    ("/v1/analyze", [], {}, 422, "valid dictionary"),
    ("/v1/analyze", {}, {}, 422, "either 'texts'"),
    ("/v1/analyze", {"texts": ["a"], "articles": [{"id": 1, "text": "b"}]}, {}, 422, "either 'texts'"),
    ("/v1/analyze", {"texts": "زار الوزير بيروت"}, {}, 422, "texts: Input should be a valid list"),
    ("/v1/analyze", {"texts": ["زار", 5]}, {}, 422, r"texts\[1\]: Input should be a valid string"),
    ("/v1/analyze", {"texts": [None]}, {}, 422, r"texts\[0\]: Input should be a valid string"),
    ("/v1/analyze", {"texts": [["a"]]}, {}, 422, r"texts\[0\]: Input should be a valid string"),
    ("/v1/analyze", {"texts": ["زار"], "lang": "ar"}, {}, 422, "lang: Extra inputs are not permitted"),
    ("/v1/analyze", {"articles": [{"text": "زار"}]}, {}, 422, r"articles\[0\].id: Field required"),
    ("/v1/analyze", {"articles": [{"id": True, "text": "زار"}]}, {}, 422, r"articles\[0\].id"),
    ("/v1/analyze", {"articles": [{"id": 1, "text": 3}]}, {}, 422, r"articles\[0\].text"),
    ("/v1/analyze", {"texts": []}, {}, 422, "texts is empty"),
    ("/v1/entities", {"texts": ["زار", ""]}, {}, 422, r"texts\[1\] is empty"),
    ("/v1/events", {"texts": [" \n\t "]}, {}, 422, r"texts\[0\] is empty"),
    ("/v1/analyze", {"texts": ["زار"] * 9}, {}, 413, "9 texts in one request; --max-texts is 8"),
    ("/v1/analyze", {"articles": [{"id": 1, "text": "ب" * 5001}]}, {}, 413, r"articles\[0\] has 5,001 characters"),
    ("/v1/analyze", {"texts": ["ب" * 4000] * 8}, {}, 413, "over --max-body-mb 0.0625"),
    ("/v1/nothing", {"texts": ["a"]}, {}, 404, "no route POST /v1/nothing"),
    ("/predict", {"tasks": [{"id": 1, "data": {"text": "زار"}}], "label_config": "<View"}, {}, 422, "not XML"),
    ("/predict", {"tasks": [{"id": 4, "data": {"body": 1}}], "label_config": LABEL_CONFIG}, {}, 422, r"task 4"),
    ("/predict", {"tasks": [{"id": 4, "data": {"body": "زار"}}] * 9, "label_config": LABEL_CONFIG}, {}, 413, "9 tasks"),
    ("/predict", {"tasks": "x"}, {}, 422, "tasks: Input should be a valid list"),
    ("/setup", {"schema": "<View><Text name='t' value='$text'/></View>"}, {}, 422, "no <Labels> control"),
    ("/setup", {"schema": "<View><Labels name='l' toName='x'/></View>"}, {}, 422, r"no <Text"),
]


@pytest.mark.parametrize(("route", "body", "headers", "status", "message"), BAD_REQUESTS)
def test_bad_requests_get_a_json_4xx_and_the_service_goes_on(url, expected, route, body, headers, status, message):
    import re

    with httpx.Client(base_url=url, timeout=60) as client:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"content-type": "application/json", **headers}
        if headers["content-type"] == "":
            del headers["content-type"]
        got = client.post(route, content=content, headers=headers)
        assert got.status_code == status, got.text
        error = got.json()
        assert error["status"] == status and re.search(message, error["error"]), error
        assert "\n" not in error["error"]
        # The worker is alive and still right.
        assert client.post("/v1/analyze", json={"texts": TEXTS[:1]}).json()["results"] == expected[:1]


def test_other_bad_requests(url):
    with httpx.Client(base_url=url, timeout=60) as client:
        assert client.get("/v1/analyze").json() == {"error": "/v1/analyze does not take GET", "status": 405}
        assert client.get("/nowhere").status_code == 404 and "no route GET /nowhere" in client.get("/nowhere").text
        # A body streamed without Content-Length (chunked) is cut off at the limit too.
        chunks = (b'{"texts": ["' + b"x" * 10_000 for _ in range(10))
        got = client.post("/v1/analyze", content=chunks, headers={"content-type": "application/json"})
        assert got.status_code == 413 and "--max-body-mb" in got.json()["error"]
        # A declared length far over the limit is answered before the body is read.
        raw = socket.create_connection((httpx.URL(url).host, httpx.URL(url).port), timeout=10)
        raw.sendall(b"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        raw.sendall(b"Content-Length: 1000000000\r\n\r\n{")
        reply = b""
        while b"}" not in reply:  # the JSON error is one object (read to its end; the connection stays open)
            reply += raw.recv(4096)
        reply = reply.decode()
        raw.close()
        assert reply.startswith("HTTP/1.1 413") and "1,000,000,000 bytes" in reply


def test_without_an_events_model_analyze_gives_entities_and_events_is_404(models, packages):
    ner_only = ServedModels.load(packages[0], None, device="cpu", precision="float32")
    with live_server(create_app(ner_only)) as base, httpx.Client(base_url=base, timeout=60) as client:
        got = client.post("/v1/analyze", json={"texts": TEXTS[:2]}).json()
        assert got["results"] == [{"entities": e} for e in models.ner.predict(TEXTS[:2])]
        assert "+" not in got["model_version"]
        missing = client.post("/v1/events", json={"texts": TEXTS[:2]})
        assert missing.status_code == 404 and "--events PACKAGE" in missing.json()["error"]
        assert client.get("/v1/models").json()["events"] is None


def test_with_an_argument_model_each_event_has_its_arguments(sentence_packages):
    ner, sentence_events, arguments = sentence_packages
    models = ServedModels.load(ner, sentence_events, arguments=arguments, device="cpu", precision="float32")
    texts = ["📢 " + t for t in TEXTS[:3]]  # an emoji first: offsets count code points, not UTF-16 units
    expected = Analyzer(models.ner, models.events, models.arguments).predict(texts)
    with live_server(create_app(models)) as base, httpx.Client(base_url=base, timeout=60) as client:
        body = client.post("/v1/analyze", json={"texts": texts}).json()
        assert body["results"] == expected
        assert body["model_version"] == model_version(ner, sentence_events, arguments)
        assert len(body["model_version"].split("+")) == 3
        found = [(text, event) for text, r in zip(texts, body["results"]) for event in r["events"]]
        assert sum(len(event["arguments"]) for _, event in found) > 5, "random heads find some, or this proves little"
        for text, event in found:
            for a in event["arguments"]:  # in the text sent, inside one of the event's evidence sentences
                assert text[a["start"] : a["end"]] == a["text"] and a["role"] in ROLES
                assert any(s["start"] <= a["start"] < a["end"] <= s["end"] for s in event["evidence"])
        events = client.post("/v1/events", json={"texts": texts}).json()["results"]
        assert events == [{"events": e} for e in models.events.predict(texts)]  # the events model's, no arguments
        info = client.get("/v1/models").json()
        assert info["arguments"]["name"] == "arguments-sample" and info["arguments"]["task"] == "arguments"
        assert info["arguments"]["labels"] == ROLES and info["arguments"]["multi_label"] is None
        assert info["model_version"] == body["model_version"]
        schema = client.get("/openapi.json").json()["components"]["schemas"]
        assert {"evidence", "arguments"} <= set(schema["Event"]["properties"])
        assert set(schema["Argument"]["properties"]) == {"role", "start", "end", "text", "score"}
        assert "code points" in schema["Evidence"]["properties"]["start"]["description"]


def test_cli_serve_with_arguments(sentence_packages, packages, capsys, monkeypatch):
    ner, sentence_events, arguments = sentence_packages
    for args, message in (
        (["--arguments", str(arguments)], r"give a sentence event model too \(--events\)"),
        (["--events", str(packages[1]), "--arguments", str(arguments)], "this event model is of task 'events'"),
        (["--events", str(sentence_events), "--arguments", str(ner)], "task 'ner' .*not one for ArgumentTagger"),
    ):
        assert cli(["serve", "--ner", str(ner), "--device", "cpu", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and re.search(message, err), err

    def loaded(ner, events, arguments, host, port, limits, load_options, announce):  # no uvicorn: the line only
        announce(ServedModels.load(ner, events, arguments, **load_options), f"http://{host}:{port}")

    monkeypatch.setattr("akhbar.serve.server.serve", loaded)
    args = ["--events", str(sentence_events), "--arguments", str(arguments), "--device", "cpu"]
    assert cli(["serve", "--ner", str(ner), *args]) == 0
    err = capsys.readouterr().err
    version = model_version(ner, sentence_events, arguments)
    assert f"serving ner-sample + sentence_events-sample + arguments-sample ({version}) at" in err, err


def post_all(base: str, bodies: list[dict], route: str = "/v1/analyze") -> list:
    """Post ``bodies`` at once, each from its own thread and connection; the responses in order."""
    barrier = threading.Barrier(len(bodies))

    def one(body):
        with httpx.Client(base_url=base, timeout=60) as client:
            barrier.wait()
            return client.post(route, json=body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, bodies))


def test_concurrent_requests_share_model_calls(models, expected):
    recorded = Recorded(models)
    bodies = [{"texts": TEXTS[i % len(TEXTS) : i % len(TEXTS) + 1 + i % 3]} for i in range(12)]
    texts = sum(len(b["texts"]) for b in bodies)
    with live_server(create_app(recorded, Limits(max_wait=0.02))) as base:
        # The first call holds the model until every request has arrived (a fixed sleep was flaky on a busy CPU).
        def all_arrived():
            status = httpx.get(f"{base}/health").json()
            return status["queued_texts"] + status["running_texts"] == texts

        recorded.hold = all_arrived
        responses = post_all(base, bodies)
        health = httpx.get(f"{base}/health").json()
    by_text = dict(zip(TEXTS, expected))
    for body, response in zip(bodies, responses):
        assert response.status_code == 200
        assert response.json()["results"] == [by_text[t] for t in body["texts"]]  # each its own, in order
    assert sum(map(len, recorded.calls)) == texts, "every text ran exactly once"
    # The first call holds the model while the other requests queue; the next call takes them all together (on a
    # fast machine every request may have arrived before the first call: then that one call takes them all).
    assert len(recorded.calls) <= 2, [len(c) for c in recorded.calls]
    assert health["requests"] == 12 and health["texts"] == texts and health["batches"] == len(recorded.calls)


def test_a_request_to_an_idle_model_does_not_wait(models, expected):
    # The batch wait follows a model call (for the clients it answered); a lone request starts at once.
    with live_server(create_app(models, Limits(max_wait=3.0))) as base, httpx.Client(base_url=base) as client:
        started = time.perf_counter()
        assert client.post("/v1/analyze", json={"texts": TEXTS[:1]}, timeout=60).json()["results"] == expected[:1]
        assert time.perf_counter() - started < 2.5


def test_a_failing_request_fails_alone(models, expected):
    recorded = Recorded(models, delay=0.5, fail_on="BOOM")
    bodies = [{"texts": [TEXTS[0]]}, {"texts": ["BOOM"]}, {"texts": [TEXTS[1]]}, {"texts": [TEXTS[2]]}]
    with live_server(create_app(recorded, Limits(max_wait=0.02))) as base:
        responses = post_all(base, bodies)
        after = httpx.post(f"{base}/v1/analyze", json={"texts": [TEXTS[3]]}, timeout=60)
    statuses = [r.status_code for r in responses]
    assert statuses == [200, 500, 200, 200]
    assert responses[1].json() == {"error": "the model failed on this request (see the server log)", "status": 500}
    assert [r.json()["results"][0] for i, r in enumerate(responses) if i != 1] == expected[:3]
    assert after.json()["results"] == [expected[3]]


def test_timeouts_and_a_full_queue_are_answered(models, expected):
    recorded = Recorded(models, delay=1.5)
    with live_server(create_app(recorded, Limits(timeout=0.5, max_queued_texts=2, max_wait=0))) as base:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(httpx.post, f"{base}/v1/analyze", json={"texts": [TEXTS[0]]}, timeout=60)
            while httpx.get(f"{base}/health").json()["running_texts"] == 0:  # the slow call holds the model
                time.sleep(0.01)
            responses = [first.result(), *post_all(base, [{"texts": TEXTS[1:3]}, {"texts": TEXTS[3:5]}])]
        statuses = sorted(r.status_code for r in responses)
        time.sleep(1.5)  # the slow first call is over
        after = httpx.post(f"{base}/v1/analyze", json={"texts": [TEXTS[0]]}, timeout=60)
        health = httpx.get(f"{base}/health").json()
    # The first waits past its timeout (504); of the other two, one is queued (504 in its turn) and one finds the
    # queue full (503).
    assert statuses == [503, 504, 504], [r.text for r in responses]
    errors = {r.status_code: r.json()["error"] for r in responses}
    assert "--timeout 0.5 s" in errors[504] and "limit is 2" in errors[503]
    assert after.status_code == 200 and after.json()["results"] == [expected[0]]
    assert health["abandoned"] == 1  # the timed-out request that had not run yet was skipped, not run


def test_label_studio_ml_backend_routes(url, models, expected):
    tasks = [{"id": 10 + i, "data": {"body": t}, "annotations": [], "predictions": []} for i, t in enumerate(TEXTS[:3])]
    with httpx.Client(base_url=url, timeout=60) as client:
        setup = client.post("/setup", json={"project": "1.1700000000", "schema": LABEL_CONFIG, "hostname": "h"})
        assert setup.json() == {"model_version": models.model_version}
        body = {"tasks": tasks, "project": "1.1700000000", "label_config": LABEL_CONFIG, "params": {"context": None}}
        got = client.post("/predict", json=body).json()
        assert client.get("/versions").json() == {"versions": [models.model_version]}
        # The webhook Label Studio adds for training: acknowledged, nothing trained.
        assert client.post("/webhook", json={"action": "ANNOTATION_CREATED"}).json()["status"] == "ignored"
    assert got["model_version"] == models.model_version and len(got["results"]) == 3
    for prediction, result, text in zip(got["results"], expected, TEXTS):
        assert prediction["model_version"] == models.model_version
        regions = [r for r in prediction["result"] if r["type"] == "labels"]
        choices = [r for r in prediction["result"] if r["type"] == "choices"]
        # The project's names, and only the labels its config lists (MISC is not among them).
        wanted = [e for e in result["entities"] if e["label"] != "MISC"]
        assert [(r["value"]["start"], r["value"]["end"], r["value"]["labels"]) for r in regions] == [
            (e["start"], e["end"], [e["label"]]) for e in wanted
        ]
        assert all(r["from_name"] == "ner" and r["to_name"] == "article" for r in regions)
        assert all(r["value"]["text"] == text[r["value"]["start"] : r["value"]["end"]] for r in regions)
        assert [(c["from_name"], c["value"]["choices"]) for c in choices] == [
            ("topic", [e["label"]]) for e in result["events"] if e["label"] != "AIRSTRIKE"
        ]


def test_label_config_reading():
    config = LabelConfig.parse(LABEL_CONFIG)
    names = (config.from_name, config.to_name, config.text_field, config.choices_name)
    assert names == ("ner", "article", "body", "topic")
    assert config.entity_labels == ["PERS", "LOC", "ORG"] and config.event_labels[:2] == ["PROTEST", "ASSAULT"]
    assert LabelConfig.parse(None) == LabelConfig()
    with pytest.raises(ValueError, match="point to 'other', which is no <Text>"):
        LabelConfig.parse('<View><Labels name="l" toName="other"/><Text name="t" value="$text"/></View>')
    with pytest.raises(ValueError, match=r"has value 'text'; akhbar reads a task field"):
        LabelConfig.parse('<View><Labels name="l" toName="t"/><Text name="t" value="text"/></View>')


def test_cli_serve_user_errors_are_one_line(packages, capsys, monkeypatch):
    ner, _ = packages
    for args, message in (
        (["--max-texts", "0"], "--max-texts must be at least 1, not 0"),
        (["--timeout", "nan"], "--timeout must be at least"),
        (["--port", "70000"], "--port must be in 0..65535"),
        (["--events", str(ner)], "holds a model of task 'ner', not an event model"),
    ):
        assert cli(["serve", "--ner", str(ner), *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert cli(["serve", "--ner", str(ner.parent / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing" in err, err
    import builtins

    real_import = builtins.__import__

    def no_uvicorn(name, *args, **kwargs):
        if name == "uvicorn":
            raise ImportError("no uvicorn")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvicorn)
    assert cli(["serve", "--ner", str(ner)]) == 2
    assert 'pip install "akhbar[serve]"' in capsys.readouterr().err


def start_serve(ner: Path, events: Path, port: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "akhbar.cli", "serve", "--ner", str(ner), "--events", str(events)]
    return subprocess.Popen(
        [*command, "--port", str(port), "--device", "cpu", "--precision", "float32", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(base: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert process.poll() is None, process.stderr.read()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"akhbar serve did not answer within {seconds} s")


@pytest.mark.slow
def test_sigterm_finishes_the_requests_in_flight(packages, models):
    """SIGTERM while a long request runs: it is answered in full, then the process exits 0 and listens no more."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_serve(*packages, port, "--max-texts", "400", "--max-body-mb", "20")
    try:
        wait_up(base, process)
        texts = [t for t in TEXTS for _ in range(40)]  # a few seconds of work for the tiny model
        box = {}
        thread = threading.Thread(
            target=lambda: box.update(r=httpx.post(f"{base}/v1/analyze", json={"texts": texts}, timeout=120))
        )
        thread.start()
        deadline = time.time() + 60
        while httpx.get(f"{base}/health").json()["running_texts"] == 0:  # the model is on it
            assert time.time() < deadline
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        thread.join(timeout=120)
        assert process.wait(timeout=60) == 0
        response = box["r"]
        assert response.status_code == 200
        assert response.json()["results"] == Analyzer(models.ner, models.events).predict(texts)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/health", timeout=2)
        assert "Shutting down" in process.stderr.read()
    finally:
        process.kill()
        process.wait()


def test_a_port_in_use_is_one_line_before_any_model_loads(packages, capsys, monkeypatch):
    # uvicorn bound the port only after the models had loaded and the command had said it was serving.
    def no_loading(*args, **kwargs):
        raise AssertionError("the models were loaded before the port was bound")

    monkeypatch.setattr(ServedModels, "load", no_loading)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli(["serve", "--ner", str(packages[0]), "--port", str(port), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: cannot listen on 127.0.0.1:{port}: Address already in use; is another server on it? " \
        "choose another --port\n"  # fmt: skip


@pytest.mark.slow
def test_port_0_announces_the_port_it_serves_on(packages):
    process = start_serve(*packages, 0)
    try:
        announced = process.stderr.readline()
        match = re.search(r"at http://127\.0\.0\.1:(\d+): web page", announced)
        assert match and match.group(1) != "0", announced
        base = f"http://127.0.0.1:{match.group(1)}"
        wait_up(base, process)
        assert httpx.get(f"{base}/v1/models").json()["ner"]["name"] == "ner-sample"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        process.wait()

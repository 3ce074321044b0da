"""The FastAPI application: routes, request limits, JSON errors, the web page.

Every error is a JSON body ``{"error": "one line", "status": N}`` (``"detail"`` lists each fault of a request
that does not validate). Bad requests get a 4xx: 400 invalid JSON, 404 unknown route (or a job whose model
is not loaded), 405 wrong method, 413 a body over ``max_body_bytes``, more texts than ``max_texts`` or a text
over ``max_chars``, 415 a body not sent as JSON, 422 wrong types, missing fields, empty texts. 503 says the
queue is full or the service is stopping, 504 that a request took longer than ``timeout``; a 500 is a bug
(logged with its traceback) and fails that request alone.
"""

from __future__ import annotations

import logging
import re
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from .batcher import MicroBatcher, ModelFailed, Overloaded, Stopping
from .label_studio import LabelConfig, predictions, task_texts
from .models import ServedModels

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Limits:
    """What one request may ask, and how requests are batched.

    Attributes:
        max_body_bytes: largest request body (413 above it).
        max_texts: most texts (or tasks) in one request (413 above it).
        max_chars: longest text, in characters (413 above it).
        timeout: seconds a request may take, queueing included (504 after it).
        max_wait: seconds a model call waits, after the previous one ended, for more requests to share it.
        max_batch_chars: characters of text one model call takes at most.
        max_queued_texts: texts waiting for the model before new requests get 503.
    """

    max_body_bytes: int = 10 * 2**20
    max_texts: int = 256
    max_chars: int = 100_000
    timeout: float = 60.0
    max_wait: float = 0.05
    max_batch_chars: int = 100_000
    max_queued_texts: int = 4096


class ApiError(Exception):
    """A request the service refuses: HTTP ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# ----------------------------------------------------------------------------------------- request bodies


class Article(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: str | int = Field(description="your id for the article, returned with its result")
    text: str


class TextsRequest(BaseModel):
    """Either ``texts`` or ``articles`` (texts with ids)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"texts": ["زار وزير الخارجية عمّان أمس."]}]},
    )
    texts: list[str] | None = None
    articles: list[Article] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> TextsRequest:
        if (self.texts is None) == (self.articles is None):
            raise ValueError("give either 'texts' (a list of strings) or 'articles' (a list of {id, text})")
        return self


TextsBody = Annotated[TextsRequest, Body()]  # module level: FastAPI resolves the routes' annotations here


class Entity(BaseModel):
    start: int = Field(description="offset of the first character, in code points of the text sent")
    end: int = Field(description="offset after the last character")
    label: str
    text: str = Field(description="text[start:end]")
    score: float = Field(description="mean probability of the entity's word tags, in [0, 1]")


class Evidence(BaseModel):
    start: int = Field(description="offset of the sentence's first character, in code points of the text sent")
    end: int = Field(description="offset after the sentence's last character")
    score: float = Field(description="the sentence's probability of the event, in [0, 1]")


class Argument(BaseModel):
    role: str = Field(description="the span's role in the event, one of the argument model's (SOURCE, TRIGGER, TARGET)")
    start: int = Field(description="offset of the first character, in code points of the text sent")
    end: int = Field(description="offset after the last character")
    text: str = Field(description="text[start:end]")
    score: float = Field(description="mean probability of the span's word tags, in [0, 1]")


class Event(BaseModel):
    label: str
    score: float = Field(description="the label's probability, in [0, 1]")
    evidence: list[Evidence] | None = Field(
        None, description="the sentences that say the event (a sentence event model only; absent otherwise)"
    )
    arguments: list[Argument] | None = Field(
        None,
        description="who did what to whom, read in the evidence sentences, in text order (/v1/analyze with an "
        "argument model only, for the event types it knows; absent otherwise)",
    )


class Result(BaseModel):
    id: str | int | None = Field(None, description="the article's id (``articles`` requests only)")
    entities: list[Entity] | None = Field(None, description="absent from /v1/events")
    events: list[Event] | None = Field(None, description="absent from /v1/entities and without an events model")


class ResultsResponse(BaseModel):
    results: list[Result]
    model_version: str


class ErrorResponse(BaseModel):
    error: str
    status: int
    detail: list[dict] | None = None


class LabelStudioPredict(BaseModel):
    """What Label Studio posts to ``/predict`` (fields it adds beyond these are accepted and ignored)."""

    tasks: list[dict[str, Any]]
    label_config: str | None = None
    project: str | int | None = None
    params: dict[str, Any] | None = None


class LabelStudioSetup(BaseModel):
    schema_: str | None = Field(None, alias="schema", description="the project's labelling config")
    project: str | int | None = None


# ------------------------------------------------------------------------------------------ the service


class BodyLimit:
    """ASGI middleware: read the request body up to ``max_bytes`` before the app sees it; 413 beyond.

    uvicorn has no body limit of its own. A body over the limit is read on (and dropped) up to
    :data:`DRAIN` times the limit, so that the client, still sending, reads the 413 rather than a reset
    connection; a ``Content-Length`` beyond that is answered at once.
    """

    DRAIN = 4

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        declared = int(declared) if declared is not None and declared.isdigit() else None
        if declared is not None and declared > self.max_bytes * self.DRAIN:
            return await self._too_large(scope, receive, send, declared)
        body = bytearray()
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total <= self.max_bytes:
                body += chunk
            if not message.get("more_body", False) or total > self.max_bytes * self.DRAIN:
                break
        if total > self.max_bytes:
            return await self._too_large(scope, receive, send, declared or total)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope, receive, send, size: int) -> None:
        mb = self.max_bytes / 2**20
        message = f"request body of {size:,} bytes or more is over --max-body-mb {mb:g} ({self.max_bytes:,} bytes)"
        await error_response(413, message)(scope, receive, send)


def error_response(status: int, message: str, detail: list | None = None) -> JSONResponse:
    body = {"error": message, "status": status}
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=status)


def _where(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def check_count(count: int, limits: Limits, what: str = "texts") -> None:
    if not count:
        raise ApiError(422, f"{what} is empty: give at least one")
    if count > limits.max_texts:
        raise ApiError(413, f"{count} {what} in one request; --max-texts is {limits.max_texts}")


def check_texts(texts: list[str], limits: Limits, what: str = "texts") -> None:
    """Refuse what the models must not be asked: too long texts, empty ones, split surrogates."""
    for i, text in enumerate(texts):
        if len(text) > limits.max_chars:
            raise ApiError(413, f"{what}[{i}] has {len(text):,} characters; --max-chars is {limits.max_chars:,}")
        if not text.strip():
            raise ApiError(422, f"{what}[{i}] is empty (or only white space)")
        bad = _SURROGATE.search(text)
        if bad:
            raise ApiError(422, f"{what}[{i}] has an unpaired surrogate U+{ord(bad.group()):04X} at {bad.start()}")


def create_app(models: ServedModels, limits: Limits | None = None) -> FastAPI:
    """The application serving ``models`` under ``limits`` (its batcher starts and stops with it)."""
    limits = limits or Limits()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher = MicroBatcher(models.run, limits.max_wait, limits.max_batch_chars, limits.max_queued_texts)
        batcher.start()
        app.state.batcher = batcher
        yield
        await batcher.stop()

    app = FastAPI(
        title="akhbar",
        version=__version__,
        summary="Entities and events of Arabic news articles, from packaged akhbar models.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load their scripts from a CDN; the schema is at /openapi.json
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.state.models = models
    app.state.limits = limits
    errors = {
        400: {"model": ErrorResponse, "description": "invalid JSON"},
        404: {"model": ErrorResponse, "description": "no such route, or the model for this job is not loaded"},
        413: {"model": ErrorResponse, "description": "body, text count or a text over the limits"},
        415: {"model": ErrorResponse, "description": "a body that is not sent as JSON"},
        422: {"model": ErrorResponse, "description": "wrong types, missing fields, empty texts"},
        503: {"model": ErrorResponse, "description": "queue full or shutting down"},
        504: {"model": ErrorResponse, "description": "the request took longer than --timeout"},
    }

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, err: ApiError):
        return error_response(err.status, err.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError):
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json" and not kind.endswith("+json"):
            # FastAPI reads a body as JSON only when its Content-Type says so; otherwise it validates raw bytes.
            found = kind or "none"
            return error_response(415, f"send the body as JSON with Content-Type: application/json (found {found})")
        faults = err.errors()
        detail = [{"where": _where(e.get("loc", ())), "fault": e.get("msg", "")} for e in faults]
        if any(e.get("type") == "json_invalid" for e in faults):
            cause = next(e for e in faults if e.get("type") == "json_invalid")
            reason = (cause.get("ctx") or {}).get("error", "")
            return error_response(400, f"the body is not valid JSON{': ' + reason if reason else ''}")
        for d in detail:
            d["fault"] = d["fault"].removeprefix("Value error, ")
        first = detail[0] if detail else {"where": "body", "fault": "invalid"}
        more = f" (and {len(detail) - 1} more)" if len(detail) > 1 else ""
        return error_response(422, f"{first['where']}: {first['fault']}{more}", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException):
        if err.status_code == 404:
            return error_response(
                404, f"no route {request.method} {request.url.path}; the API is listed at /openapi.json"
            )
        if err.status_code == 405:
            return error_response(405, f"{request.url.path} does not take {request.method}")
        if err.status_code == 400:  # FastAPI's answer to a body json.loads cannot read (too deep, a huge number)
            return error_response(400, "the body is not JSON that can be read (nested too deeply, a number too long?)")
        return error_response(err.status_code, str(err.detail))

    @app.exception_handler(Exception)
    async def _bug(request: Request, err: Exception):
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, f"internal error ({type(err).__name__}); see the server log")

    async def answer(request: Request, job: str, texts: list[str], what: str = "texts") -> list[dict]:
        if not models.has(job):
            raise ApiError(404, f"no events model is loaded: start the service with --events PACKAGE for /v1/{job}")
        check_count(len(texts), limits, what)
        check_texts(texts, limits, what)
        try:
            return await request.app.state.batcher.submit(job, texts, limits.timeout)
        except TimeoutError:
            raise ApiError(504, f"no result within --timeout {limits.timeout:g} s (the service is busy)") from None
        except (Overloaded, Stopping) as err:
            raise ApiError(503, str(err)) from None
        except ModelFailed as err:
            raise ApiError(500, str(err)) from None

    async def results(request: Request, job: str, body: TextsRequest) -> JSONResponse:
        if body.articles is not None:
            texts = [a.text for a in body.articles]
            got = await answer(request, job, texts, "articles")
            out = [{"id": a.id, **r} for a, r in zip(body.articles, got)]
        else:
            out = await answer(request, job, body.texts)
        return JSONResponse({"results": out, "model_version": models.model_version})

    @app.post("/v1/analyze", responses={200: {"model": ResultsResponse}, **errors})
    async def analyze(request: Request, body: TextsBody) -> JSONResponse:
        """Entities and events of each text, exactly as ``Analyzer.predict`` gives them (entities only when the
        service runs without an events model; each event's evidence with a sentence event model, and its
        arguments with an argument model); with ``articles``, each result carries the article's ``id``."""
        return await results(request, "analyze", body)

    @app.post("/v1/entities", responses={200: {"model": ResultsResponse}, **errors})
    async def entities(request: Request, body: TextsBody) -> JSONResponse:
        """The NER model's entities of each text (``NerTagger.predict``)."""
        return await results(request, "entities", body)

    @app.post("/v1/events", responses={200: {"model": ResultsResponse}, **errors})
    async def events(request: Request, body: TextsBody) -> JSONResponse:
        """The events model's events of each text (``EventClassifier.predict``); 404 without one."""
        return await results(request, "events", body)

    @app.get("/v1/models")
    async def describe() -> dict:
        """The loaded packages (labels, base model, evaluation headline, manifest hash, versions), the
        service's versions and limits."""
        import fastapi
        import torch
        import transformers
        import uvicorn

        return {
            **models.info,
            "model_version": models.model_version,
            "service": {
                "akhbar": __version__,
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "fastapi": fastapi.__version__,
                "uvicorn": uvicorn.__version__,
            },
            "limits": asdict(limits),
        }

    @app.get("/health")
    async def health(request: Request) -> dict:
        """``{"status": "UP"}`` once the models are loaded, with the batcher's counters; Label Studio's ML
        backend health check too."""
        return {"status": "UP", "model_version": models.model_version, **request.app.state.batcher.status()}

    # Label Studio's ML-backend protocol.
    @app.post("/setup", responses=errors)
    async def setup(body: LabelStudioSetup) -> dict:
        """Label Studio connects a project: its labelling config is checked, the model version returned."""
        try:
            config = LabelConfig.parse(body.schema_)
        except ValueError as err:
            raise ApiError(422, str(err)) from None
        if not config.has_labels and not (config.has_choices and models.events is not None):
            raise ApiError(422, "the labelling config has no <Labels> control (nor <Choices> for an events model)")
        return {"model_version": models.model_version}

    @app.post("/predict", responses=errors)
    async def predict(request: Request, body: LabelStudioPredict) -> JSONResponse:
        """Label Studio asks predictions for tasks: one prediction per task, in order."""
        check_count(len(body.tasks), limits, "tasks")
        try:
            config = LabelConfig.parse(body.label_config)
            texts, ids = task_texts(body.tasks, config)
        except ValueError as err:
            raise ApiError(422, str(err)) from None
        got = await answer(request, "analyze", texts, "tasks")
        version = models.model_version
        return JSONResponse({"results": predictions(texts, ids, got, config, version), "model_version": version})

    @app.post("/webhook")
    async def webhook() -> dict:
        """Label Studio adds a webhook at the ML backend's ``/webhook`` for training; akhbar serve does not
        train (train.py does, on an export), so it acknowledges and ignores the events."""
        return {"status": "ignored", "reason": "akhbar serve does not train; run train.py on an export"}

    @app.get("/versions")
    async def versions() -> dict:
        """Label Studio lists the model versions on offer: the one loaded."""
        return {"versions": [models.model_version]}

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app

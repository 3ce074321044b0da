"""Gather the texts of concurrent requests into shared model calls.

Each request becomes a :class:`Job` in a queue. One loop takes jobs off the queue into a batch (up to
``max_batch_chars`` characters; for at most ``max_wait`` seconds after the previous model call ended, so that
the clients it answered can send their next requests in time to join), then runs the batch's texts through the model in
one call on a single worker thread (one model call at a time: a forward pass already uses every core).
While that call runs, new requests queue up, and the next batch takes them all at once, so under load each
call holds many requests' texts and the model's own token-budget batches
(:func:`akhbar.inference.plan_batches`) fill as they do in-process.

Hand-written rather than taken from a library: the serving frameworks that batch (Ray Serve, BentoML,
Triton) each bring a server of their own, and this is the one queue FastAPI needs. A deque and an event
rather than ``asyncio.Queue`` with ``wait_for(get())``, which can lose an item taken in the instant its wait
is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..inference import CHUNK_CHARS

logger = logging.getLogger(__name__)


class Overloaded(RuntimeError):
    """More texts are queued than the service accepts (``max_queued_texts``)."""


class Stopping(RuntimeError):
    """The service is shutting down and takes no new work."""


class ModelFailed(RuntimeError):
    """The model raised on this request's texts (logged with its traceback); other requests are unaffected."""


@dataclass(eq=False)
class Job:
    """One request's texts for one job (``analyze``, ``entities`` or ``events``), and where its results go."""

    kind: str
    texts: list[str]
    future: asyncio.Future
    arrived: float
    chars: int = field(init=False)
    abandoned: bool = False  # the request gave up (timeout): skip it if it has not run yet

    def __post_init__(self) -> None:
        self.chars = sum(map(len, self.texts))


class MicroBatcher:
    """Run ``run(kind, texts) -> results`` (one result per text) over the texts of concurrent requests.

    Args:
        run: the model call; runs on one worker thread, never two calls at once.
        max_wait: seconds a batch waits, after the previous model call ended, for more requests (0: never).
        max_batch_chars: a batch takes jobs up to this many characters (a bigger job goes alone, whole).
        max_queued_texts: refuse new jobs (:class:`Overloaded`) while this many texts wait.
    """

    def __init__(
        self,
        run: Callable[[str, list[str]], list],
        max_wait: float = 0.05,
        max_batch_chars: int = CHUNK_CHARS,
        max_queued_texts: int = 4096,
    ):
        self._run = run
        self.max_wait = max_wait
        self.max_batch_chars = max_batch_chars
        self.max_queued_texts = max_queued_texts
        self._pending: deque[Job] = deque()
        self._queued_texts = 0
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="akhbar-model")
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.running = 0  # texts in the model call under way
        self._free_since = 0.0  # time.monotonic() when the last model call ended
        # Every counter from the start, so that /health has the same fields before the first request.
        counters = ("requests", "texts", "batches", "model_calls", "abandoned", "failed")
        self.stats: Counter = Counter(dict.fromkeys(counters, 0))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="akhbar-batcher")

    async def stop(self) -> None:
        """Stop taking work, let the model call under way finish, fail what is still queued."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._pending:
            job = self._pending.popleft()
            if not job.future.done():
                job.future.set_exception(Stopping("the service is shutting down"))
        self._executor.shutdown(wait=True)

    def status(self) -> dict:
        return {"queued_texts": self._queued_texts, "running_texts": self.running, **self.stats}

    async def submit(self, kind: str, texts: list[str], timeout: float | None) -> list:
        """Queue ``texts`` and wait for their results (in order).

        Raises:
            Overloaded: the queue is full. Stopping: the service is shutting down.
            TimeoutError: no result within ``timeout`` seconds (the job is skipped if it has not run yet).
        """
        if self._stopping:
            raise Stopping("the service is shutting down")
        if self._queued_texts + len(texts) > self.max_queued_texts and self._queued_texts:
            raise Overloaded(f"{self._queued_texts} texts are already waiting (the limit is {self.max_queued_texts})")
        loop = asyncio.get_running_loop()
        job = Job(kind, texts, loop.create_future(), time.monotonic())
        self._pending.append(job)
        self._queued_texts += len(texts)
        self.stats["requests"] += 1
        self.stats["texts"] += len(texts)
        self._wake.set()
        try:
            # shield: a timeout abandons the wait, not the future the batch loop will set.
            return await asyncio.wait_for(asyncio.shield(job.future), timeout)
        except (TimeoutError, asyncio.CancelledError):
            job.abandoned = True
            raise

    def _take(self) -> list[Job]:
        batch: list[Job] = []
        chars = 0
        while self._pending:
            job = self._pending[0]
            if job.abandoned:
                self._pending.popleft()
                self._queued_texts -= len(job.texts)
                self.stats["abandoned"] += 1
                continue
            if batch and chars + job.chars > self.max_batch_chars:
                break
            self._pending.popleft()
            self._queued_texts -= len(job.texts)
            batch.append(job)
            chars += job.chars
        return batch

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            if self._pending:
                # For up to max_wait after a model call ends, unless the batch is full, let the clients it just
                # answered send their next requests: without this, under load every other call misses them (calls
                # of half the clients each; measured in BENCHMARKS.md). A request to an idle model starts at once.
                delay = self._free_since + self.max_wait - time.monotonic()
                if delay > 0 and sum(j.chars for j in self._pending) < self.max_batch_chars:
                    await asyncio.sleep(delay)
            batch = self._take()
            if not self._pending:
                self._wake.clear()
            if batch:
                await self._run_batch(loop, batch)

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, batch: list[Job]) -> None:
        self.stats["batches"] += 1
        try:
            await self._run_jobs(loop, batch)
        except asyncio.CancelledError:  # stop() while a call ran: its requests get an answer, not silence
            for job in batch:
                _settle(job, error=Stopping("the service is shutting down"))
            raise

    async def _run_jobs(self, loop: asyncio.AbstractEventLoop, batch: list[Job]) -> None:
        by_kind: dict[str, list[Job]] = {}
        for job in batch:
            by_kind.setdefault(job.kind, []).append(job)
        for kind, jobs in by_kind.items():
            texts = [t for job in jobs for t in job.texts]
            try:
                results = await self._call(loop, kind, texts)
            except Exception:
                if len(jobs) == 1:
                    logger.exception("the model failed on a request of %d texts", len(texts))
                    self.stats["failed"] += 1
                    _settle(jobs[0], error=ModelFailed("the model failed on this request (see the server log)"))
                    continue
                # One request's texts must not fail the others': run each alone to find the one that fails.
                for job in jobs:
                    try:
                        _settle(job, await self._call(loop, kind, job.texts))
                    except Exception:
                        logger.exception("the model failed on a request of %d texts", len(job.texts))
                        self.stats["failed"] += 1
                        _settle(job, error=ModelFailed("the model failed on this request (see the server log)"))
                continue
            start = 0
            for job in jobs:
                _settle(job, results[start : start + len(job.texts)])
                start += len(job.texts)

    async def _call(self, loop: asyncio.AbstractEventLoop, kind: str, texts: list[str]) -> list:
        self.stats["model_calls"] += 1
        self.running = len(texts)
        try:
            results = await loop.run_in_executor(self._executor, self._run, kind, texts)
        finally:
            self.running = 0
            self._free_since = time.monotonic()
        if len(results) != len(texts):  # a contract of every predict: one result per text, in order
            raise RuntimeError(f"the model returned {len(results)} results for {len(texts)} texts")
        return results


def _settle(job: Job, results: list | None = None, error: BaseException | None = None) -> None:
    if job.future.done():
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(results)

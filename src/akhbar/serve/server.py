"""Run the service with uvicorn: ``akhbar serve``'s body."""

from __future__ import annotations

import logging
import signal

from ..extras import MissingDependency
from . import INSTALL_SERVE

logger = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def import_serving():
    """FastAPI and uvicorn, or a :class:`MissingDependency` that says how to install them."""
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise MissingDependency(
            f"akhbar serve needs FastAPI and uvicorn, which are not installed: {INSTALL_SERVE}"
        ) from None
    return uvicorn


def serve(
    ner: str,
    events: str | None,
    arguments: str | None,
    host: str,
    port: int,
    limits,
    load_options: dict,
    announce=None,
) -> None:
    """Load the packages, then answer on ``host:port`` until SIGINT or SIGTERM.

    On SIGTERM (or SIGINT) uvicorn stops accepting connections and waits for the requests in flight (up to
    the request timeout and 5 s more) before the batcher stops; then this returns (exit code 0).
    """
    uvicorn = import_serving()
    from .app import create_app
    from .models import ServedModels

    models = ServedModels.load(ner, events, arguments, **load_options)
    app = create_app(models, limits)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=int(limits.timeout) + 5,
        # Bad requests are answered by the app; uvicorn's own header limits stay as they are.
    )
    server = uvicorn.Server(config)
    if announce is not None:
        announce(models, f"http://{host}:{port}")
    # uvicorn finishes the requests in flight on SIGINT/SIGTERM, then raises the signal again for the handler
    # it found. With these, that ends here and the command exits 0 (a stop asked for, done cleanly) rather
    # than dying of the signal (-15) or printing a KeyboardInterrupt traceback.
    received: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in STOP_SIGNALS}
    try:
        server.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if received:
        logger.info("stopped by %s, the requests in flight answered", signal.Signals(received[0]).name)

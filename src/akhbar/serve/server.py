"""Run the service with uvicorn: ``akhbar serve``'s body."""

from __future__ import annotations

import logging

from ..inference import MissingDependency
from . import INSTALL_SERVE

logger = logging.getLogger(__name__)


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
    host: str,
    port: int,
    limits,
    load_options: dict,
    announce=None,
) -> None:
    """Load the packages, then answer on ``host:port`` until SIGINT or SIGTERM.

    On SIGTERM uvicorn stops accepting connections and waits for the requests in flight (up to the request
    timeout and 5 s more) before the batcher stops; then the process exits with code 0.
    """
    uvicorn = import_serving()
    from .app import create_app
    from .models import ServedModels

    models = ServedModels.load(ner, events, **load_options)
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
    server.run()

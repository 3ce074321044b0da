"""Run the service with uvicorn: ``akhbar serve``'s body."""

from __future__ import annotations

import errno
import logging
import signal
import socket

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


def listen(host: str, port: int) -> socket.socket:
    """The service's socket, bound before any model loads, as uvicorn binds it (``SO_REUSEADDR``).

    uvicorn binds only after the app has started: a port in use then showed up after the models had loaded
    and the command had announced that it was serving, as a logged error and exit code 3. Bound here, it is
    one line at once (exit code 2), and ``--port 0`` announces the port the system chose. Written out rather
    than ``uvicorn.Config.bind_socket()``: that needs the app (so the models) first, and on failure logs and
    calls ``sys.exit(3)`` itself.

    Raises:
        ValueError: the address cannot be bound (in use, not this machine's, unknown host name).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        hint = "; is another server on it? choose another --port" if err.errno == errno.EADDRINUSE else ""
        raise ValueError(f"cannot listen on {host}:{port}: {err.strerror or err}{hint}") from None
    sock.set_inheritable(True)
    return sock


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

    with listen(host, port) as sock:  # closed however this ends
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
            address = f"[{host}]" if ":" in host else host
            announce(models, f"http://{address}:{sock.getsockname()[1]}")
        # uvicorn finishes the requests in flight on SIGINT/SIGTERM, then raises the signal again for the handler
        # it found. With these, that ends here and the command exits 0 (a stop asked for, done cleanly) rather
        # than dying of the signal (-15) or printing a KeyboardInterrupt traceback.
        received: list[int] = []
        previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in STOP_SIGNALS}
        try:
            server.run(sockets=[sock])
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        if received:
            logger.info("stopped by %s, the requests in flight answered", signal.Signals(received[0]).name)

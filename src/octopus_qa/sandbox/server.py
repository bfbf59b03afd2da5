"""Serving the sandbox with uvicorn: in the foreground (`octoqa sandbox`) or in a background
thread for the length of a `with` block (embedded runs and tests).

The listening socket is bound here, before uvicorn starts, so "port in use" is one clear
UsageError rather than a log line from inside the server, and the announced URL is the real one.
"""

from __future__ import annotations

import contextlib
import gc
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from ..errors import TargetUnreachable, UsageError
from ..target import free_port
from .app import create_app

#: How long an embedded sandbox may take to accept connections before we give up.
STARTUP_TIMEOUT = 15.0
SHUTDOWN_TIMEOUT = 10.0


def base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (0: any free port); in use → UsageError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _config(app: ASGIApp) -> uvicorn.Config:
    # Quiet: the sandbox is a test fixture; its own errors still log at warning and above.
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")


class _ThreadedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the main thread (which owns it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29 spelled it this way
        pass


@contextlib.contextmanager
def running_sandbox(
    *, host: str = "127.0.0.1", port: int | None = None, **create_app_kwargs: Any
) -> Iterator[str]:
    """Serve a fresh sandbox on loopback for the block; yield its base URL.

    Waits (with a deadline) until uvicorn has started, and stops it on exit, whatever happened
    inside the block.
    """
    app = create_app(**create_app_kwargs)
    sock = bind_socket(host, free_port(host) if port is None else port)
    actual_port = sock.getsockname()[1]
    server = _ThreadedServer(_config(app))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox:{actual_port}", daemon=True
    )
    thread.start()
    try:
        _wait_started(server, thread, STARTUP_TIMEOUT)
        yield base_url(host, actual_port)
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT)
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise TargetUnreachable("the embedded sandbox stopped while starting")
        if time.monotonic() > deadline:
            raise TargetUnreachable(f"the embedded sandbox did not start within {timeout:g} s")
        time.sleep(0.01)


def serve(
    *,
    host: str,
    port: int,
    announce: Callable[[str], None] = print,
    **create_app_kwargs: Any,
) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM (uvicorn handles both gracefully)."""
    app = create_app(**create_app_kwargs)
    # The catalog is ~10^5 long-lived objects: keep the cyclic GC from re-scanning them on
    # every full collection (this process serves nothing else).
    gc.freeze()
    sock = bind_socket(host, port)
    try:
        announce(base_url(host, sock.getsockname()[1]))
        uvicorn.Server(_config(app)).run(sockets=[sock])
    finally:
        sock.close()

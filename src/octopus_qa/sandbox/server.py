"""Serving the sandbox with uvicorn: in the foreground (`octoqa sandbox`), in a background
thread for the length of a `with` block (embedded runs and tests), or in a process of its own
for a block (`sandbox_process`: suites run as a user would, benchmarks).

The listening socket is bound here, before uvicorn starts, so "port in use" is one clear
UsageError rather than a log line from inside the server, and the announced URL is the real one.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import psutil
import uvicorn
from starlette.types import ASGIApp

from ..errors import TargetUnreachable, UsageError
from ..target.ports import free_port
from .app import create_app

#: uvicorn's HTTP/1.1 parsers: "auto" is httptools where it is installed, else h11. A target in
#: production runs behind some other stack; the suite's own tests serve the sandbox on each, since
#: each refuses malformed or oversized requests its own way before the app sees them.
HTTP_IMPLEMENTATIONS = ("auto", "h11", "httptools")

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


def _config(app: ASGIApp, http: str = "auto") -> uvicorn.Config:
    # Quiet: the sandbox is a test fixture; its own errors still log at warning and above.
    if http not in HTTP_IMPLEMENTATIONS:
        raise UsageError(f"--http must be one of {', '.join(HTTP_IMPLEMENTATIONS)}, got {http!r}")
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", http=http)


class _ThreadedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the main thread (which owns it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29 spelled it this way
        pass


@contextlib.contextmanager
def running_sandbox(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    app: ASGIApp | None = None,
    http: str = "auto",
    **create_app_kwargs: Any,
) -> Iterator[str]:
    """Serve a fresh sandbox (or `app`, built by the caller) on loopback for the block, with
    uvicorn's `http` parser; yield its base URL.

    Waits (with a deadline) until uvicorn has started, and stops it on exit, whatever happened
    inside the block.
    """
    app = app if app is not None else create_app(**create_app_kwargs)
    sock = bind_socket(host, free_port(host) if port is None else port)
    actual_port = sock.getsockname()[1]
    server = _ThreadedServer(_config(app, http))
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
    http: str = "auto",
    **create_app_kwargs: Any,
) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM (uvicorn handles both gracefully), with
    uvicorn's `http` parser (HTTP_IMPLEMENTATIONS)."""
    config = _config(create_app(**create_app_kwargs), http)
    # The catalog is ~10^5 long-lived objects: keep the cyclic GC from re-scanning them on
    # every full collection (this process serves nothing else).
    gc.freeze()
    sock = bind_socket(host, port)
    try:
        announce(base_url(host, sock.getsockname()[1]))
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


@contextlib.contextmanager
def sandbox_process(
    *cli_args: str, env: Mapping[str, str] | None = None, timeout: float = 30.0
) -> Iterator[str]:
    """`octoqa sandbox --port P [cli_args]` in its own process for the block; yield its URL.

    For what must not share a process with the code under test: the tests that run the suites as
    a user would, and the benchmarks (a server on its own core). `env` replaces the environment
    (its account, for instance); on exit the sandbox gets Ctrl-C, then is killed if it lingers.
    """
    command = [sys.executable, "-m", "octopus_qa", "sandbox", *cli_args, "--port"]
    with server_process(lambda port: [*command, str(port)], env=env, timeout=timeout) as url:
        yield url


#: A server that exits while starting is started again on another free port, this many times in
#: all: a port found free can be taken by another process before the server binds it.
START_ATTEMPTS = 3


@contextlib.contextmanager
def server_process(
    command: Callable[[int], list[str]],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Iterator[str]:
    """`command(port)`, a server that listens on the loopback port it is given, in its own
    process for the block; yield its URL. The port is a free one; a server that exits while
    starting (another process took the port first) is started again on another. On exit it gets
    Ctrl-C, then is killed if it lingers: the one way every server a test or benchmark starts is
    stopped (the sandbox, the aiohttp target)."""
    for attempt in range(1, START_ATTEMPTS + 1):
        port = free_port()
        process = subprocess.Popen(
            command(port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=None if env is None else dict(env),
        )
        try:
            wait_listening(port, process, timeout)
            break
        except TargetUnreachable:
            exited = process.poll() is not None  # not a timeout: the server gave up itself
            _stop(process)
            if not exited or attempt == START_ATTEMPTS:
                raise
        except BaseException:
            _stop(process)
            raise
    try:
        yield base_url("127.0.0.1", port)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, then a kill if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(SHUTDOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_listening(port: int, process: subprocess.Popen[Any], timeout: float) -> None:
    """Until `process` (or a process it started) listens on loopback `port`; its dying ends it.

    Asked of the process's own sockets, not by connecting: a connection would also be accepted
    by another server that took the port first, and the block would then run against that one
    (and fail when it stops)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TargetUnreachable(f"the server exited with {process.returncode} while starting")
        if _listens(process.pid, port):
            return
        time.sleep(0.1)
    raise TargetUnreachable(f"nothing listened on port {port} within {timeout:g} s")


def _listens(pid: int, port: int) -> bool:
    """Whether process `pid` or one of its children has a TCP socket listening on `port`."""
    try:
        parent = psutil.Process(pid)
        for process in (parent, *parent.children(recursive=True)):
            for sock in process.net_connections(kind="tcp"):
                if sock.status == psutil.CONN_LISTEN and sock.laddr and sock.laddr.port == port:
                    return True
    except psutil.Error:  # gone, or a child that ended while being asked
        return False
    return False

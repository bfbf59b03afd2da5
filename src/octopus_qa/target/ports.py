"""Free loopback ports: for an embedded sandbox, a test server, a benchmark.

Its own module, below both `target` and `sandbox.server`, so that neither imports the other for
it: `target` starts the sandbox (and so imports `sandbox.server`), never the reverse.
"""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])

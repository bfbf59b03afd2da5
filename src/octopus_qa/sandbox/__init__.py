"""The local sandbox that serves the Octopus Cards API on loopback.

`create_app(...)` builds the ASGI app (a fresh one per call); `server.running_sandbox(...)` runs
it under uvicorn in a background thread; `faults.FAULTS` lists the planted bugs it can serve.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]

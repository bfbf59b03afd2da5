"""Opening a run's target: the named URL, or an embedded sandbox started for the run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..target import EMBEDDED, resolve_target


@contextmanager
def target_url(option: str | None, **sandbox_options: Any) -> Iterator[str]:
    """Yield the base URL to test: the named target, or an embedded sandbox for the block."""
    resolved = resolve_target(option)
    if resolved != EMBEDDED:
        yield resolved
        return
    # Imported here, not at the top: the sandbox (uvicorn, Starlette, the catalog) is only
    # loaded by runs that start one, not by every process that reads a target URL (Locust's).
    from ..sandbox.server import running_sandbox

    with running_sandbox(**sandbox_options) as url:
        yield url

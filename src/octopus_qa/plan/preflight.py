"""The preflight, written once: open a planned run's target before any stage sends anything.

`octoqa run`, `contract`, `load` and `capacity` (and the plugins, when no command opened the run
for them) all open their target here, in this order:

1. start the embedded sandbox, unless the plan names a URL (or an opened plan already has one:
   a stage of `octoqa run` talks to the run's one sandbox);
2. refuse a load target that is neither loopback nor allow-listed, before any traffic;
3. log in once: an unreachable target, refused credentials or a target that is not this API
   give one line and exit code 2 (the target part's errors).

Before all of them, a load run's `--metrics-port` must be free: a run that could not serve its
live metrics stops here, not after its users have run unwatched.

What it yields is the opened plan (the URL filled in) and the preflight's tokens, which are
secrets: the report scrubs them, and a contract run keeps them as its first login.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..errors import UsageError
from ..target.credentials import Credentials
from ..target.session import Tokens, login
from .hosts import check_target_allowed
from .run_plan import RunPlan, TargetPlan

__all__ = ["OpenRun", "check_port_free", "preflight"]


@dataclass(frozen=True)
class OpenRun:
    """A run whose target answers: the plan with its URL, and the preflight's login."""

    plan: RunPlan
    credentials: Credentials = field(repr=False)
    tokens: Tokens = field(repr=False)

    @property
    def url(self) -> str:
        return self.plan.url

    def secrets(self) -> tuple[str, ...]:
        """What must never appear in output or reports: the account and the tokens."""
        return (*self.credentials.secrets(), *self.tokens.secrets())


@contextmanager
def preflight(
    plan: RunPlan, credentials: Credentials | None = None, **sandbox_options: Any
) -> Iterator[OpenRun]:
    """Open the plan's target for the block (stopping a sandbox it started afterwards)."""
    credentials = credentials or Credentials.from_env()
    if plan.load is not None and plan.load.metrics_port is not None:
        check_port_free("--metrics-port", plan.load.metrics_port)
    with _reach(plan.target, **sandbox_options) as url:
        if plan.load is not None:
            check_target_allowed(url, plan.load.allowed_hosts, plan.load.allow_any_host)
        tokens = login(url, credentials)
        target = msgspec.structs.replace(plan.target, url=url)
        yield OpenRun(msgspec.structs.replace(plan, target=target), credentials, tokens)


@contextmanager
def _reach(target: TargetPlan, **sandbox_options: Any) -> Iterator[str]:
    """The target's URL: as planned (resolved once, by build_plan), or an embedded sandbox
    started for the block."""
    if target.url is not None:
        yield target.url
        return
    # Imported here, not at the top: the sandbox (uvicorn, Starlette, the catalog) is only
    # loaded by runs that start one, not by every process that reads a plan (Locust's).
    from ..sandbox.server import running_sandbox

    with running_sandbox(**sandbox_options) as url:
        yield url


def check_port_free(option: str, port: int) -> None:
    """Refuse a port something else already listens on (every interface, as it will be served:
    `loadtest/metrics.py`), before anything is started."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError as exc:
            raise UsageError(f"{option} {port}: cannot listen there ({exc.strerror})") from None

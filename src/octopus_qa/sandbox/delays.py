"""Load-test switches that slow the sandbox down on purpose, with a known shape.

These are not faults of the catalogue (no rule breaks); they exist to prove the load suite's
timing. `--latency-dist lognormal:median=20ms,sigma=0.5` delays every answer by a draw from that
distribution (seeded), so the suite's reported percentiles can be compared with the injected
ones; the draws are served at `GET /_sandbox/latency-draws` (JSON, milliseconds, in order; that
path is neither delayed nor drawn for) so a test compares with the exact sample, not only with
the theoretical quantiles. `--freeze-once 6s:2s` stops the whole server for 2 s once, at the
first request 6 s after the first request it served: a blocking sleep on the event loop, as a
stop-the-world pause would, so nothing is accepted or answered meanwhile. `--max-rps 300` makes
a server whose capacity is known: it starts at most 300 requests a second and queues the rest
in arrival order, the way a saturated server does, so a capacity search can be held to the
truth.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from array import array
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from ..durations import parse_duration

DRAWS_PATH = "/_sandbox/latency-draws"
#: Draws kept for DRAWS_PATH: a bounded run's worth (8 bytes each).
MAX_KEPT_DRAWS = 2_000_000


@dataclass(frozen=True)
class LatencyDistribution:
    """A log-normal delay: `median` and the log-space `sigma` (the shape of real service times)."""

    median_s: float
    sigma: float

    @classmethod
    def parse(cls, spec: str) -> LatencyDistribution:
        kind, _, params = spec.partition(":")
        if kind.strip() != "lognormal":
            raise ValueError(
                f"{spec!r}: the latency distribution must be lognormal:median=..,sigma=.."
            )
        values: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in params.split(","))):
            key, equals, value = part.partition("=")
            if not equals:
                raise ValueError(f"{spec!r}: {part!r} is not key=value")
            values[key.strip()] = value.strip()
        if set(values) != {"median", "sigma"}:
            raise ValueError(f"{spec!r}: give exactly median=DURATION and sigma=NUMBER")
        median_s = parse_duration(values["median"])
        try:
            sigma = float(values["sigma"])
        except ValueError:
            raise ValueError(f"{spec!r}: sigma must be a number") from None
        if not (0 < median_s <= 60 and math.isfinite(sigma) and 0 <= sigma <= 3):
            raise ValueError(f"{spec!r}: median must be within (0, 60 s] and sigma within 0..3")
        return cls(median_s, sigma)

    def sampler(self, seed: int) -> random.Random:
        return random.Random(f"latency-dist:{seed}")

    def draw(self, rng: random.Random) -> float:
        return min(rng.lognormvariate(math.log(self.median_s), self.sigma), 60.0)


@dataclass(frozen=True)
class Freeze:
    """Stop the server once for `duration_s`, `after_s` after the first request it served."""

    after_s: float
    duration_s: float

    @classmethod
    def parse(cls, spec: str) -> Freeze:
        after, colon, duration = spec.partition(":")
        if not colon:
            raise ValueError(f"{spec!r} is not AFTER:DURATION, e.g. 6s:2s")
        freeze = cls(parse_duration(after), parse_duration(duration))
        if not 0 < freeze.duration_s <= 60:
            raise ValueError(f"{spec!r}: a freeze lasts more than 0 and at most 60 s")
        return freeze


@dataclass(frozen=True)
class RateCap:
    """At most `rps` requests started a second; the rest wait their turn, first come first."""

    rps: float

    @classmethod
    def parse(cls, text: str) -> RateCap:
        try:
            rps = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number of requests a second") from None
        if not (math.isfinite(rps) and 0 < rps <= 1_000_000):
            raise ValueError(f"{text!r}: give a rate above 0 and at most 1,000,000")
        return cls(rps)


class RateCapMiddleware:
    """Outermost layer: each request takes the next free slot, 1/rps after the last one's.

    A single queue with a fixed service interval: below the cap nothing waits; above it the
    queue, and with it every answer's latency, grows for as long as the overload lasts, while
    throughput stays at the cap. That is the saturation a capacity search must find.
    """

    def __init__(self, app: ASGIApp, *, cap: RateCap) -> None:
        self.app = app
        self._interval = 1.0 / cap.rps
        self._next_slot = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
            if slot > now:
                await asyncio.sleep(slot - now)
        await self.app(scope, receive, send)


class DelayMiddleware:
    """Outermost layer: the one-off freeze, then the drawn delay, then the app."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        distribution: LatencyDistribution | None = None,
        freeze: Freeze | None = None,
        seed: int = 0,
    ) -> None:
        self.app = app
        self._distribution = distribution
        self._rng = distribution.sampler(seed) if distribution else None
        self._draws = array("d")
        self._freeze = freeze
        self._first_request: float | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._distribution is not None and scope["path"] == DRAWS_PATH:
            await self._send_draws(send)
            return
        if self._freeze is not None:
            self._maybe_freeze()
        if self._distribution is not None and self._rng is not None:
            delay = self._distribution.draw(self._rng)
            if len(self._draws) < MAX_KEPT_DRAWS:
                self._draws.append(delay * 1000.0)
            await asyncio.sleep(delay)
        await self.app(scope, receive, send)

    def _maybe_freeze(self) -> None:
        now = time.monotonic()
        if self._first_request is None:
            self._first_request = now
        elif self._freeze is not None and now - self._first_request >= self._freeze.after_s:
            duration, self._freeze = self._freeze.duration_s, None
            time.sleep(duration)  # blocks the event loop on purpose: the whole server stops

    async def _send_draws(self, send: Send) -> None:
        body = json.dumps([round(d, 4) for d in self._draws]).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

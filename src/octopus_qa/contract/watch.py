"""Noticing, once, that the target went away mid-run, so the run stops instead of blaming rules.

After the preflight, a request that gets no HTTP answer at all (connection refused or reset, no
answer within the request timeout) tells nothing about any rule: the run cannot judge. The first
such request is recorded here with when and where it happened; from then on every client of the
suite raises `TargetLost` at once instead of sending (so hypothesis's replays and the tests left
in the run cost nothing, and a hanging target costs one timeout, not one per test), the pytest
plugin stops the session, marks what was left "not judged" and the run exits 2.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Loss:
    """The request that found the target gone."""

    operation: str  # "GET /api/v1/products"
    reason: str  # "connection refused", "no answer within 10 s", ...
    at: float  # epoch seconds
    after_s: float  # since the run started
    requests_before: int
    what: str = "went away"  # or "refused a freshly issued token"

    def describe(self) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(self.at))
        return (
            f"the target {self.what} at {clock} ({self.after_s:.1f} s into the run, after "
            f"{self.requests_before} requests): {self.operation}: {self.reason}; "
            "the rest of the run is not judged"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "what": self.what,
            "operation": self.operation,
            "reason": self.reason,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at)),
            "after_s": round(self.after_s, 3),
            "requests_before": self.requests_before,
        }


class TargetLost(Exception):
    """The target gave no HTTP answer after the preflight: the run cannot judge (exit 2).

    Not an AssertionError on purpose: nothing may count it as a broken rule."""

    def __init__(self, loss: Loss) -> None:
        super().__init__(loss.describe())
        self.loss = loss


@dataclass(frozen=True)
class SlowAnswer:
    operation: str
    seconds: float


#: How many of the slowest answers summary.json lists (all are counted).
SLOWEST_KEPT = 10


class TargetWatch:
    """Counts the suite's requests, remembers the first one that got no answer, and the answers
    slower than `slow_answer_s` (reported, never failed: the documents promise no latency)."""

    def __init__(self, slow_answer_s: float = 2.0) -> None:
        self.slow_answer_s = slow_answer_s
        self._started = time.monotonic()
        self._requests = 0
        self._loss: Loss | None = None
        self._slow: list[SlowAnswer] = []
        self._slow_count = 0
        self._lock = threading.Lock()

    def answered(self, operation: str, seconds: float) -> None:
        """Note an answer's time; a slow one is kept (the slowest SLOWEST_KEPT of them)."""
        if seconds <= self.slow_answer_s:
            return
        with self._lock:
            self._slow_count += 1
            self._slow.append(SlowAnswer(operation, round(seconds, 3)))
            self._slow.sort(key=lambda answer: answer.seconds, reverse=True)
            del self._slow[SLOWEST_KEPT:]

    def slow_report(self) -> dict[str, object]:
        with self._lock:
            return {
                "limit_s": self.slow_answer_s,
                "count": self._slow_count,
                "slowest": [{"operation": a.operation, "seconds": a.seconds} for a in self._slow],
            }

    @property
    def loss(self) -> Loss | None:
        return self._loss

    def before_request(self) -> None:
        """Raise TargetLost if the target is already known gone; else count the request."""
        with self._lock:
            if self._loss is not None:
                raise TargetLost(self._loss)
            self._requests += 1

    def lost(self, operation: str, reason: str, what: str = "went away") -> TargetLost:
        """Record (the first) loss; the exception to raise from where it was met."""
        with self._lock:
            if self._loss is None:
                self._loss = Loss(
                    operation=operation,
                    reason=reason,
                    at=time.time(),
                    after_s=time.monotonic() - self._started,
                    requests_before=max(self._requests - 1, 0),
                    what=what,
                )
            return TargetLost(self._loss)


def transport_reason(exc: BaseException, timeout_s: float) -> str:
    """A transport exception (httpx or requests) as the words a user reads."""
    name = type(exc).__name__
    text = f"{name} {exc}".lower()
    if "timeout" in text or "timed out" in text:
        return f"no answer within {timeout_s:g} s ({name})"
    if "refused" in text:
        return f"connection refused ({name})"
    if "reset" in text or "closed" in text or "disconnect" in text or "incomplete" in text:
        return f"connection closed mid-response ({name})"
    return f"no HTTP answer ({name})"

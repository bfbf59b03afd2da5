"""Noticing, once, that the target went away mid-run, so the run stops instead of blaming rules;
and telling that apart from one exchange that broke while the target stayed up.

After the preflight, a request that gets no HTTP answer at all (connection refused, reset or
closed, no answer within the request timeout) may mean the target is gone, which tells nothing
about any rule: the run cannot judge. Before saying so, `no_answer` asks the target something
cheap on a fresh connection (`probe`). When that gets no answer either (or the request timed out:
the suite does not wait twice), the target is lost: recorded here with when and where; from then
on every client of the suite raises `TargetLost` at once instead of sending (so hypothesis's
replays and the tests left in the run cost nothing, and a hanging target costs one timeout, not
one per test), the pytest plugin stops the session, marks what was left "not judged" and the run
exits 2.

When the probe is answered, the target is up and only that connection broke. The request is sent
once more on a fresh connection, as browsers resend a request whose reused keep-alive connection
the server had closed (uvicorn closes the connection after a handler raised, and the next request
on it may find it gone): its answer is judged as any other. If it gets no answer again, the
target answers others but not this request: that exchange is broken, a server failure without
even the documented 500, and `unanswered_violation` names the rule it breaks. Only a request too
big for the HTTP layer (rules/http_layer.py) may go unanswered: the layer refused it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

import httpx
import requests

from ..rules import DOCUMENTED_STATUS_CODES, Exchange, RuleViolation, request_checks
from ..rules.http_layer import oversized_for_http_layer

Answer = TypeVar("Answer")

#: The probe: how long it waits for an answer, and the pauses before each try.
PROBE_TIMEOUT_S = 2.0
PROBE_PAUSES_S = (0.0, 0.25, 1.0)


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

    def no_answer(
        self,
        unanswered: Exchange,
        error: BaseException,
        timeout_s: float,
        resend: Callable[[], Answer],
        origin: str,
    ) -> Answer | None:
        """A request got no HTTP answer (`error`, from httpx or requests; `unanswered`: the
        request, NO_ANSWER for a status). Raises TargetLost when the target at `origin` is gone
        (or the request timed out); else resends it once and returns that answer; None when the
        HTTP layer refused an oversized request unanswered (not judged); raises the rule the
        broken exchange breaks (`unanswered_violation`) when the resend is unanswered too."""
        operation = f"{unanswered.method} {unanswered.path}"
        reason = transport_reason(error, timeout_s)
        if _timed_out(error) or not probe(origin):
            raise self.lost(operation, reason)
        if oversized_for_http_layer(unanswered) is not None:
            return None
        try:
            return resend()
        except (httpx.TransportError, requests.RequestException) as again:
            if _timed_out(again) or not probe(origin):
                raise self.lost(operation, transport_reason(again, timeout_s)) from None
            resent = transport_reason(again, timeout_s)
        raise unanswered_violation(unanswered, f"{reason}; resent: {resent}") from None

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


def probe(origin: str) -> bool:
    """Whether the target at `origin` (scheme://host:port) gives any HTTP answer, whatever its
    status, to GET of a path no operation has, on a fresh connection: a few short tries."""
    for pause in PROBE_PAUSES_S:
        time.sleep(pause)
        try:
            with httpx.Client(timeout=PROBE_TIMEOUT_S) as client:
                client.get(f"{origin.rstrip('/')}/octoqa-probe")
        except httpx.TransportError:
            continue
        return True
    return False


def _timed_out(error: BaseException) -> bool:
    return isinstance(error, httpx.TimeoutException | requests.Timeout)


def unanswered_violation(unanswered: Exchange, reason: str) -> RuleViolation:
    """The rule a request breaks by getting no answer while the target answers others.

    No answer is a server failure short of even the documented 500 (E1, E4): the rule that
    decides this request's answer (the request checks, reading the exchange as a 500) is broken
    first; a request no such rule decides (a valid one) breaks documented-status-codes, as a 500
    to it does (schemathesis's not_a_server_error).
    """
    operation = f"{unanswered.method} {unanswered.path}"
    what = f"no answer ({reason}), though the target answered a probe on a fresh connection"
    try:
        request_checks(replace(unanswered, status=500))
    except RuleViolation as decided:
        detail = f"{decided.detail} (the 500 here stands for {what})"
        violation = RuleViolation(decided.rule, detail)
    else:
        violation = RuleViolation(DOCUMENTED_STATUS_CODES, f"{operation} got {what}")
    violation.exchange = unanswered
    return violation


def transport_reason(exc: BaseException, timeout_s: float) -> str:
    """A transport exception (httpx or requests) as the words a user reads."""
    name = type(exc).__name__
    text = f"{name} {exc}".lower()
    if "timeout" in text or "timed out" in text:
        return f"no answer within {timeout_s:g} s ({name})"
    if "refused" in text:
        return f"connection refused ({name})"
    if "without sending a response" in text or "without response" in text:
        return f"connection closed before any answer ({name})"
    if "reset" in text or "closed" in text or "disconnect" in text or "incomplete" in text:
        return f"connection closed mid-response ({name})"
    return f"no HTTP answer ({name})"

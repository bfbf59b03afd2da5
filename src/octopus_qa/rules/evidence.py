"""Which rules an exchange was actually judged by: the evidence a PASS stands on.

Most exchanges say nothing about most rules: a 200 says nothing about the error envelope, a
request with a live token nothing about expired tokens, a listing without filters nothing about
filters. A check that meets such an exchange holds vacuously. A check that meets the situation
its rule is about (an expired token sent, two filters combined, a page past the last asked for)
says so with `applies(rule, exchange)` before it judges; a rule is PASS only when at least one
exchange it applied to was judged and none broke it, and UNTESTED otherwise (contract/ledger.py).

The contract suite records one `Evidence` per test (`recording()`, from its pytest plugin). When
nothing records (the load users, a check called from a script), `applies` costs one comparison.
One test runs at a time per process, and a test's own threads (simultaneous refreshes) belong to
it, so the recorder is per process, not per thread or context.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from .catalogue import Rule


class Evidence:
    """The exchanges each rule was applied to while it was recording, each counted once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Keyed by identity, and holding the exchange so that its id is not reused by another
        # exchange of the same test: the count is of distinct exchanges.
        self._seen: dict[tuple[Rule, int], object] = {}
        self._counts: Counter[Rule] = Counter()

    def note(self, rule: Rule, exchange: object | None) -> None:
        # An exchange judged by two checks of one rule (or twice by one) is one exchange.
        # Checks that judge a value rather than an exchange (exp vs expires_at) pass None.
        with self._lock:
            if exchange is not None:
                key = (rule, id(exchange))
                if key in self._seen:
                    return
                self._seen[key] = exchange
            self._counts[rule] += 1

    @property
    def exchanges(self) -> Mapping[Rule, int]:
        """Each rule applied at least once → how many exchanges it was applied to."""
        with self._lock:
            return dict(self._counts)


_recording: Evidence | None = None


def applies(rule: Rule, exchange: object | None = None) -> None:
    """A check met the situation `rule` is about in `exchange`, and is judging it now."""
    recorder = _recording
    if recorder is not None:
        recorder.note(rule, exchange)


def is_recording() -> bool:
    """Whether evidence is being collected: a check that is skipped then would go unrecorded."""
    return _recording is not None


@contextmanager
def recording() -> Iterator[Evidence]:
    """Collects the evidence of what runs inside (one test), then stops collecting."""
    global _recording
    evidence = Evidence()
    previous, _recording = _recording, evidence
    try:
        yield evidence
    finally:
        _recording = previous

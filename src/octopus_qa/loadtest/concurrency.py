"""In flight per endpoint, in each generator process: what each request met when it was sent.

A lock or a pool of one shows as latency that grows with the endpoint's own concurrency, and a
server that breaks under load as failures that grow with the concurrency it is given; neither
shows in percentiles over a whole run. So each process keeps one counter per endpoint and one for
itself: `sending(key)` (the one hook in validation.py's `send`) counts the request in before it
goes out and out when its answer has been judged, and hands Locust a context with the levels it
saw: its endpoint's count (itself included) and the rest of the process's. Locust's `request`
event then books the request's service time (from sending, unrounded) under those levels in a
`ConcurrencyBook`: per (own, others) a count, a sum and the failures, and per own level a
two-significant-digit histogram for percentiles. The request path only appends what the request
met to a list; the book takes the list in whenever it is read, or every `SETTLE_EVERY` requests
(the same sums, in the same order: booking in a loop runs warm, once a request it ran cold).

Merged across workers like the latency book (`report_to_master` / `worker_report`) and written
beside the timing file at the end of the run (`concurrency.json`); loadtest/bottleneck.py reads
it. In a distributed run the levels are each process's own: a share of what the server sees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..plan.endpoints import RATE_LIMITED_PREFIX
from .latency import SETTLE_EVERY

#: The key of the levels in Locust's request context, and of the book in a worker's report.
CONTEXT_KEY = "octoqa_in_flight"
#: Written beside the timing file by the master or the single process.
CONCURRENCY_FILE = "concurrency.json"
#: Levels above are booked at this level (the book stays small however deep the queue).
MAX_LEVEL = 256

Cell = list[float]  # [requests, sum of ms, failed requests]
Sent = tuple[str, int, int, float, bool]  # key, own, others, ms, failed: `ConcurrencyBook.record`


def bucket_ms(ms: float) -> float:
    """A latency rounded to two significant digits (up to 100 s, then to the second): the
    per-level histograms' resolution. Comparisons, not string formatting: it runs per request."""
    if ms < 10:
        return round(ms, 1)
    if ms < 100:
        return float(round(ms))
    if ms < 1000:
        return float(round(ms, -1))
    if ms < 10000:
        return float(round(ms, -2))
    return float(round(ms, -3))


class ConcurrencyBook:
    """Per endpoint key: requests by the levels they met at send, and their latencies."""

    def __init__(self) -> None:
        self.cells: dict[str, dict[tuple[int, int], Cell]] = {}
        self.levels: dict[str, dict[int, dict[float, int]]] = {}

    def record(self, key: str, own: int, others: int, ms: float, failed: bool) -> None:
        if own > MAX_LEVEL:
            own = MAX_LEVEL
        if others > MAX_LEVEL:
            others = MAX_LEVEL
        cells = self.cells.get(key)
        if cells is None:
            cells = self.cells[key] = {}
            self.levels[key] = {}
        cell = cells.get((own, others))
        if cell is None:
            cell = cells[(own, others)] = [0.0, 0.0, 0.0]
        cell[0] += 1
        cell[1] += ms
        if failed:
            cell[2] += 1
        by_level = self.levels[key]
        hist = by_level.get(own)
        if hist is None:
            hist = by_level[own] = {}
        bucket = bucket_ms(ms)
        hist[bucket] = hist.get(bucket, 0) + 1

    def reset(self) -> None:
        self.cells.clear()
        self.levels.clear()

    def keys(self) -> list[str]:
        return sorted(self.cells)

    def encode(self) -> dict[str, Any]:
        """Plain JSON: cells as [own, others, requests, sum_ms, failed] rows."""
        return {
            "cells": {
                key: [[own, others, *cell] for (own, others), cell in sorted(cells.items())]
                for key, cells in self.cells.items()
            },
            "levels": {
                key: {str(own): {str(ms): n for ms, n in hist.items()} for own, hist in lv.items()}
                for key, lv in self.levels.items()
            },
        }

    def add_encoded(self, data: Any) -> None:
        """Add what `encode` wrote (a worker's report, a file); anything malformed is skipped."""
        if not isinstance(data, dict):
            return
        for key, rows in (data.get("cells") or {}).items():
            cells = self.cells.setdefault(str(key), {})
            for row in rows if isinstance(rows, list) else []:
                if not (isinstance(row, list) and len(row) == 5):
                    continue
                own, others, requests, sum_ms, failed = row
                cell = cells.setdefault((int(own), int(others)), [0.0, 0.0, 0.0])
                cell[0] += float(requests)
                cell[1] += float(sum_ms)
                cell[2] += float(failed)
        for key, by_level in (data.get("levels") or {}).items():
            levels = self.levels.setdefault(str(key), {})
            for own, hist in (by_level if isinstance(by_level, dict) else {}).items():
                counter = levels.setdefault(int(own), {})
                for ms, n in (hist if isinstance(hist, dict) else {}).items():
                    counter[float(ms)] = counter.get(float(ms), 0) + int(n)


def read_book(path: Path) -> ConcurrencyBook:
    """The book a run wrote; empty when it wrote none (Locust died, plain Locust)."""
    book = ConcurrencyBook()
    try:
        book.add_encoded(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        pass
    return book


class _Sending:
    """One request in flight: counted in on entry, out on exit (also when the check raised)."""

    __slots__ = ("_key", "_owner")

    def __init__(self, owner: InFlight, key: str) -> None:
        self._owner, self._key = owner, key

    def __enter__(self) -> dict[str, Any]:
        owner, key = self._owner, self._key
        counts = owner.counts
        own = counts.get(key, 0) + 1
        counts[key] = own
        owner.total += 1
        return {CONTEXT_KEY: (key, own, owner.total - own)}

    def __exit__(self, *_: object) -> None:
        owner = self._owner
        owner.counts[self._key] -= 1
        owner.total -= 1


class InFlight:
    """The counters of one generator process and the book of what the requests met."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.total = 0
        self._book = ConcurrencyBook()
        self._sent: list[Sent] = []  # answered, not yet in the book
        self._file: Path | None = None

    @property
    def book(self) -> ConcurrencyBook:
        """The book, with every request answered so far in it."""
        if self._sent:
            self._settle()
        return self._book

    def _settle(self) -> None:
        record = self._book.record
        for sent in self._sent:
            record(*sent)
        self._sent = []

    def reset(self) -> None:
        """Forget what was booked (Locust's --reset-stats, a worker's report sent)."""
        self._sent = []
        self._book.reset()

    def sending(self, key: str) -> _Sending:
        """One request of `key` in flight: `with IN_FLIGHT.sending(key) as context,
        client.request(..., context=context)`; the context carries the levels it met."""
        return _Sending(self, key)

    def install(self, environment: Any, timing_file: str) -> None:
        """Listen to Locust's events; the book goes beside `timing_file` (master or single)."""
        self._file = Path(timing_file).with_name(CONCURRENCY_FILE) if timing_file else None
        events = environment.events
        events.request.add_listener(self.on_request)
        events.spawning_complete.add_listener(
            lambda **_: self.reset() if environment.reset_stats else None
        )
        events.report_to_master.add_listener(self.on_report_to_master)
        events.worker_report.add_listener(self.on_worker_report)
        events.quitting.add_listener(self.on_quitting)

    def on_request(
        self,
        name: str,
        response_time: float,
        context: dict[str, Any] | None = None,
        exception: Any = None,
        **_: Any,
    ) -> None:
        sent = context.get(CONTEXT_KEY) if context else None
        if sent is None or name.startswith(RATE_LIMITED_PREFIX):  # 429s: not its latency
            return
        key, own, others = sent
        self._sent.append((key, own, others, response_time or 0.0, exception is not None))
        if len(self._sent) >= SETTLE_EVERY:
            self._settle()

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        data[CONTEXT_KEY] = self.book.encode()
        self.reset()  # each value is sent once; the master adds them up

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        self.book.add_encoded(data.get(CONTEXT_KEY))

    def on_quitting(self, environment: Any = None, **_: Any) -> None:
        if self._file is None:
            return
        runner = getattr(environment, "runner", None)
        if type(runner).__name__ == "WorkerRunner":
            return  # a worker's book went to its master
        self._file.write_text(json.dumps(self.book.encode()) + "\n", encoding="utf-8")


IN_FLIGHT = InFlight()

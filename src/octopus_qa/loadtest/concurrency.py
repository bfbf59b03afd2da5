"""In flight per endpoint, in each generator process: what each request met when it was sent.

A lock or a pool of one shows as latency that grows with the endpoint's own concurrency, and a
server that breaks under load as failures that grow with the concurrency it is given; neither
shows in percentiles over a whole run. So each process keeps one counter per endpoint and one for
itself: `sending(key)` (the one hook in validation.py's `send`) counts the request in before it
goes out and out when its answer has been judged, and `answered(ms, failed)` books its service
time (Locust's, from sending, unrounded) under the levels it met: its endpoint's count (itself
included) and the rest of the process's. Booked in `send`, not from Locust's `request` event: a
listener costs every request of the run a call and a context dict, and only `send`'s requests
carry levels. The book is a `ConcurrencyBook`: per (own, others) a count, a sum and the failures,
and per own level a two-significant-digit histogram for percentiles. The request path only
appends what the request met to a list; the book takes the list in whenever it is read, or every
`SETTLE_EVERY` requests (the same sums, in the same order: booking in a loop runs warm, once a
request it ran cold).

Merged across workers like the latency book (`report_to_master` / `worker_report`) and written
beside the timing file at the end of the run (`concurrency.json`); loadtest/bottleneck.py reads
it. In a multi-process run the levels are every worker's on this host (host_counts.py: each
process's counts in a file they all map in); workers on other hosts count their own alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import host_counts
from .host_counts import COUNTS_FILE, HostCounts
from .latency import SETTLE_EVERY

#: The key of the book in a worker's report to its master.
REPORT_KEY = "octoqa_in_flight"
#: Written beside the timing file by the master or the single process.
CONCURRENCY_FILE = "concurrency.json"
#: Levels above are booked at this level (the book stays small however deep the queue).
MAX_LEVEL = 256

Cell = list[float]  # [requests, sum of ms, failed requests]
Sent = tuple[str, int, int, float, bool]  # key, own, others, ms, failed: `ConcurrencyBook.record`


def bucket_ms(ms: float) -> float:
    """A latency rounded to two significant digits (up to 100 s, then to the second): the
    per-level histograms' resolution. Half up in float arithmetic: it runs per request, and
    `round(ms, 1)` (decimal rounding, half to even) took three times as long."""
    if ms < 10:
        return int(ms * 10.0 + 0.5) / 10.0
    if ms < 100:
        return float(int(ms + 0.5))
    if ms < 1000:
        return int(ms * 0.1 + 0.5) * 10.0
    if ms < 10000:
        return int(ms * 0.01 + 0.5) * 100.0
    return int(ms * 0.001 + 0.5) * 1000.0


class ConcurrencyBook:
    """Per endpoint key: requests by the levels they met at send, and their latencies."""

    def __init__(self) -> None:
        self.cells: dict[str, dict[tuple[int, int], Cell]] = {}
        self.levels: dict[str, dict[int, dict[float, int]]] = {}

    def record(self, key: str, own: int, others: int, ms: float, failed: bool) -> None:
        """One request: what it met when it was sent, its service time, whether it failed."""
        self.record_all([(key, own, others, ms, failed)])

    def record_all(self, sent: list[Sent]) -> None:
        """Requests as `InFlight` collects them, booked in one loop (it runs per request)."""
        all_cells, all_levels = self.cells, self.levels
        for key, own, others, ms, failed in sent:
            if own > MAX_LEVEL:
                own = MAX_LEVEL
            if others > MAX_LEVEL:
                others = MAX_LEVEL
            cells = all_cells.get(key)
            if cells is None:
                cells = all_cells[key] = {}
                all_levels[key] = {}
            cell = cells.get((own, others))
            if cell is None:
                cell = cells[(own, others)] = [0.0, 0.0, 0.0]
            cell[0] += 1
            cell[1] += ms
            if failed:
                cell[2] += 1
            by_level = all_levels[key]
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
    """One request in flight: counted in on entry, out on exit (also when the check raised);
    `answered` books what it met."""

    __slots__ = ("_owner", "key", "own", "others")

    def __init__(self, owner: InFlight, key: str) -> None:
        self._owner, self.key = owner, key
        self.own = self.others = 0

    def __enter__(self) -> _Sending:
        owner, key = self._owner, self.key
        counts = owner.counts
        own = counts.get(key, 0) + 1
        counts[key] = own
        owner.total += 1
        host = owner.host
        if host is not None:
            host.write(key, own, owner.total)
            on_host = host.read(key)
            if on_host is not None:
                own, total = on_host
                self.own, self.others = own, total - own
                return self
        self.own, self.others = own, owner.total - own
        return self

    def answered(self, ms: float, failed: bool) -> None:
        """Its answer came (or none could): book its service time under the levels it met. A
        429 is not booked: it is not the endpoint's latency (validation.py)."""
        owner = self._owner
        owner._sent.append((self.key, self.own, self.others, ms, failed))
        if len(owner._sent) >= SETTLE_EVERY:
            owner._settle()

    def __exit__(self, *_: object) -> None:
        owner, key = self._owner, self.key
        owner.counts[key] -= 1
        owner.total -= 1
        if owner.host is not None:
            owner.host.write(key, owner.counts[key], owner.total)


class InFlight:
    """The counters of one generator process and the book of what the requests met."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.total = 0
        self._book = ConcurrencyBook()
        self._sent: list[Sent] = []  # answered, not yet in the book
        self._file: Path | None = None
        #: Every process's counts on this host, in a multi-process run (host_counts.py).
        self.host: HostCounts | None = None
        self._host_file: Path | None = None

    @property
    def book(self) -> ConcurrencyBook:
        """The book, with every request answered so far in it."""
        if self._sent:
            self._settle()
        return self._book

    def _settle(self) -> None:
        sent, self._sent = self._sent, []
        self._book.record_all(sent)

    def reset(self) -> None:
        """Forget what was booked (Locust's --reset-stats, a worker's report sent)."""
        self._sent = []
        self._book.reset()

    def sending(self, key: str) -> _Sending:
        """One request of `key` in flight: `with IN_FLIGHT.sending(key) as sent:` around the
        request, `sent.answered(ms, failed)` once it is judged."""
        return _Sending(self, key)

    def install(self, environment: Any, timing_file: str) -> None:
        """Listen to Locust's events; the book goes beside `timing_file` (master or single)."""
        self._file = Path(timing_file).with_name(CONCURRENCY_FILE) if timing_file else None
        self._host_file = Path(timing_file).with_name(COUNTS_FILE) if timing_file else None
        events = environment.events
        events.spawning_complete.add_listener(
            lambda **_: self.reset() if environment.reset_stats else None
        )
        if self._host_file is not None and type(environment.runner).__name__ == "MasterRunner":
            self._share_counts(
                self._host_file, getattr(environment.parsed_options, "expect_workers", 1)
            )
        events.test_start.add_listener(self.on_test_start)
        events.report_to_master.add_listener(self.on_report_to_master)
        events.worker_report.add_listener(self.on_worker_report)
        events.quitting.add_listener(self.on_quitting)

    def _share_counts(self, path: Path, workers: int) -> None:
        """The master's file for its workers' counts; without it (a folder it cannot write
        yet), each worker counts alone, as on another host."""
        try:
            host_counts.create(path, workers)
        except OSError:
            self._host_file = None

    def on_test_start(self, environment: Any = None, **_: Any) -> None:
        """A worker maps its master's counts in, as the row of its index (known by now: the
        master's acknowledgement of its connection came before its first spawn message)."""
        if self.host is not None or self._host_file is None:
            return
        runner: Any = getattr(environment, "runner", None)
        if type(runner).__name__ == "WorkerRunner":
            self.host = HostCounts.attach(self._host_file, int(runner.worker_index))

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        data[REPORT_KEY] = self.book.encode()
        self.reset()  # each value is sent once; the master adds them up

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        self.book.add_encoded(data.get(REPORT_KEY))

    def on_quitting(self, environment: Any = None, **_: Any) -> None:
        if self._file is None:
            return
        runner = getattr(environment, "runner", None)
        if type(runner).__name__ == "WorkerRunner":
            return  # a worker's book went to its master
        self._file.write_text(json.dumps(self.book.encode()) + "\n", encoding="utf-8")
        if self._host_file is not None:
            self._host_file.unlink(missing_ok=True)  # the workers' counts: not a report


IN_FLIGHT = InFlight()

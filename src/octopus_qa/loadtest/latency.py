"""Exact latency: every request's time in an HDR histogram per request name, mergeable.

Locust rounds each response time to about two significant digits before it computes
percentiles (`bucket_response_time` in `locust/stats.py`), so a p99 gate is judged on a rounded
figure and a p99 may exceed the maximum. An HdrHistogram keeps three significant digits over
1 µs .. 1 h (a value is off by at most 0.1 %) and adds exactly: `encode()` in one process and
`add_encoded()` in another give the percentiles of the union, which is how a distributed run's
master gets the workers' numbers unrounded.

Two clocks per request, both recorded:
- `service`: sent to answered, what Locust reports;
- `response`: from the request's *intended* start to answered. In an open-model profile every
  task run has a start time on the schedule; when the user could not start on time (the API
  was slow and it was still waiting, or the generator woke late), the delay is added. This is
  the correction for coordinated omission that wrk2 makes. In a closed model the two are equal.

Recording is batched (`Pending`): a request appends its milliseconds to a list, and the list
goes into the histogram, rounded to whole µs, before anything reads it or every `SETTLE_EVERY`
values. hdrh's `record_value` is pure Python, five method calls a value; a batch is counted in
one loop of bit arithmetic (`record_all`). Counting distinct buckets first would not help: at
three significant digits a run's latencies spread over thousands of them. The histogram ends
exactly as value-by-value recording leaves it: the same counts, total, minimum and maximum
(tests/test_load_timing.py compares the encodings).

This module knows nothing of Locust: the locustfile's recorder feeds it, the runner reads the
file it writes.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
SIGNIFICANT_DIGITS = 3
SERVICE, RESPONSE = "service", "response"
CLOCKS = (SERVICE, RESPONSE)
#: The percentiles every report shows, with the names they carry in summary.json.
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50_ms", 50.0),
    ("p90_ms", 90.0),
    ("p95_ms", 95.0),
    ("p99_ms", 99.0),
    ("p999_ms", 99.9),
)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


#: Values a `Pending` holds before they go into its histogram unasked: memory stays bounded.
SETTLE_EVERY = 4096


def to_us(milliseconds: float) -> int:
    """A duration in ms as whole microseconds, clamped into the histogram's range."""
    return min(max(int(milliseconds * 1000.0 + 0.5), LOWEST_US), HIGHEST_US)


class Pending:
    """A histogram and the values recorded into it not yet counted in: `values.append(ms)` is
    the hot path (a request's cost), `settled()` the histogram with every value in it, each
    rounded to whole µs by `to_us` as it goes in (the same rounding, done in the batch)."""

    __slots__ = ("_histogram", "values")

    def __init__(self) -> None:
        self._histogram = new_histogram()
        self.values: list[float] = []

    def settled(self) -> HdrHistogram:
        """The histogram, every appended value recorded in it (once)."""
        if self.values:
            record_all(self._histogram, whole_us(self.values))
            self.values = []
        return self._histogram


def whole_us(milliseconds: list[float]) -> list[int]:
    """`to_us` of every value: rounded in one comprehension (a call of `to_us` per value cost
    more than counting it in), clamped only when a value is out of the histogram's range."""
    values = [int(ms * 1000.0 + 0.5) for ms in milliseconds]
    if min(values) < LOWEST_US or max(values) > HIGHEST_US:
        values = [min(max(value, LOWEST_US), HIGHEST_US) for value in values]
    return values


def record_all(histogram: HdrHistogram, values: list[int]) -> None:
    """Record whole-µs `values` (within the histogram's range) exactly as `record_value` one by
    one would: each value's count index in bit arithmetic (hdrh's `_counts_index_for`: keep the
    `top` significant bits, never a shift below `unit`), counted straight into `counts`, then
    the total, and the smallest and largest values with count 0, which is how hdrh keeps its
    exact min and max. The shift is read from a table by the value's bits above `top` (values
    under 2^(top+12) µs, 8 s at three digits); only a longer one asks for its `bit_length`.
    tests/test_load_timing.py holds this to hdrh's own, encoding for encoding.
    """
    magnitude = histogram.sub_bucket_half_count_magnitude
    top, unit, half = magnitude + 1, histogram.unit_magnitude, histogram.sub_bucket_half_count
    shifts = _shift_table(unit)
    counts = histogram.counts
    for value in values:
        try:
            shift = shifts[value >> top]
        except IndexError:
            shift = max(unit, value.bit_length() - top)
        counts[((shift - unit + 1) << magnitude) + (value >> shift) - half] += 1
    histogram.total_count += len(values)
    histogram.record_value(min(values), 0)
    histogram.record_value(max(values), 0)


@cache
def _shift_table(unit: int) -> tuple[int, ...]:
    """By a value's bits above the sub-bucket's `top`: how far `record_all` shifts it right."""
    return tuple(max(unit, high.bit_length()) for high in range(1 << 12))


@dataclass(frozen=True)
class LatencySummary:
    """The percentiles of one histogram, in milliseconds (HDR's value at each percentile)."""

    count: int
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float

    @classmethod
    def of(cls, histogram: HdrHistogram) -> LatencySummary | None:
        count = int(histogram.get_total_count())
        if not count:
            return None
        at = values_at(histogram, [percentile for _, percentile in PERCENTILES])
        values = {key: _ms(at[percentile]) for key, percentile in PERCENTILES}
        return cls(count=count, max_ms=_ms(histogram.get_max_value()), **values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            **{key: getattr(self, key) for key, _ in PERCENTILES},
            "max_ms": self.max_ms,
        }


def _ms(microseconds: int) -> float:
    return round(microseconds / 1000.0, 3)


def values_at(histogram: HdrHistogram, percentiles: Iterable[float]) -> dict[float, int]:
    """HDR's value at each percentile, exactly as `get_value_at_percentile` gives it.

    hdrh walks its counts in Python, one method call per bucket and one walk per percentile: a
    live scrape (`metrics.py`) and the abort watch pay that every second in the generator's
    event loop. Here the counts up to the largest value recorded are summed once in C
    (`accumulate`) and each percentile is a binary search: five percentiles of 16 histograms
    (80,000 values) took 50-90 ms the first way on this project's shared machine, 5-6 ms this
    way, with the same values (tests/test_load_metrics.py)."""
    wanted = list(percentiles)
    total = histogram.get_total_count()
    last = histogram.get_counts_array_index(histogram.get_max_value()) + 1
    cumulative = list(accumulate(histogram.counts[:last]))
    if not total or not cumulative or cumulative[-1] < total:  # not what hdrh's own state says
        return {p: int(histogram.get_value_at_percentile(p)) for p in wanted}
    values = {}
    for p in wanted:
        index = bisect_left(cumulative, histogram.get_target_count_at_percentile(p))
        value = histogram.get_value_from_index(index)
        values[p] = int(
            histogram.get_highest_equivalent_value(value)
            if p  # hdrh's own rule: the 0th percentile is the lowest value of its bucket
            else histogram.get_lowest_equivalent_value(value)
        )
    return values


class LatencyBook:
    """One histogram per (request name, clock). Not thread-safe; gevent needs no locks."""

    def __init__(self) -> None:
        self._histograms: dict[tuple[str, str], Pending] = {}
        #: Per request name, its (service, response) pair: the per-request path's one lookup.
        self._by_name: dict[str, tuple[Pending, Pending]] = {}

    def _pending(self, name: str, clock: str) -> Pending:
        pending = self._histograms.get((name, clock))
        if pending is None:
            pending = self._histograms[(name, clock)] = Pending()
        return pending

    def _histogram(self, name: str, clock: str) -> HdrHistogram:
        return self._pending(name, clock).settled()

    def record(self, name: str, service_ms: float, lag_ms: float = 0.0) -> None:
        """One request: its service time, and how late its task started behind schedule."""
        pair = self._by_name.get(name)
        if pair is None:
            pair = self._by_name[name] = (
                self._pending(name, SERVICE),
                self._pending(name, RESPONSE),
            )
        service, response = pair
        service.values.append(service_ms)
        response.values.append(service_ms + lag_ms)
        if len(service.values) >= SETTLE_EVERY:
            service.settled()
        if len(response.values) >= SETTLE_EVERY:
            response.settled()

    def names(self) -> list[str]:
        return sorted({name for name, _ in self._histograms})

    def histogram(self, names: Iterable[str], clock: str) -> HdrHistogram:
        """The union of the named requests' histograms for one clock (a new histogram)."""
        merged = new_histogram()
        for name in names:
            part = self._histograms.get((name, clock))
            if part is not None:
                merged.add(part.settled())
        return merged

    def summary(self, names: Iterable[str], clock: str) -> LatencySummary | None:
        return LatencySummary.of(self.histogram(names, clock))

    def encode(self) -> dict[str, dict[str, str]]:
        """JSON-ready: name → clock → HdrHistogram's compressed base64 encoding."""
        encoded: dict[str, dict[str, str]] = {}
        for (name, clock), pending in self._histograms.items():
            histogram = pending.settled()
            if histogram.get_total_count():
                encoded.setdefault(name, {})[clock] = histogram.encode().decode("ascii")
        return encoded

    def add_encoded(self, encoded: Mapping[str, Mapping[str, str]]) -> None:
        """Add another process's `encode()` into this book."""
        for name, clocks in encoded.items():
            for clock, text in clocks.items():
                if clock in CLOCKS:
                    self._histogram(name, clock).decode_and_add(text.encode("ascii"))

    def reset(self) -> None:
        self._histograms.clear()
        self._by_name.clear()

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.encode()) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> LatencyBook:
        """A book from a file `write` made; an empty book when there is none (Locust died)."""
        book = cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return book
        if isinstance(data, dict):
            book.add_encoded(data)
        return book


#: The percentiles the timeline keeps for each second (what the report's chart draws).
TIMELINE_PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50_ms", 50.0),
    ("p95_ms", 95.0),
    ("p99_ms", 99.0),
)


class Timeline:
    """One clock's exact percentiles second by second: the run over time, in the same
    histograms (and so the same precision) as the whole-run figures the gates judge.

    Each value goes into the histogram of the wall-clock second it was recorded in (whole
    seconds since the epoch, as Locust's stats history stamps its rows). A second is summed up
    and its histogram dropped once nothing more can arrive for it (`close_before`): in one
    process, when the second after it ends; on a master, when every worker has reported past it.
    So a long run holds a few histograms at a time, not one per second.
    """

    def __init__(self, clock: str = RESPONSE, *, closes_behind: bool = True) -> None:
        self.clock = clock
        #: False on a Locust worker: its seconds go to the master whole (`take_open`).
        self.closes_behind = closes_behind
        self._open: dict[int, Pending] = {}
        self._closed: dict[int, dict[str, Any]] = {}

    def record(self, second: int, value_ms: float) -> None:
        pending = self._open.get(second)
        if pending is None:
            if self.closes_behind:
                self.close_before(second - 1)
            pending = self._open[second] = Pending()
        pending.values.append(value_ms)
        if len(pending.values) >= SETTLE_EVERY:
            pending.settled()

    def close_before(self, second: int) -> None:
        """Sum up every second before `second`: no more values will come for them."""
        for done in [s for s in self._open if s < second]:
            self._close(done, self._open.pop(done))

    def _close(self, second: int, pending: Pending) -> None:
        histogram = pending.settled()
        row: dict[str, Any] = {"at": second, "count": int(histogram.get_total_count())}
        # One pass over the counts for the three (values_at), not one Python walk each: every
        # second of a run pays this in the generator's event loop.
        values = values_at(histogram, (p for _, p in TIMELINE_PERCENTILES))
        row.update({key: _ms(values[p]) for key, p in TIMELINE_PERCENTILES})
        self._closed[second] = row

    def take_open(self) -> dict[str, str]:
        """The open seconds, encoded, and forgotten here (a worker's part of its report)."""
        encoded = {str(s): p.settled().encode().decode("ascii") for s, p in self._open.items()}
        self._open.clear()
        return encoded

    def add_encoded(self, encoded: Mapping[str, str]) -> None:
        """Add a worker's `take_open()` into the seconds still open here."""
        for second, text in encoded.items():
            key = int(second)
            if key in self._closed:
                continue  # a worker that reported for the first time after others passed it
            pending = self._open.get(key)
            if pending is None:
                pending = self._open[key] = Pending()
            pending.settled().decode_and_add(text.encode("ascii"))

    def rows(self) -> list[dict[str, Any]]:
        """Every second with a value, oldest first: at, count and the percentiles in ms."""
        self.close_before(2**62)
        return [self._closed[second] for second in sorted(self._closed)]


def complete_before(reported_upto: Mapping[str, int], connected: Iterable[str]) -> int | None:
    """On a master: the second before which every worker's values have all arrived, or None.

    Each worker's report says up to when it has sent everything (`reported_upto`, by worker).
    Until every connected worker has reported once, its first seconds may still come: None.
    A worker gone from `connected` sends nothing more and holds nothing back.
    """
    waiting_for = set(connected) or set(reported_upto)
    if not waiting_for or waiting_for - set(reported_upto):
        return None
    return min(reported_upto[worker] for worker in waiting_for)

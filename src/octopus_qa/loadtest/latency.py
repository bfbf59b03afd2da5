"""Exact latency: every request's time in an HDR histogram per request name, mergeable.

Locust rounds each response time to about two significant digits before it computes
percentiles (`bucket_response_time` in `locust/stats.py`), so a p99 gate is judged on a rounded
figure and a p99 may exceed the maximum. An HdrHistogram keeps three significant digits over
1 µs .. 1 h (a value is off by at most 0.1 %), costs about 0.6 µs per recorded value, and adds
exactly: `encode()` in one process and `add_encoded()` in another give the percentiles of the
union, which is how a distributed run's master gets the workers' numbers unrounded.

Two clocks per request, both recorded:
- `service`: sent to answered, what Locust reports;
- `response`: from the request's *intended* start to answered. In an open-model profile every
  task run has a start time on the schedule; when the user could not start on time (the API
  was slow and it was still waiting, or the generator woke late), the delay is added. This is
  the correction for coordinated omission that wrk2 makes. In a closed model the two are equal.

This module knows nothing of Locust: the locustfile's recorder feeds it, the runner reads the
file it writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


def to_us(milliseconds: float) -> int:
    """A duration in ms as whole microseconds, clamped into the histogram's range."""
    return min(max(int(milliseconds * 1000.0 + 0.5), LOWEST_US), HIGHEST_US)


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
        values = {
            key: _ms(histogram.get_value_at_percentile(percentile))
            for key, percentile in PERCENTILES
        }
        return cls(count=count, max_ms=_ms(histogram.get_max_value()), **values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            **{key: getattr(self, key) for key, _ in PERCENTILES},
            "max_ms": self.max_ms,
        }


def _ms(microseconds: int) -> float:
    return round(microseconds / 1000.0, 3)


class LatencyBook:
    """One histogram per (request name, clock). Not thread-safe; gevent needs no locks."""

    def __init__(self) -> None:
        self._histograms: dict[tuple[str, str], HdrHistogram] = {}

    def _histogram(self, name: str, clock: str) -> HdrHistogram:
        histogram = self._histograms.get((name, clock))
        if histogram is None:
            histogram = self._histograms[(name, clock)] = new_histogram()
        return histogram

    def record(self, name: str, service_ms: float, lag_ms: float = 0.0) -> None:
        """One request: its service time, and how late its task started behind schedule."""
        self._histogram(name, SERVICE).record_value(to_us(service_ms))
        self._histogram(name, RESPONSE).record_value(to_us(service_ms + lag_ms))

    def names(self) -> list[str]:
        return sorted({name for name, _ in self._histograms})

    def histogram(self, names: Iterable[str], clock: str) -> HdrHistogram:
        """The union of the named requests' histograms for one clock (a new histogram)."""
        merged = new_histogram()
        for name in names:
            part = self._histograms.get((name, clock))
            if part is not None:
                merged.add(part)
        return merged

    def summary(self, names: Iterable[str], clock: str) -> LatencySummary | None:
        return LatencySummary.of(self.histogram(names, clock))

    def encode(self) -> dict[str, dict[str, str]]:
        """JSON-ready: name → clock → HdrHistogram's compressed base64 encoding."""
        encoded: dict[str, dict[str, str]] = {}
        for (name, clock), histogram in self._histograms.items():
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

"""What a Locust run measured: from Locust's statistics in memory, or from the CSV it wrote.

The run is judged inside Locust, as it quits, from its statistics in memory
(`measurements_from_stats`), so plain Locust and `octoqa load` get one verdict from one place;
the locustfile writes that judgement to its facts file. The CSV files are read back after Locust
has exited: `<prefix>_stats_history.csv` for the run over time, and `<prefix>_stats.csv` /
`<prefix>_failures.csv` for what a run measured when Locust was stopped before it could judge.
Both sources go through the same classification (endpoint by Locust name, 429s apart), so they
read the same numbers the same way. Rule violations are not read back from Locust's failure
texts: the recorder counts each broken rule as the object it is (recorder.py) and hands the
counts over with the timing file.

Locust rounds response times into buckets of about two significant digits before it computes
percentiles; the values here are those buckets.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..plan.endpoints import RATE_LIMITED_PREFIX, endpoint_for_name

AGGREGATED = "Aggregated"
#: How loadtest/validation.py names a request that got no HTTP response (refused, reset, timeout).
NO_ANSWER_IN_MESSAGE = re.compile(r"^(?:\w+\(['\"])?no HTTP response")


@dataclass(frozen=True)
class EndpointStats:
    requests: int
    failures: int
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.requests if self.requests else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failures": self.failures,
            "rps": round(self.rps, 3),
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
        }


@dataclass(frozen=True)
class Measurements:
    endpoints: Mapping[str, EndpointStats]  # by endpoint key, plus "total"
    rate_limited: int
    rule_violations: Mapping[str, int]
    history: list[dict[str, Any]]
    #: Requests that got no HTTP response at all (the target refused, reset or never answered).
    no_answer: int = 0


def _rows(path: Path) -> Iterator[dict[str, str]]:
    if not path.exists():
        return iter(())
    with path.open(newline="", encoding="utf-8") as handle:
        return iter(list(csv.DictReader(handle)))


def _percentile(value: str | None) -> float | None:
    if value in (None, "", "N/A"):
        return None
    return float(value)


def _endpoint_stats(row: Mapping[str, str]) -> EndpointStats:
    return EndpointStats(
        requests=int(row["Request Count"]),
        failures=int(row["Failure Count"]),
        rps=float(row["Requests/s"]),
        p50_ms=_percentile(row.get("50%")),
        p95_ms=_percentile(row.get("95%")),
        p99_ms=_percentile(row.get("99%")),
    )


def _by_endpoint(
    named: Iterable[tuple[str, EndpointStats]],
) -> tuple[dict[str, EndpointStats], int]:
    """Statistics keyed by endpoint key ("total" for Locust's aggregate), and the number of 429
    answers, which the locustfile reports under separate names."""
    endpoints: dict[str, EndpointStats] = {}
    rate_limited = 0
    for name, entry in named:
        if name == AGGREGATED:
            endpoints["total"] = entry
        elif name.startswith(RATE_LIMITED_PREFIX):
            rate_limited += entry.requests
        elif (endpoint := endpoint_for_name(name)) is not None:
            endpoints[endpoint.key] = entry
    return endpoints, rate_limited


def read_stats(stats_csv: Path) -> tuple[dict[str, EndpointStats], int]:
    """Per-endpoint statistics and the number of 429 answers, from `<prefix>_stats.csv`."""
    return _by_endpoint((row["Name"], _endpoint_stats(row)) for row in _rows(stats_csv))


def read_history(history_csv: Path) -> list[dict[str, Any]]:
    """The run second by second (Locust's aggregate rows): users, throughput, latency, failures;
    `t` counts from the first row, `at` is Locust's own stamp (whole seconds since the epoch),
    which lines the rows up with the exact timeline (`latency.Timeline`)."""
    history = []
    start: int | None = None
    for row in _rows(history_csv):
        if row["Name"] != AGGREGATED:
            continue
        timestamp = int(row["Timestamp"])
        start = timestamp if start is None else start
        history.append(
            {
                "t": timestamp - start,
                "at": timestamp,
                "users": int(row["User Count"]),
                "rps": round(float(row["Requests/s"]), 3),
                "p50_ms": _percentile(row["50%"]),
                "p95_ms": _percentile(row["95%"]),
                "failures_per_s": round(float(row["Failures/s"]), 3),
            }
        )
    return history


def read_measurements(
    csv_prefix: Path, rule_violations: Mapping[str, int] | None = None
) -> Measurements:
    """What Locust's CSV files say, with the recorder's count of each broken rule."""
    endpoints, rate_limited = read_stats(Path(f"{csv_prefix}_stats.csv"))
    return Measurements(
        endpoints=endpoints,
        rate_limited=rate_limited,
        rule_violations=dict(sorted((rule_violations or {}).items())),
        history=read_history(Path(f"{csv_prefix}_stats_history.csv")),
        no_answer=read_no_answer(Path(f"{csv_prefix}_failures.csv")),
    )


def read_no_answer(failures_csv: Path) -> int:
    """How many requests got no HTTP response at all."""
    return sum(
        int(row["Occurrences"])
        for row in _rows(failures_csv)
        if NO_ANSWER_IN_MESSAGE.match(row["Error"])
    )


def _percentile_in_memory(entry: Any, fraction: float) -> float | None:
    """Locust's percentile bucket, as its CSV writer reports it (None when nothing was sent)."""
    if not entry.num_requests:
        return None
    return float(int(entry.get_response_time_percentile(fraction) or 0))


def _stats_in_memory(entry: Any) -> EndpointStats:
    return EndpointStats(
        requests=int(entry.num_requests),
        failures=int(entry.num_failures),
        rps=float(entry.total_rps),
        p50_ms=_percentile_in_memory(entry, 0.5),
        p95_ms=_percentile_in_memory(entry, 0.95),
        p99_ms=_percentile_in_memory(entry, 0.99),
    )


def measurements_from_stats(
    stats: Any, rule_violations: Mapping[str, int] | None = None
) -> Measurements:
    """What a run measured, from Locust's `RequestStats` in memory (the master's, merged), with
    the recorder's count of each broken rule.

    Typed loosely on purpose: this module must not import Locust (it patches the standard
    library on import), and only the locustfile, inside Locust, calls this.
    """
    named = [(entry.name, _stats_in_memory(entry)) for entry in stats.entries.values()]
    endpoints, rate_limited = _by_endpoint([*named, (AGGREGATED, _stats_in_memory(stats.total))])
    return Measurements(
        endpoints=endpoints,
        rate_limited=rate_limited,
        rule_violations=dict(sorted((rule_violations or {}).items())),
        history=[],  # over time is the CSV history's business (read_history)
        no_answer=sum(
            error.occurrences
            for error in stats.errors.values()
            # An exception here, its text as Locust's CSV writes it on a master (from workers)
            if NO_ANSWER_IN_MESSAGE.match(str(error.error))
        ),
    )


def read_facts(path: Path) -> dict[str, Any]:
    """The facts file the locustfile writes at the end ({} when Locust never got that far)."""
    try:
        facts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return facts if isinstance(facts, dict) else {}

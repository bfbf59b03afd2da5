"""What a run's timing file says: exact percentiles per endpoint, and the generator's health.

The locustfile's recorder writes `<run>/load/timing.json` at the end of the run (histograms per
request name, merged across workers, and each process's health). Here they become the numbers
the gates judge: per endpoint, the percentiles of the clock `slo.toml` gates on (by default the
response time from the intended start), with the other clock and Locust's rounded figures kept
beside them in the summary. A run whose Locust died before writing the file has no exact
figures: its gates then fall back to Locust's CSV, and the summary says which source it used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..plan.endpoints import ENDPOINTS
from ..plan.generator import GeneratorLimits
from .generator import ProcessHealth, generator_problems
from .latency import CLOCKS, RESPONSE, SERVICE, LatencyBook, LatencySummary
from .results import EndpointStats

TIMING_FILE = "timing.json"


@dataclass
class Timing:
    model: str = "closed"
    late_after_ms: float = 0.0
    book: LatencyBook = field(default_factory=LatencyBook)
    processes: dict[str, ProcessHealth] = field(default_factory=dict)
    #: Set when a gate stayed breached and the run was stopped early (`abort.py`).
    aborted: dict[str, Any] | None = None
    #: Responses that broke each rule, as the recorder counted them.
    rule_violations: dict[str, int] = field(default_factory=dict)
    #: A sample of the failing requests, as HAR entries (recorder.FAILURE_SAMPLE at most).
    failures: list[dict[str, Any]] = field(default_factory=list)
    #: Set when the run stopped because the target gave no HTTP answer (recorder.py).
    target_silent: dict[str, Any] | None = None
    #: The gated clock second by second (`latency.Timeline.rows`): at, count, p50_ms...
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recorded(self) -> bool:
        return bool(self.book.names())

    def names_for(self, key: str) -> list[str]:
        """The request names an endpoint key covers ("total": every name but the 429s)."""
        if key == "total":
            return [name for name in self.book.names() if not name.startswith("429 ")]
        endpoint = ENDPOINTS.get(key)
        return [endpoint.name] if endpoint is not None else []

    def summary(self, key: str, clock: str) -> LatencySummary | None:
        return self.book.summary(self.names_for(key), clock)

    def schedule(self) -> dict[str, int]:
        """Task starts, late ones (by whose fault) and dropped ones, over all processes."""
        keys = ("starts", "late_backlog", "late_wakeup", "dropped")
        return {key: sum(getattr(h, key) for h in self.processes.values()) for key in keys}

    def problems(self, limits: GeneratorLimits) -> list[str]:
        return generator_problems(self.processes, limits)


def read_timing(path: Path) -> Timing:
    """The timing file, or an empty Timing when Locust never wrote one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Timing()
    if not isinstance(data, dict):
        return Timing()
    timing = Timing(model=str(data.get("model", "closed")))
    timing.late_after_ms = float(data.get("late_after_ms", 0.0))
    timing.book.add_encoded(data.get("latency") or {})
    aborted = data.get("aborted")
    timing.aborted = aborted if isinstance(aborted, dict) else None
    silent = data.get("target_silent")
    timing.target_silent = silent if isinstance(silent, dict) else None
    timeline = data.get("timeline")
    if isinstance(timeline, dict) and isinstance(timeline.get("seconds"), list):
        timing.timeline = [row for row in timeline["seconds"] if isinstance(row, dict)]
    broken = data.get("rule_violations")
    if isinstance(broken, dict):
        timing.rule_violations = {str(rule): int(count) for rule, count in broken.items()}
    failures = data.get("failures")
    if isinstance(failures, list):
        timing.failures = [entry for entry in failures if isinstance(entry, dict)]
    timing.processes = {
        str(name): ProcessHealth.decode(health)
        for name, health in (data.get("processes") or {}).items()
        if isinstance(health, dict)
    }
    return timing


def exact_endpoints(
    endpoints: Mapping[str, EndpointStats], timing: Timing, clock: str
) -> dict[str, EndpointStats]:
    """Locust's per-endpoint counts with the percentiles replaced by the exact ones of `clock`."""
    exact = {}
    for key, stats in endpoints.items():
        summary = timing.summary(key, clock)
        exact[key] = (
            stats
            if summary is None
            else replace(stats, p50_ms=summary.p50_ms, p95_ms=summary.p95_ms, p99_ms=summary.p99_ms)
        )
    return exact


def endpoint_report(key: str, locust: EndpointStats, timing: Timing, clock: str) -> dict[str, Any]:
    """One endpoint in summary.json: exact percentiles of the gated clock on top, then both
    clocks in full, then Locust's rounded percentiles for those who know them."""
    exact = exact_endpoints({key: locust}, timing, clock)[key]
    entry = exact.as_dict()
    gated = timing.summary(key, clock)
    if gated is not None:
        entry.update(
            {k: v for k, v in gated.as_dict().items() if k not in ("count",)},
            latency_source="hdr",
            latency_clock=clock,
        )
        for name in CLOCKS:
            summary = timing.summary(key, name)
            entry[name] = summary.as_dict() if summary is not None else None
    else:
        entry["latency_source"] = "locust"
    entry["locust"] = {"p50_ms": locust.p50_ms, "p95_ms": locust.p95_ms, "p99_ms": locust.p99_ms}
    return entry


__all__ = [
    "RESPONSE",
    "SERVICE",
    "TIMING_FILE",
    "Timing",
    "endpoint_report",
    "exact_endpoints",
    "read_timing",
]

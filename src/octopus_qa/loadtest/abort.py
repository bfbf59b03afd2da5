"""Stop a run early when a gate stays breached (k6's `abortOnFail` with a delay).

Every second the Locust master (or single process) judges the latency and error-rate objectives
of `slo.toml` on the run so far: exact percentiles from the recorder's merged histograms, error
rates from Locust's counts. An endpoint is judged once it has `abort_min_requests` requests. A
breach that lasts `abort_after_s` without a pause stops the run; the runner then judges the
partial run as usual (the breached gate fails it: exit 1) and says it was cut short.

`live_gates` is that judgement as gates (`gates.Gate`: measured against limit, holding or
breached); the live metrics (`metrics.py`) show the same gates a scrape at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..plan.endpoints import ENDPOINTS
from ..plan.slo import LATENCY_METRICS, ServiceLevels
from .gates import FAIL, Gate, judge
from .latency import LatencyBook, LatencySummary

#: The gated clock's exact percentiles of one request name, so far (None: nothing recorded).
SummaryOf = Callable[[str], LatencySummary | None]


def live_gates(
    levels: ServiceLevels,
    summary_of: SummaryOf,
    counts: Mapping[str, tuple[int, int]],
) -> list[Gate]:
    """The latency and error-rate gates of every endpoint with enough requests, on the run so
    far (by request name counts: name → (requests, failures))."""
    found = []
    for key, objectives in levels.endpoints.items():
        name = ENDPOINTS[key].name
        requests, failures = counts.get(name, (0, 0))
        if requests < levels.abort_min_requests:
            continue
        summary = summary_of(name)
        for metric in LATENCY_METRICS:
            measured = getattr(summary, metric) if summary is not None else None
            if measured is not None:
                found.append(judge(key, metric, getattr(objectives, metric), measured))
        found.append(judge(key, "error_rate", objectives.max_error_rate, failures / requests))
    return found


def breaches(
    levels: ServiceLevels,
    book: LatencyBook,
    counts: Mapping[str, tuple[int, int]],
) -> list[str]:
    """The gates breached so far, as "endpoint metric measured > limit"."""
    gates = live_gates(levels, lambda name: book.summary([name], levels.latency_clock), counts)
    return [describe_breach(gate) for gate in gates if gate.verdict == FAIL]


def describe_breach(gate: Gate) -> str:
    assert gate.measured is not None, "only a judged gate is breached"
    measured = f"{gate.measured:.3g}" if gate.metric == "error_rate" else f"{gate.measured:g}"
    return f"{gate.endpoint} {gate.metric} {measured} > {gate.limit:g}"


class BreachWatch:
    """How long the current breach has lasted; `update` says when to stop."""

    def __init__(self, after_s: float) -> None:
        self.after_s = after_s
        self.since: float | None = None

    def update(self, now: float, breached: list[str]) -> bool:
        if not breached:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return self.after_s > 0 and now - self.since >= self.after_s

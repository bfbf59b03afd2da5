"""Stop a run early when a gate stays breached (k6's `abortOnFail` with a delay).

Every second the Locust master (or single process) judges the latency and error-rate objectives
of `slo.toml` on the run so far: exact percentiles from the recorder's merged histograms, error
rates from Locust's counts. An endpoint is judged once it has `abort_min_requests` requests. A
breach that lasts `abort_after_s` without a pause stops the run; the runner then judges the
partial run as usual (the breached gate fails it: exit 1) and says it was cut short.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..plan.endpoints import ENDPOINTS
from ..plan.slo import LATENCY_METRICS, ServiceLevels
from .latency import LatencyBook


def breaches(
    levels: ServiceLevels,
    book: LatencyBook,
    counts: Mapping[str, tuple[int, int]],
) -> list[str]:
    """The gates breached so far, as "endpoint metric measured > limit" (by request name counts:
    name → (requests, failures))."""
    found = []
    for key, objectives in levels.endpoints.items():
        name = ENDPOINTS[key].name
        requests, failures = counts.get(name, (0, 0))
        if requests < levels.abort_min_requests:
            continue
        summary = book.summary([name], levels.latency_clock)
        for metric in LATENCY_METRICS:
            measured = getattr(summary, metric) if summary is not None else None
            limit = getattr(objectives, metric)
            if measured is not None and measured > limit:
                found.append(f"{key} {metric} {measured:g} > {limit:g}")
        if failures / requests > objectives.max_error_rate:
            found.append(
                f"{key} error_rate {failures / requests:.3g} > {objectives.max_error_rate:g}"
            )
    return found


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

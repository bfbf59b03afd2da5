"""Did the load generator keep its schedule? Its health per process, and the verdict on it.

A starved generator measures itself: requests leave late, latencies include its own queueing,
throughput is its ceiling rather than the API's. Each Locust process therefore records, while
users run: its CPU (sampled every second), how late its event loop wakes (a greenlet asks to
sleep a fixed tick and measures the oversleep), and in the open model how many task starts were
late because the user was idle but woke late, late because the user was still busy (the API's
latency, not the generator's), or dropped. `load/generator.toml` holds the limits; a run over
them is invalid, whatever its gates say: exit code 2, and the summary says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from ..plan.generator import GeneratorLimits
from .latency import new_histogram


@dataclass
class ProcessHealth:
    """One Locust process's record of itself (cumulative over the run)."""

    starts: int = 0
    late_backlog: int = 0
    late_wakeup: int = 0
    dropped: int = 0
    cpu_samples: int = 0
    cpu_sum: float = 0.0
    cpu_max: float = 0.0
    loop_lag: HdrHistogram = field(default_factory=new_histogram)

    def sample_cpu(self, percent: float) -> None:
        self.cpu_samples += 1
        self.cpu_sum += percent
        self.cpu_max = max(self.cpu_max, percent)

    @property
    def cpu_mean(self) -> float:
        return self.cpu_sum / self.cpu_samples if self.cpu_samples else 0.0

    @property
    def loop_lag_p99_ms(self) -> float:
        if not self.loop_lag.get_total_count():
            return 0.0
        return round(float(self.loop_lag.get_value_at_percentile(99.0)) / 1000.0, 3)

    def encode(self) -> dict[str, Any]:
        """JSON-ready, for a worker's report to the master and for the run's timing file."""
        return {
            "starts": self.starts,
            "late_backlog": self.late_backlog,
            "late_wakeup": self.late_wakeup,
            "dropped": self.dropped,
            "cpu_samples": self.cpu_samples,
            "cpu_sum": round(self.cpu_sum, 3),
            "cpu_max": round(self.cpu_max, 1),
            "loop_lag": self.loop_lag.encode().decode("ascii"),
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> ProcessHealth:
        health = cls(
            starts=int(data.get("starts", 0)),
            late_backlog=int(data.get("late_backlog", 0)),
            late_wakeup=int(data.get("late_wakeup", 0)),
            dropped=int(data.get("dropped", 0)),
            cpu_samples=int(data.get("cpu_samples", 0)),
            cpu_sum=float(data.get("cpu_sum", 0.0)),
            cpu_max=float(data.get("cpu_max", 0.0)),
        )
        if data.get("loop_lag"):
            health.loop_lag.decode_and_add(str(data["loop_lag"]).encode("ascii"))
        return health

    def as_dict(self) -> dict[str, Any]:
        """What the summary shows of one process."""
        return {
            "cpu_mean_percent": round(self.cpu_mean, 1),
            "cpu_max_percent": round(self.cpu_max, 1),
            "loop_lag_p99_ms": self.loop_lag_p99_ms,
            "starts": self.starts,
            "late_backlog": self.late_backlog,
            "late_wakeup": self.late_wakeup,
            "dropped": self.dropped,
        }


def generator_problems(
    processes: Mapping[str, ProcessHealth], limits: GeneratorLimits
) -> list[str]:
    """Why the generator, not the API, was measured: one phrase per breached limit (or none)."""
    problems = []
    for name, health in sorted(processes.items()):
        if health.cpu_samples and health.cpu_mean > limits.max_cpu_percent:
            problems.append(
                f"{name} averaged {health.cpu_mean:.0f} % CPU (limit {limits.max_cpu_percent:g})"
            )
        if health.loop_lag_p99_ms > limits.max_loop_lag_p99_ms:
            problems.append(
                f"{name} woke {health.loop_lag_p99_ms:.1f} ms late at p99 "
                f"(limit {limits.max_loop_lag_p99_ms:g} ms)"
            )
        if health.starts >= limits.min_starts:
            share = health.late_wakeup / health.starts
            if share > limits.max_late_wakeup_share:
                problems.append(
                    f"{name} started {share:.1%} of its tasks late while idle "
                    f"(limit {limits.max_late_wakeup_share:.1%})"
                )
    return problems

"""The verdict on a load run, reached once, inside Locust, as it quits.

The locustfile builds a `Judge` when Locust starts (the SLOs in force for the load profile, and
a baseline when one is named: a bad file stops Locust before any traffic) and, as Locust quits,
judges its statistics in memory: the gates are printed, Locust's exit code is set from them, and
the `Judgement` goes into the facts file. Plain Locust runs are judged this way as much as
`octoqa load` runs; `octoqa load` reads the judgement back (`Judgement.from_facts`) rather than
judging the CSV a second time, so the two can never disagree.

This module does not import Locust (it patches the standard library on import).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from ..plan.run_plan import LoadPlan
from ..plan.slo import ServiceLevels
from ..verdicts import Verdict
from .gates import FULL_REACH, Gate, Reach, judge_run, verdict_of
from .results import EndpointStats, Measurements
from .summary import gates_table, read_baseline

#: Locust's exit code for a run whose gates held, and for one where a gate failed.
EXIT_CODES: Mapping[str, int] = {Verdict.PASS: 0, Verdict.FAIL: 1}


@dataclass(frozen=True)
class Judgement:
    verdict: str
    gates: list[Gate]
    measurements: Measurements
    slo_version: int

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def describe(self) -> str:
        """The gates table and what else the verdict rests on, as printed at the end of a run."""
        lines = [gates_table(self.gates)]
        for rule, count in self.measurements.rule_violations.items():
            lines.append(f"rule violated under load: [{rule}] × {count}")
        if self.measurements.rate_limited:
            lines.append(f"rate limited (429, not failures): {self.measurements.rate_limited}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Judge:
    """What a run is judged by: the objectives in force, and the baseline's numbers if any."""

    levels: ServiceLevels
    baseline: Mapping[str, Mapping[str, Any]] | None = None

    @classmethod
    def from_plan(cls, load: LoadPlan) -> Judge:
        """The plan's gates, and its baseline read (a bad one is a UsageError, before traffic)."""
        assert load.slo is not None, "a run without gates has no judge"
        name = load.profile.name if load.profile is not None else None
        baseline = read_baseline(Path(load.baseline), name) if load.baseline else None
        return cls(load.slo, baseline)

    def judge(self, measurements: Measurements, reach: Reach = FULL_REACH) -> Judgement:
        gates = judge_run(self.levels, measurements, self.baseline, reach)
        return Judgement(verdict_of(gates), gates, measurements, self.levels.version)


class LoadFacts(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What Locust hands back to `octoqa load` as it quits: its verdict, and the facts of the
    run Locust's CSV lacks. Written by the master (`locust_plugin.py`), read back typed."""

    verdict: str
    slo_version: int
    gates: list[Gate]
    #: As judged: Locust's counts with the exact percentiles of the gated clock.
    endpoints: dict[str, EndpointStats]
    #: As Locust's own statistics read when it quit (its rounded percentiles): what its CSV
    #: says once its writer's next snapshot is taken, without waiting up to a second for it.
    locust_endpoints: dict[str, EndpointStats]
    rule_violations: dict[str, int]
    rate_limited: int
    no_answer: int
    profile: str | None
    model: str
    cpu_warning: bool
    workers_reported: int

    @classmethod
    def of(
        cls,
        judgement: Judgement,
        locust: Measurements,
        load: LoadPlan,
        cpu_warning: bool,
        workers_reported: int,
    ) -> LoadFacts:
        """The facts of a judged run; `locust`: what Locust's statistics read as it quit."""
        measured = judgement.measurements
        open_model = load.profile is not None and load.profile.per_user_rps is not None
        return cls(
            verdict=judgement.verdict,
            slo_version=judgement.slo_version,
            gates=list(judgement.gates),
            endpoints=dict(measured.endpoints),
            locust_endpoints=dict(locust.endpoints),
            rule_violations=dict(measured.rule_violations),
            rate_limited=measured.rate_limited,
            no_answer=locust.no_answer,
            profile=load.profile.name if load.profile is not None else None,
            model="open" if open_model else "closed",
            cpu_warning=cpu_warning,
            workers_reported=workers_reported,
        )

    def measurements(
        self, history: list[dict[str, Any]], rule_violations: Mapping[str, int]
    ) -> Measurements:
        """What Locust's statistics read as it quit, with the run over time (its CSV history)
        and the rules broken (the timing file's count)."""
        return Measurements(
            endpoints=self.locust_endpoints,
            rate_limited=self.rate_limited,
            rule_violations=rule_violations,
            history=history,
            no_answer=self.no_answer,
        )

    @property
    def judgement(self) -> Judgement:
        measurements = Measurements(
            endpoints=self.endpoints,
            rate_limited=self.rate_limited,
            rule_violations=self.rule_violations,
            history=[],
        )
        return Judgement(self.verdict, self.gates, measurements, self.slo_version)

    def write(self, path: Path) -> None:
        path.write_bytes(msgspec.json.format(msgspec.json.encode(self), indent=2) + b"\n")

    @classmethod
    def read(cls, path: Path) -> LoadFacts | None:
        """The facts Locust wrote; None when it never got as far as judging the run."""
        try:
            return msgspec.json.decode(path.read_bytes(), type=cls)
        except (OSError, msgspec.DecodeError):
            return None

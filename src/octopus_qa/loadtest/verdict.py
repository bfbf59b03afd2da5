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

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..verdicts import Verdict
from .gates import Gate, judge_run, verdict_of
from .results import EndpointStats, Measurements
from .slo import ServiceLevels, load_slo
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

    def as_facts(self) -> dict[str, Any]:
        """The judgement as the facts file carries it to `octoqa load`."""
        return {
            "verdict": self.verdict,
            "slo_version": self.slo_version,
            "gates": [gate.as_dict() for gate in self.gates],
            "endpoints": {
                key: stats.as_dict() for key, stats in self.measurements.endpoints.items()
            },
            "rule_violations": dict(self.measurements.rule_violations),
            "rate_limited": self.measurements.rate_limited,
        }

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any]) -> Judgement | None:
        """The judgement a facts file holds; None when Locust never got as far as judging."""
        if facts.get("verdict") not in EXIT_CODES or not isinstance(facts.get("gates"), list):
            return None
        measurements = Measurements(
            endpoints={key: EndpointStats(**value) for key, value in facts["endpoints"].items()},
            rate_limited=int(facts["rate_limited"]),
            rule_violations=dict(facts["rule_violations"]),
            history=[],
        )
        gates = [Gate(**gate) for gate in facts["gates"]]
        return cls(facts["verdict"], gates, measurements, int(facts["slo_version"]))

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
    def from_files(
        cls,
        slo_file: Path,
        profile: str | None,
        baseline: Path | None,
        known_profiles: Collection[str] | None = None,
    ) -> Judge:
        """Read both files; a missing or malformed one is a UsageError, before any traffic.

        `known_profiles` (the load profiles there are) lets the SLO file's reader refuse an
        override for a profile that does not exist.
        """
        return cls(
            load_slo(slo_file, profile, known_profiles),
            read_baseline(baseline, profile) if baseline is not None else None,
        )

    def judge(self, measurements: Measurements) -> Judgement:
        gates = judge_run(self.levels, measurements, self.baseline)
        return Judgement(verdict_of(gates), gates, measurements, self.levels.version)

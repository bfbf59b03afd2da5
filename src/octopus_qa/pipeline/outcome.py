"""What each stage of a run reports, and what the whole run comes to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..report import worst_verdict
from ..verdicts import Verdict


@dataclass
class StageResult:
    name: str
    verdict: str
    exit_code: int | None
    duration_s: float
    reason: str | None = None
    log: str | None = None

    @property
    def holds(self) -> bool:
        return self.verdict == Verdict.PASS


@dataclass
class RunOutcome:
    run_dir: Path
    exit_code: int
    verdict: str
    stages: list[StageResult] = field(default_factory=list)
    #: The run summary the report wrote (summary.json): what the console's last lines name.
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def first_problem(self) -> StageResult | None:
        """The stage the one-line explanation names: the first that did not hold, worst first."""
        worst = worst_verdict([s.verdict for s in self.stages])
        return next((s for s in self.stages if s.verdict == worst and not s.holds), None)


#: Called as a stage starts (index from 1, count, name) and as it ends (index, count, result).
StageStarted = Callable[[int, int, str], None]
StageEnded = Callable[[int, int, StageResult], None]

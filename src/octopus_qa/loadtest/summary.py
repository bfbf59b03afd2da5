"""`<run>/load/summary.json`, the gates table printed at the end, and reading a baseline back.

The summary is `summaries.LoadSummary` (one typed definition for every stage): verdict, target,
profile, timing, gates with measured value, limit and verdict, per-endpoint statistics, rule
violations, 429s, Locust's CPU warning and the run over time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from ..errors import UsageError
from ..report.junit import Case, write_junit
from ..report.summaries import LoadSummary, SummaryUnreadable, read_stage
from ..report.summaries import write_summary as write_typed_summary
from ..verdicts import Verdict
from .gates import FAIL, Gate

SUMMARY_FILE = "summary.json"


def read_baseline(path: Path, profile: str | None) -> dict[str, Mapping[str, Any]]:
    """The per-endpoint numbers of an earlier load summary, from a run of the same profile
    (None: a run without a load profile, compared with another such run)."""
    try:
        data = read_stage(path, "load")
    except SummaryUnreadable as exc:
        raise UsageError(f"{path} is not a load summary.json: {exc}") from None
    if not isinstance(data, LoadSummary) or not data.endpoints:
        raise UsageError(f"{path} is not a load summary.json (no stage 'load' with endpoints)")
    if data.profile != profile:
        raise UsageError(
            f"the baseline {path} is a {data.profile!r} run; compare a {profile!r} run "
            "with a baseline of the same profile"
        )
    return {key: msgspec.structs.asdict(value) for key, value in data.endpoints.items()}


def write_summary(directory: Path, summary: LoadSummary) -> Path:
    return write_typed_summary(directory / SUMMARY_FILE, summary)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def gates_table(gates: list[Gate]) -> str:
    """The gates as an aligned text table, failed ones marked so they stand out."""
    header = ("endpoint", "metric", "source", "measured", "limit", "verdict")
    rows = [
        (
            gate.endpoint,
            gate.metric,
            gate.source,
            _number(gate.measured),
            f"{gate.comparison} {_number(gate.limit)}",
            gate.verdict.upper() if gate.verdict == FAIL else gate.verdict,
        )
        for gate in gates
    ]
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines += _not_judged(gates)
    return "\n".join(line.rstrip() for line in lines)


def _not_judged(gates: list[Gate]) -> list[str]:
    """Below the table: why the skipped gates were not judged, one line per reason."""
    by_reason: dict[str, list[str]] = {}
    for gate in gates:
        if gate.reason:
            by_reason.setdefault(gate.reason, []).append(f"{gate.endpoint} {gate.metric}")
    return [f"not judged: {', '.join(names)}: {why}" for why, names in by_reason.items()]


def gate_cases(gates: list[Gate], problem: str | None = None) -> list[Case]:
    """One JUnit case per gate, its measured value and limit in the message (and as properties);
    a Locust run that failed is one more case, an error, so the file never reads as all green."""
    cases = [
        Case(
            classname=f"load.{gate.source}",
            name=f"{gate.endpoint} {gate.metric}",
            verdict=gate.verdict,
            message=(
                f"{gate.endpoint} {gate.metric}: measured {_number(gate.measured)}, "
                f"limit {gate.comparison} {_number(gate.limit)}"
            ),
            properties={
                "measured": _number(gate.measured),
                "limit": f"{gate.comparison} {_number(gate.limit)}",
            },
        )
        for gate in gates
    ]
    if problem:
        cases.append(Case("load.run", "locust run", Verdict.ERROR, problem))
    return cases


def write_gates_junit(directory: Path, gates: list[Gate], problem: str | None = None) -> Path:
    return write_junit(directory / "junit.xml", "octoqa load", gate_cases(gates, problem))

"""The capacity gate: `octoqa capacity --baseline`, a search compared with an earlier one.

Two questions are asked of the new build, each against the baseline's capacity (the highest
rate its search held within SLOs):

1. did the capacity drop by more than `capacity_tolerance` (slo.toml `[baseline]`, 15 %)?
2. at the previous capacity, does every gate still hold? The search measures that rate itself
   when its path crosses it (within SAME_RATE); otherwise one confirmation step runs there.

Either is a regression (exit 1). What cannot be decided is said, never passed: a search whose
generator set the limit measured the generator; a search stopped below the baseline by its own
bounds (`--max-rps`, the profiles' `[limits]`, the time budget) knows only a lower bound. The
baseline is read, and refused with one line, before any traffic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from ..verdicts import Verdict
from .gates import AT_LEAST, AT_MOST, Gate

if TYPE_CHECKING:  # capacity.py imports this module; these are only its types
    from .capacity import CapacityResult, Step

SUMMARY_FILE = "summary.json"
#: A step within this fraction of the baseline's capacity counts as measured at it.
SAME_RATE = 0.02
#: How many endpoints the verdict sentence names at the previous capacity (summary.json: all).
NAMED_BREACHES = 3
#: Search limits whose capacity is only a lower bound: the search stopped before an SLO broke.
LOWER_BOUNDS = ("max-rate", "limits", "time")
#: Searches that did not find the API's capacity at all: nothing to compare.
UNFOUND = ("generator", "error")


class SummaryStep(msgspec.Struct, frozen=True):
    """One step of a capacity summary.json, as much as is read back."""

    rate_rps: float
    verdict: str
    latency: dict[str, float | None] | None = None
    service: dict[str, float | None] | None = None
    failed_gates: list[str] = msgspec.field(default_factory=list)


class CapacitySummary(msgspec.Struct, frozen=True):
    """A capacity `summary.json` read back: as a baseline, and by `octoqa run`'s judge."""

    stage: Literal["capacity"]
    verdict: str
    exit_code: int
    capacity_rps: float | None
    limit: str
    steps: list[SummaryStep]
    #: "embedded" or the target's URL (absent from summaries older than the gate).
    target: str | None = None


def decode_summary(data: bytes) -> CapacitySummary:
    """A capacity summary from its bytes; ValueError (msgspec's) says why it is not one."""
    return msgspec.json.decode(data, type=CapacitySummary)


class BaselineUnreadable(ValueError):
    """A baseline that is missing or not a capacity summary; the message names the path."""


def baseline_file(path: Path) -> Path:
    """The summary.json a baseline names: the file itself, or a run folder's capacity one."""
    if path.is_dir():
        for candidate in (path / "capacity" / SUMMARY_FILE, path / SUMMARY_FILE):
            if candidate.is_file():
                return candidate
        raise BaselineUnreadable(f"{path}: no capacity/summary.json in that folder")
    if not path.is_file():
        raise BaselineUnreadable(f"{path}: no such file or folder")
    return path


def read_baseline(path: Path) -> tuple[Path, CapacitySummary]:
    """The baseline's file and summary; BaselineUnreadable says why it is not one."""
    file = baseline_file(path)
    try:
        return file, decode_summary(file.read_bytes())
    except OSError as exc:
        raise BaselineUnreadable(f"{file}: {exc.strerror or 'cannot be read'}") from None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BaselineUnreadable(f"{file} is not a capacity summary.json: {exc}") from None


def step_near(steps: Sequence[Step], rate: float) -> Step | None:
    """The measured step closest to `rate`, if one is within SAME_RATE of it."""
    near = [s for s in steps if abs(s.rate_rps - rate) <= SAME_RATE * rate]
    return min(near, key=lambda s: abs(s.rate_rps - rate), default=None)


def breach_text(gate: dict[str, Any]) -> str:
    """A broken gate in a few words: `availability p95_ms 480 ms > 250`."""
    name = f"{gate.get('endpoint')} {gate.get('metric')}"
    measured, limit = gate.get("measured"), gate.get("limit")
    if limit is None:
        return name
    unit = " ms" if str(gate.get("metric", "")).endswith("_ms") else ""
    broke = {AT_MOST: ">", AT_LEAST: "<"}.get(str(gate.get("comparison")), "vs")
    value = "nothing measured" if measured is None else f"{readable(measured)}{unit}"
    return f"{name} {value} {broke} {readable(limit)}"


def worst_breaches(gates: list[dict[str, Any]], most: int = NAMED_BREACHES) -> str:
    """The gates broken at the previous capacity, for the verdict sentence: each endpoint once
    (its gate furthest past its limit), the worst endpoints first, at most `most` of them."""
    worst: dict[str, dict[str, Any]] = {}
    for gate in sorted(gates, key=_overshoot, reverse=True):
        worst.setdefault(str(gate.get("endpoint")), gate)
    named = [breach_text(gate) for gate in list(worst.values())[:most]]
    more = len(gates) - len(named)
    return ", ".join(named) + (f" and {more} more gates" if more > 0 else "")


def _overshoot(gate: dict[str, Any]) -> float:
    """How far past its limit a gate is, as a ratio (a floor's the other way up)."""
    measured, limit = gate.get("measured"), gate.get("limit")
    if not isinstance(measured, int | float) or not isinstance(limit, int | float):
        return 0.0
    if gate.get("comparison") == AT_LEAST:
        return limit / measured if measured > 0 else math.inf
    return measured / limit if limit > 0 else math.inf


def readable(value: float) -> str:
    """480, 1,102, 6.2, 0.05: whole numbers from 10 up, three significant digits below (a
    search that stepped down measured 6.2 req/s, not 6)."""
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.3g}"


@dataclass(frozen=True)
class Comparison:
    """The capacity gate's answer: what summary.json's `baseline` holds, and its sentence."""

    summary: str
    capacity_rps: float | None  # the baseline's
    change: float | None  # (now − before) / before
    tolerance: float
    verdict: str  # pass | fail | skip (not judged, with the reason in `sentence`)
    sentence: str
    #: The step at the baseline's capacity: rate, folder, verdict and the gates it broke.
    at_previous_capacity: dict[str, Any] | None = None
    #: Every failed gate of the comparison (the capacity's own, those broken at the previous
    #: capacity), in the shape of a load run's `regressions`.
    regressions: list[dict[str, Any]] = field(default_factory=list)
    #: The baseline's steps (rate, verdict, latencies): the page's second curve.
    steps: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(
    baseline: CapacitySummary,
    source: str,
    result: CapacityResult,
    tolerance: float,
    unmeasured: str | None = None,
) -> Comparison:
    """Judge a finished search against the baseline (pure: every step is already measured).

    `unmeasured` says why no step ran at the baseline's capacity when the search could not run
    one there (above the rates allowed, out of time, refused by the limits)."""
    previous = baseline.capacity_rps
    steps = [msgspec.structs.asdict(step) for step in baseline.steps]
    if result.limit in UNFOUND:
        why = "the capacity gate was not judged: this search did not find the API's capacity"
        return Comparison(source, previous, None, tolerance, Verdict.SKIP, why, steps=steps)
    if previous is None:
        why = "the capacity gate compares nothing: the baseline held no rate within SLOs"
        return Comparison(source, previous, None, tolerance, Verdict.SKIP, why, steps=steps)
    now = result.capacity_rps or 0.0
    change = round((now - previous) / previous, 4)
    capacity = _capacity_gate(now, previous, tolerance)
    dropped = capacity.verdict == Verdict.FAIL
    # A search its own bounds stopped knows only that the capacity is at least `now`.
    capacity_judged = not dropped or result.limit not in LOWER_BOUNDS
    at = step_near(result.steps, previous)
    broken = _broken(at) if at is not None and at.verdict == Verdict.FAIL else []
    regressions = [capacity.as_dict()] if dropped and capacity_judged else []
    regressions += broken
    base = Comparison(
        source,
        previous,
        change,
        tolerance,
        Verdict.SKIP,
        "",
        at_previous_capacity=_at_previous(at, previous, broken),
        regressions=regressions,
        steps=steps,
    )
    if regressions:
        parts = []
        if dropped and capacity_judged:
            parts.append(
                f"{-change:.0%} below the baseline's {previous:,.0f} req/s "
                f"({tolerance:.0%} allowed)"
            )
        if broken:
            broke = worst_breaches(broken)
            parts.append(f"at the previous capacity, {previous:,.0f} req/s: {broke}")
        sentence = "the capacity gate fails: " + "; ".join(parts)
        return replace(base, verdict=Verdict.FAIL, sentence=sentence)
    measured_there = at is not None and at.verdict == Verdict.PASS
    there = (
        f"every gate held at {previous:,.0f} req/s"
        if measured_there
        else f"not measured at {previous:,.0f} req/s: {_why_not(at, unmeasured)}"
    )
    if capacity_judged:
        sentence = (
            f"the capacity gate holds: within {tolerance:.0%} of the baseline's "
            f"{previous:,.0f} req/s ({change:+.0%}); {there}"
        )
        return replace(base, verdict=Verdict.PASS, sentence=sentence)
    sentence = (
        f"the capacity gate was not judged: the search stopped at {now:,.0f} req/s "
        f"({result.limit}), below the baseline's {previous:,.0f}; {there}"
    )
    return replace(base, sentence=sentence)


def _capacity_gate(now: float, previous: float, tolerance: float) -> Gate:
    floor = previous * (1 - tolerance)
    return Gate(
        endpoint="all",
        metric="capacity_rps",
        limit=round(floor, 1),
        measured=now,
        verdict=Verdict.PASS if now >= floor else Verdict.FAIL,
        comparison=AT_LEAST,
        source="baseline",
    )


def _at_previous(at: Step | None, previous: float, broken: list[dict[str, Any]]) -> dict[str, Any]:
    if at is None:
        return {"rate_rps": previous, "step": None, "verdict": Verdict.NOT_RUN, "gates_broken": []}
    return {
        "rate_rps": at.rate_rps,
        "step": at.directory,
        "verdict": at.verdict,
        "gates_broken": broken,
    }


def _broken(step: Step) -> list[dict[str, Any]]:
    """The gates a step broke, with measured value and limit (names only, from older steps)."""
    if step.breaches:
        return list(step.breaches)
    return [
        {"endpoint": endpoint, "metric": metric, "measured": None, "limit": None}
        for endpoint, _, metric in (name.partition(" ") for name in step.failed_gates)
    ]


def _why_not(at: Step | None, unmeasured: str | None) -> str:
    if at is not None:
        return f"its step there was {at.verdict}: the generator, not the API, was measured"
    return unmeasured or "no step ran there"


def exit_code(search_code: int, comparison: Comparison) -> int:
    """The search's exit code with the gate's: a regression is 1, a gate that could not be
    judged 2 (it was asked for), unless the search already could not run (2 stays 2)."""
    if search_code == 2:
        return 2
    if comparison.verdict == Verdict.FAIL:
        return 1
    if comparison.verdict == Verdict.SKIP and comparison.capacity_rps is not None:
        return 2
    return search_code

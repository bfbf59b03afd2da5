"""`octoqa capacity`: how much traffic does this deployment hold within its SLOs?

Steps the arrival rate of the load scenario's mix (Browser, CatalogCrawler, TokenChurner, with
their weights) upwards, geometrically from `start_rps` by `factor`. Each step is a full
open-model run: a ramp at SPAWN_PER_S users/s (not judged), then `step_s` at the rate, judged
like `octoqa load`: the gates of `slo.toml` on exact latencies from the intended start, and the
generator's own limits. The first step that breaks a gate ends the climb; `refine` bisection
steps between the last rate that held and the first that broke narrow it. A step whose
generator could not keep the schedule ends the search too: the limit found is the generator's,
not the API's (exit 2, suggesting `--workers N`).

Bounded: every step is capped by the profiles file's `[limits]` (rate, users, duration), the
whole search by `max_time_s`; targets are loopback or allow-listed, as for `octoqa load`.

The knee is the highest rate whose p99 stayed within twice the p99 of the first (lightest) step:
past it, queueing dominates the latency.

With `--baseline` (an earlier search's summary.json) the search is also a gate: the capacity
may not drop beyond slo.toml's `capacity_tolerance`, and every gate must still hold at the
baseline's capacity (measured by one confirmation step when the search did not cross that
rate): `capacity_gate.py`.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import msgspec

from ..config import ConfigError
from ..errors import UsageError
from ..plan import PLAN_FILE, PlanOptions, RunPlan, build_plan, preflight, read_plan, write_plan
from ..plan.load_profiles import arrival_profile, users_offering
from ..rundir import point_latest_at
from ..verdicts import Verdict
from . import bottleneck, capacity_gate
from .capacity_gate import CapacitySummary, Comparison
from .gates import FAIL
from .latency import RESPONSE
from .runner import DEFAULT_LOAD_DIR, LoadOptions, LoadStep, Outcome, measure

#: Task runs per second each simulated user makes; more users only at higher rates.
PER_USER_RPS = 2.0
#: A step's users arrive at this many per second (each logs in first), within at least a second:
#: a hundred logins in one instant would judge the login burst, not the rate.
SPAWN_PER_S = 50.0
#: What a step costs beyond its run time (Locust start-up and shut-down), for the time budget.
STEP_OVERHEAD_S = 6.0
#: A knee: the p99 has grown past this multiple of the lightest step's.
KNEE_FACTOR = 2.0
#: The steps whose concurrency is read for the bottleneck: those the generator kept up with.
JUDGED = (Verdict.PASS, Verdict.FAIL)
#: Stop bisecting when the bracket is this narrow, relative to the rate that held.
BRACKET_RESOLUTION = 0.05


@dataclass(frozen=True)
class CapacityOptions:
    target: str | None = None
    start_rps: float = 25.0
    max_rps: float | None = None  # default: the profiles file's max_rate_rps
    factor: float = 1.5
    step_s: float = 10.0
    refine: int = 2
    max_time_s: float = 600.0
    workers: int = 0
    report_dir: Path | None = None
    allow_any_host: bool = False
    load_dir: Path = DEFAULT_LOAD_DIR
    #: An earlier search's summary.json (or its run folder): the capacity gate.
    baseline: Path | None = None
    #: The search's plan, written by `octoqa run` (`<run>/capacity/plan.json`).
    plan: Path | None = None
    #: Serve each step's figures live to Prometheus on this port (`metrics.py`).
    metrics_port: int | None = None


@dataclass(frozen=True)
class Step:
    rate_rps: float
    verdict: str
    users: int
    achieved_rps: float
    error_rate: float | None
    latency: dict[str, Any] | None  # exact percentiles of every request, from intended start
    service: dict[str, Any] | None  # the same from sending, for comparison
    failed_gates: list[str]
    generator_problems: list[str]
    schedule: dict[str, Any] | None
    directory: str
    #: The failed gates in full (measured value, limit): what the capacity gate names.
    breaches: list[dict[str, Any]] = field(default_factory=list)
    #: Per endpoint: rate, p50/p99, errors, in flight, ms per own request in flight (bottleneck.py).
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class CapacityResult:
    steps: list[Step] = field(default_factory=list)
    capacity_rps: float | None = None
    limit: str = "none"  # api | generator | max-rate | time | limits | error
    #: When the profiles' [limits] refused a step: which limit, in its own words.
    bounded_by: str | None = None
    knee_rps: float | None = None
    broke_at: dict[str, float] = field(default_factory=dict)  # "endpoint metric" → first rate
    verdict: str = ""
    exit_code: int = 0
    directory: Path | None = None  # <run>/capacity: summary.json, the steps, the page
    #: "embedded" or the target's URL: which deployment the capacity is of.
    target: str | None = None
    #: The capacity gate's answer, with `--baseline`.
    baseline: Comparison | None = None
    #: What serialises or fails under concurrency, and whose latency grew first (bottleneck.py).
    bottleneck: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": "capacity",
            "target": self.target,
            "capacity_rps": self.capacity_rps,
            "limit": self.limit,
            "bounded_by": self.bounded_by,
            "knee_rps": self.knee_rps,
            "broke_at": self.broke_at,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "steps": [asdict(step) for step in sorted(self.steps, key=lambda s: s.rate_rps)],
            "baseline": self.baseline.as_dict() if self.baseline is not None else None,
            "bottleneck": self.bottleneck,
        }


def step_rates(start: float, factor: float, maximum: float) -> list[float]:
    """The climb: start, start × factor, ... up to and including `maximum`."""
    rates, rate = [], start
    while rate < maximum:
        rates.append(round(rate, 1))
        rate *= factor
    rates.append(round(maximum, 1))
    return rates


def users_for(rate_rps: float, max_users: int) -> tuple[int, float]:
    """(users, per-user rate) offering `rate_rps`: 2 task runs/s each, at most `max_users`.

    The profile counts its users back with `users_offering`, which gives `users` again."""
    users = min(max_users, users_offering(rate_rps, PER_USER_RPS))
    return users, rate_rps / users


def knee(steps: list[Step]) -> float | None:
    """The highest rate whose p99 stayed within KNEE_FACTOR × the lightest step's p99."""
    measured = sorted(
        (s for s in steps if s.latency and s.verdict in (Verdict.PASS, Verdict.FAIL)),
        key=lambda s: s.rate_rps,
    )
    if not measured:
        return None
    assert measured[0].latency is not None
    base = measured[0].latency["p99_ms"]
    held = [s.rate_rps for s in measured if s.latency and s.latency["p99_ms"] <= KNEE_FACTOR * base]
    return max(held) if held else None


#: Why a step could not run when it was the time budget (else: the limits' refusal, in words).
OUT_OF_TIME = "time"


def _check_options(options: CapacityOptions) -> None:
    if not 0 < options.start_rps:
        raise UsageError("--start-rps must be more than 0")
    if not options.factor > 1.05:
        raise UsageError("--factor must be more than 1.05")
    if not 1 <= options.step_s <= 600:
        raise UsageError("--step-s must be from 1 to 600")
    if not 0 <= options.refine <= 10:
        raise UsageError("--refine must be from 0 to 10")
    if not 0 < options.max_time_s <= 24 * 3600:
        raise UsageError("--max-time must be more than 0 s and at most a day")


def search_plan_options(options: CapacityOptions) -> PlanOptions:
    """The run a search is: limits, gates, generator limits and allow-list, and no load profile
    (each step plays one of its own, so slo.toml's per-profile overrides do not apply)."""
    return replace(
        LoadOptions(
            target=options.target,
            workers=options.workers,
            report_dir=options.report_dir,
            allow_any_host=options.allow_any_host,
            load_dir=options.load_dir,
            reset_after_ramp=True,  # each step is judged at its rate, not its users' logins
            metrics_port=options.metrics_port,
        ).plan_options(),
        load_profile=None,
    )


def plan_search(options: CapacityOptions) -> RunPlan:
    """The search, decided once: read from `--plan` (`octoqa run` wrote it), or built."""
    if options.plan is None:
        return build_plan(search_plan_options(options))
    plan = read_plan(options.plan)
    if plan.load is None or plan.load.profile is not None or plan.run_dir is None:
        raise UsageError(
            f"{options.plan} is not the plan of a capacity search (`octoqa run` writes one "
            "as <run>/capacity/plan.json)"
        )
    return plan


def run_capacity(options: CapacityOptions, out: TextIO = sys.stdout) -> CapacityResult:
    """The whole search; the verdict sentence is the last line printed."""
    _check_options(options)
    # The baseline before the plan: a bad one is one line, before anything starts or is sent.
    try:
        baseline = capacity_gate.read_baseline(options.baseline) if options.baseline else None
    except capacity_gate.BaselineUnreadable as exc:
        raise UsageError(f"--baseline {exc}") from None
    plan = plan_search(options)
    assert plan.load is not None and plan.load.slo is not None
    limits = plan.load.limits
    maximum = min(options.max_rps or limits.max_rate_rps, limits.max_rate_rps)
    if options.start_rps > maximum:
        raise UsageError(f"--start-rps is above the highest rate allowed ({maximum:g} req/s)")
    run_dir = plan.reports
    capacity_dir = run_dir / "capacity"
    result = CapacityResult(directory=capacity_dir)
    deadline = time.monotonic() + options.max_time_s
    locustfile = options.load_dir / "locustfile.py"
    unmeasured: str | None = None
    with preflight(plan) as opened:
        write_plan(opened.plan, options.plan)
        capacity_dir.mkdir(parents=True, exist_ok=True)
        if options.report_dir is None and options.plan is None:
            point_latest_at(run_dir)
        result.target = opened.plan.target.label
        print(
            f"octoqa capacity: the scenario mix from {options.start_rps:g} up to {maximum:g} "
            f"req/s, {options.step_s:g} s a step, against {opened.url}; reports in "
            f"{capacity_dir}",
            file=out,
            flush=True,
        )
        if baseline is not None:
            print(_baseline_line(*baseline), file=out, flush=True)

        def run_step(rate: float) -> Step | str:
            """One step at `rate`; or why it could not run: OUT_OF_TIME, or the limits'
            refusal in their own words."""
            ramp_s = users_for(rate, limits.max_users)[0] / SPAWN_PER_S
            if time.monotonic() + ramp_s + options.step_s + STEP_OVERHEAD_S > deadline:
                return OUT_OF_TIME
            try:
                step_plan = _step_plan(opened.plan, options, rate)
            except ConfigError as refused:  # what held so far is still the answer
                return f"{rate:g} req/s: {refused}"
            step_dir = capacity_dir / f"step-{rate:g}"
            step_dir.mkdir(parents=True, exist_ok=True)
            plan_file = write_plan(step_plan, step_dir / PLAN_FILE)
            load_step = LoadStep(step_plan, step_dir, plan_file, locustfile)
            outcome = measure(load_step)
            step = _step(rate, load_step.profile.peak_users, outcome, step_dir, run_dir)
            result.steps.append(step)
            _print_step(out, step)
            return step

        held: float | None = None
        broke: float | None = None
        for rate in step_rates(options.start_rps, options.factor, maximum):
            step = run_step(rate)
            if isinstance(step, str):
                _stopped(result, step)
                break
            _note_broken(result, step)
            if step.verdict == Verdict.PASS:
                held = rate
                continue
            broke = rate
            break
        else:
            result.limit = "max-rate"
        last = result.steps[-1] if result.steps else None
        if last is not None and last.verdict in (Verdict.INVALID, Verdict.ERROR):
            result.limit = "generator" if last.verdict == Verdict.INVALID else "error"
        elif broke is not None:
            result.limit = "api"
            low = held
            for _ in range(options.refine if held is not None else 0):
                assert low is not None
                if broke - low <= BRACKET_RESOLUTION * low:
                    break
                middle = round((low + broke) / 2, 1)
                step = run_step(middle)
                if isinstance(step, str):
                    _stopped(result, step)
                    break
                _note_broken(result, step)
                if step.verdict == Verdict.PASS:
                    low = middle
                elif step.verdict == Verdict.FAIL:
                    broke = middle
                else:
                    result.limit = "generator" if step.verdict == Verdict.INVALID else "error"
                    break
            held = low

        def confirm(rate: float) -> str | None:
            """One more step, at the baseline's capacity ("latency at the previous capacity"
            needs one), within the search's bounds; or why it cannot run."""
            nonlocal held, broke
            if rate > maximum:
                return f"above the highest rate allowed here, {maximum:g} req/s"
            print(f"  confirming at the baseline's capacity, {rate:g} req/s", file=out)
            step = run_step(rate)
            if isinstance(step, str):
                if step == OUT_OF_TIME:
                    return "the time budget ended first"
                return f"the profiles' [limits] refuse a step at {step}"
            if (held or 0) < rate < (broke or math.inf):  # a bisection step after all
                _note_broken(result, step)
                if step.verdict == Verdict.PASS:
                    held = rate
                elif step.verdict == Verdict.FAIL:
                    broke = rate
            return None

        previous = baseline[1].capacity_rps if baseline is not None else None
        if (
            previous is not None
            and result.limit not in capacity_gate.UNFOUND
            and capacity_gate.step_near(result.steps, previous) is None
        ):
            unmeasured = confirm(round(previous, 1))
    result.capacity_rps = held
    result.knee_rps = knee(result.steps)
    result.verdict, result.exit_code = _verdict(result, broke, options.workers)
    result.bottleneck = bottleneck.name_bottleneck(result.steps, run_dir, JUDGED)
    result.verdict = "; ".join([result.verdict, *result.bottleneck["findings"]])
    _print_bottleneck(out, result.bottleneck)
    if baseline is not None:
        _judge_gate(result, *baseline, plan.load.slo.baseline.capacity_tolerance, unmeasured)
    (capacity_dir / "summary.json").write_text(
        json.dumps(result.as_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return result


def _judge_gate(
    result: CapacityResult,
    file: Path,
    baseline: CapacitySummary,
    tolerance: float,
    unmeasured: str | None,
) -> None:
    """The capacity gate's answer added to a finished search: its part of summary.json, of the
    verdict sentence and of the exit code."""
    judged = capacity_gate.compare(baseline, str(file.resolve()), result, tolerance, unmeasured)
    result.baseline = judged
    result.verdict = f"{result.verdict}; {judged.sentence}"
    result.exit_code = capacity_gate.exit_code(result.exit_code, judged)


def _stopped(result: CapacityResult, why: str) -> None:
    """A step could not run: the time budget or the limits end the climb (a bisection keeps
    the API's limit, and what held so far is still the answer)."""
    if why != OUT_OF_TIME:
        result.bounded_by = why
    if result.limit == "none":
        result.limit = "time" if why == OUT_OF_TIME else "limits"


def _note_broken(result: CapacityResult, step: Step) -> None:
    """Where each gate broke first: the lowest rate of the search that broke it."""
    for gate in step.failed_gates:
        result.broke_at[gate] = min(step.rate_rps, result.broke_at.get(gate, step.rate_rps))


def _baseline_line(file: Path, baseline: CapacitySummary) -> str:
    held = baseline.capacity_rps
    capacity = f"{held:,.0f} req/s" if held is not None else "no rate held"
    target = f", target {baseline.target}" if baseline.target else ""
    return f"baseline: {file} ({capacity}{target})"


def _step_plan(plan: RunPlan, options: CapacityOptions, rate: float) -> RunPlan:
    """The run plan of one step: the search's plan, playing an arrival profile at `rate`."""
    assert plan.load is not None
    users, per_user = users_for(rate, plan.load.limits.max_users)
    profile = arrival_profile(
        f"capacity-{rate:g}",
        rate_rps=rate,
        per_user_rps=per_user,
        ramp_s=max(1.0, round(users / SPAWN_PER_S, 1)),
        hold_s=float(options.step_s),
        limits=plan.load.limits,
        description=f"octoqa capacity step at {rate:g} req/s",
    )
    load = msgspec.structs.replace(
        plan.load, profile=profile, run_time_s=profile.duration_s, capacity_step_rps=rate
    )
    return msgspec.structs.replace(plan, load=load)


def _step(rate: float, users: int, outcome: Outcome, step_dir: Path, run_dir: Path) -> Step:
    endpoints = outcome.summary.get("endpoints") or {}
    total = endpoints.get("total") or {}
    duration = max(float(outcome.summary.get("duration_s") or 0), 1e-9)
    requests = int(total.get("requests") or 0)
    failed = [gate for gate in outcome.gates if gate.verdict == FAIL]
    return Step(
        rate_rps=rate,
        verdict=outcome.verdict,
        users=users,
        achieved_rps=round(float(total.get("rps") or requests / duration), 1),
        error_rate=(total.get("failures", 0) / requests) if requests else None,
        latency=total.get(RESPONSE),
        service=total.get("service"),
        failed_gates=[f"{gate.endpoint} {gate.metric}" for gate in failed],
        generator_problems=outcome.saturated,
        schedule=outcome.summary.get("schedule"),
        directory=str(step_dir.relative_to(run_dir)),
        breaches=[gate.as_dict() for gate in failed],
        endpoints=bottleneck.step_endpoints(outcome.summary),
    )


def _print_step(out: TextIO, step: Step) -> None:
    latency = step.latency or {}
    p99 = latency.get("p99_ms")
    p50 = latency.get("p50_ms")
    errors = "-" if step.error_rate is None else f"{step.error_rate:.2%}"
    broken = f"; broke: {', '.join(step.failed_gates)}" if step.failed_gates else ""
    saturated = (
        f"; generator: {'; '.join(step.generator_problems)}" if step.generator_problems else ""
    )
    print(
        f"  {step.rate_rps:>7g} req/s offered: {step.verdict:<7} achieved {step.achieved_rps:g} "
        f"req/s, p50 {p50} ms, p99 {p99} ms, errors {errors}{broken}{saturated}",
        file=out,
        flush=True,
    )


def _print_bottleneck(out: TextIO, named: dict[str, Any]) -> None:
    """The report's lines: what the steps' concurrency says, and whose latency grew first."""
    for finding in named["findings"]:
        print(f"  bottleneck: {finding}", file=out)
    grew = bottleneck.grew_sentence(named["grew_first"])
    if grew:
        print(f"  {grew}", file=out)


def _verdict(result: CapacityResult, broke: float | None, workers: int) -> tuple[str, int]:
    held = result.capacity_rps
    holds = f"holds {held:,.0f} req/s of the scenario mix within SLOs" if held else ""
    if result.limit == "generator":
        rate = result.steps[-1].rate_rps
        prefix = f"{holds}; " if holds else ""
        return (
            f"{prefix}the load generator, not the API, set the limit at {rate:,.0f} req/s: "
            f"rerun with --workers {max(2, workers * 2)}",
            2,
        )
    if result.limit == "error":
        return ("a step could not be run (see its locust.log): no capacity found", 2)
    if result.limit == "limits":
        found = holds or "no rate held before"
        return (
            f"{found}; the search stopped where the profiles' [limits] end (a step at "
            f"{result.bounded_by}): raise them (octoqa init, --config) to search higher",
            0 if held else 2,
        )
    if result.limit == "api" and broke is not None:
        first = min(result.broke_at.items(), key=lambda item: item[1], default=None)
        which = f"{first[0]} breaks first, at {first[1]:,.0f} req/s" if first else ""
        if not held:
            return (f"holds no rate tried within SLOs: {which}", 1)
        return (f"{holds}; {which}", 0)
    if result.limit == "max-rate":
        return (f"holds at least {held:,.0f} req/s within SLOs (the highest rate tried)", 0)
    if held:
        return (f"{holds} (the time budget ended the search before an SLO broke)", 0)
    return ("no step finished within the time budget: no capacity found", 2)

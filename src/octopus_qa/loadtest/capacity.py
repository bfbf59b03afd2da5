"""`octoqa capacity`: how much traffic does this deployment hold within its SLOs?

Measures the arrival rate of the load scenario's mix (Browser, CatalogCrawler, TokenChurner,
with their weights) at a sequence of rates chosen as it goes (`search.py`): a quick probe at
`start_rps`, a climb by up to `factor` a step that shrinks as the latency nears its gates, a
bisection of the bracket between the last rate that held and the first that broke (narrowed at
once to what a target bound by its throughput achieved), to within 5 %. Each step is a full
open-model run of `step_s` (a ramp at SPAWN_PER_S users/s first, not judged), judged like
`octoqa load`: the gates of `slo.toml` on exact latencies from the intended start, and the
generator's own limits. The rate found is then held once more for `confirm_s` (longer: a
short step can miss a slow queue); if that breaks, the search steps down and confirms again.
A step whose generator could not keep the schedule ends the search: the limit found is the
generator's, not the API's (exit 2, suggesting `--workers N`).

Bounded: every step is made to fit the profiles file's `[limits]` (users: each offers more
than PER_USER_RPS when the cap is reached; spawn rate: a slower ramp; duration: a shorter
hold; rate: the search's maximum), the whole search by `max_time_s`; a step that cannot fit
ends the search with what held. Targets are loopback or allow-listed, as for `octoqa load`.

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
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import msgspec

from ..config import ConfigError
from ..errors import UsageError
from ..plan import PLAN_FILE, PlanOptions, RunPlan, build_plan, preflight, read_plan, write_plan
from ..plan.load_profiles import Profile, Stage, arrival_profile, users_offering
from ..rundir import point_latest_at
from ..verdicts import Verdict
from . import bottleneck, capacity_gate
from .capacity_gate import CapacitySummary, Comparison, readable
from .gates import FAIL
from .latency import RESPONSE
from .runner import DEFAULT_LOAD_DIR, LoadOptions, LoadStep, Outcome, measure
from .search import NOISE_PRESSURE, Reading, Search

#: Task runs per second each simulated user makes; more users only at higher rates. Four, not
#: one or two: a step's users each log in as they arrive, and fewer of them ramp up sooner (a
#: step at 1,000 req/s needs 250 users, not 500, the shipped user cap).
PER_USER_RPS = 4.0
#: Users a step has at least (within the cap): the mix's weights (8:1:1) need ten to be kept.
MIN_USERS = 10
#: A step's users arrive at this many per second (each logs in first), within at least a second:
#: a hundred logins in one instant would judge the login burst, not the rate. Never faster than
#: the profiles' `max_spawn_rate`: the ramp is slower instead.
SPAWN_PER_S = 100.0
MIN_RAMP_S = 1.0
#: What a step costs beyond its ramp and hold, for the time budget: Locust's start-up (about
#: 0.8 s), its last stats tick and reports as it quits (1.5 s), reading them back (0.4 s),
#: measured on this project's 2-core machines, with room for a busy one.
STEP_OVERHEAD_S = 4.0
#: A knee: the p99 has grown past this multiple of the lightest step's.
KNEE_FACTOR = 2.0
#: The steps whose concurrency is read for the bottleneck: those the generator kept up with.
JUDGED = (Verdict.PASS, Verdict.FAIL)
#: Stop bisecting when the bracket is this narrow, relative to the rate that held.
BRACKET_RESOLUTION = 0.05
#: A failed confirmation steps down by this much and confirms again, at most CONFIRM_TRIES times.
CONFIRM_STEP_DOWN = 0.05
CONFIRM_TRIES = 3


@dataclass(frozen=True)
class CapacityOptions:
    target: str | None = None
    start_rps: float = 50.0
    max_rps: float | None = None  # default: the profiles file's max_rate_rps
    #: The climb's largest step (far from every gate); it shrinks near them.
    factor: float = 2.0
    #: Each exploratory step's hold; `confirm_s` the confirmation's at the rate found (0: none).
    step_s: float = 4.0
    confirm_s: float = 10.0
    #: Bisection steps at most, once a step broke (the bracket is narrowed to 5 % anyway).
    refine: int = 4
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


def users_for(rate_rps: float, max_users: int) -> tuple[int, float]:
    """(users, per-user rate) offering `rate_rps`: PER_USER_RPS task runs/s each, at least
    MIN_USERS and at most `max_users` (each then offers more).

    The profile counts its users back with `users_offering`, which gives `users` again."""
    wanted = max(MIN_USERS, users_offering(rate_rps, PER_USER_RPS))
    users = min(max_users, wanted)
    return users, rate_rps / users


def ramp_for(users: int, max_spawn_rate: float) -> float:
    """Seconds over which `users` arrive: SPAWN_PER_S a second, slower where the profiles'
    `max_spawn_rate` is lower, and at least MIN_RAMP_S; whole seconds (Locust dispatches a
    second's users at once, and its shape moves on only on a whole second), rounded up so that
    the spawn rate the profile computes back stays within the limit."""
    seconds = max(MIN_RAMP_S, users / min(SPAWN_PER_S, max_spawn_rate))
    return float(math.ceil(seconds - 1e-9))


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
    if not (options.confirm_s == 0 or 1 <= options.confirm_s <= 3600):
        raise UsageError("--confirm-s must be 0 (no confirmation) or from 1 to 3600")
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
    search = Search(options.start_rps, options.factor, maximum, BRACKET_RESOLUTION, options.refine)
    unmeasured: str | None = None
    with preflight(plan) as opened:
        write_plan(opened.plan, options.plan)
        capacity_dir.mkdir(parents=True, exist_ok=True)
        if options.report_dir is None and options.plan is None:
            point_latest_at(run_dir)
        result.target = opened.plan.target.label
        confirm = f", {options.confirm_s:g} s to confirm" if options.confirm_s else ""
        print(
            f"octoqa capacity: the scenario mix from {options.start_rps:g} up to {maximum:g} "
            f"req/s, {options.step_s:g} s a step{confirm}, against {opened.url}; reports in "
            f"{capacity_dir}",
            file=out,
            flush=True,
        )
        if baseline is not None:
            print(_baseline_line(*baseline), file=out, flush=True)
        steps = _Steps(opened.plan, options, result, out, time.monotonic() + options.max_time_s)
        _explore(steps, search, result)
        if result.limit == "api" and search.held is not None and options.confirm_s:
            _confirm_found(steps, search, result)
        previous = baseline[1].capacity_rps if baseline is not None else None
        if (
            previous is not None
            and result.limit not in capacity_gate.UNFOUND
            and capacity_gate.step_near(result.steps, previous) is None
        ):
            unmeasured = _measure_previous(steps, search, round(previous, 1), maximum)
    result.capacity_rps = search.held
    result.knee_rps = knee(result.steps)
    result.verdict, result.exit_code = _verdict(result, search.broke, options.workers)
    result.bottleneck = bottleneck.name_bottleneck(result.steps, run_dir, JUDGED)
    result.verdict = "; ".join([result.verdict, *result.bottleneck["findings"]])
    _print_bottleneck(out, result.bottleneck)
    if baseline is not None:
        _judge_gate(result, *baseline, plan.load.slo.baseline.capacity_tolerance, unmeasured)
    (capacity_dir / "summary.json").write_text(
        json.dumps(result.as_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return result


@dataclass
class _Steps:
    """Runs the search's steps: each a Locust run of its own plan and folder, within the time
    budget and the profiles' [limits], added to the result and printed as it ends."""

    plan: RunPlan
    options: CapacityOptions
    result: CapacityResult
    out: TextIO
    deadline: float

    def run(self, rate: float, hold_s: float, folder: str = "step") -> tuple[Step, Reading] | str:
        """One step at `rate`, held `hold_s`; or why it could not run: OUT_OF_TIME, or the
        limits' refusal in their own words."""
        assert self.plan.load is not None and self.result.directory is not None
        limits = self.plan.load.limits
        ramp_s = ramp_for(users_for(rate, limits.max_users)[0], limits.max_spawn_rate)
        if time.monotonic() + ramp_s + hold_s + STEP_OVERHEAD_S > self.deadline:
            return OUT_OF_TIME
        try:
            step_plan = _step_plan(self.plan, self.options, rate, hold_s)
        except ConfigError as refused:  # what held so far is still the answer
            return f"{rate:g} req/s: {refused}"
        step_dir = self.result.directory / f"{folder}-{rate:g}"
        step_dir.mkdir(parents=True, exist_ok=True)
        plan_file = write_plan(step_plan, step_dir / PLAN_FILE)
        locustfile = self.options.load_dir / "locustfile.py"
        load_step = LoadStep(step_plan, step_dir, plan_file, locustfile)
        outcome = measure(load_step)
        step = _step(rate, load_step.profile.peak_users, outcome, step_dir, self.plan.reports)
        self.result.steps.append(step)
        _print_step(self.out, step)
        return step, _reading(step, outcome, hold_s)


DOUBT = (
    "a break with no sign of saturation (its offer served, no queue, every gate within "
    f"{NOISE_PRESSURE:g}× its limit)"
)
#: The search's ceiling check (search.py), and what a check that held says.
CEILING_CHECK = "the bracket's top was read from what a broken step served, not measured"
COLLAPSED = (
    "it held more than the broken step served (a target that collapses when overloaded): "
    "bisecting again"
)


def _explore(steps: _Steps, search: Search, result: CapacityResult) -> None:
    """The climb (or the steps down from a first step that broke) and the bisection, as
    `search` chooses their rates, with short holds."""
    again = False
    while (rate := search.next_rate()) is not None:
        if not again and search.stepping_down:
            print(
                f"  no rate held yet: stepping down to {rate:g} req/s", file=steps.out, flush=True
            )
        checking = search.checking_ceiling
        if checking:
            print(f"  {CEILING_CHECK}: measuring {rate:g} req/s", file=steps.out, flush=True)
        ran = steps.run(rate, steps.options.step_s, folder="again" if again else "step")
        if isinstance(ran, str):
            _stopped(result, ran)
            return
        step, reading = ran
        if step.verdict in (Verdict.INVALID, Verdict.ERROR):
            result.limit = "generator" if step.verdict == Verdict.INVALID else "error"
            return
        again = not search.record(reading)
        if again:
            print(f"  {DOUBT}: measuring {rate:g} req/s again", file=steps.out, flush=True)
            continue
        _note_broken(result, step)
        if checking and reading.held:
            print(f"  {COLLAPSED}, up to {search.ceiling:g} req/s", file=steps.out, flush=True)
        if not reading.held:
            result.limit = "api"
    if result.limit == "none":
        result.limit = "max-rate"


def _confirm_found(steps: _Steps, search: Search, result: CapacityResult) -> None:
    """Hold the rate found for `confirm_s`: a short step can pass over a queue that builds
    slowly. A break steps down by CONFIRM_STEP_DOWN and confirms again; when every try broke,
    the capacity is the highest rate below them that held a (shorter) step."""
    assert search.held is not None
    rate = search.held
    for _ in range(CONFIRM_TRIES):
        hold_s = steps.options.confirm_s
        print(f"  confirming {rate:g} req/s for {hold_s:g} s", file=steps.out, flush=True)
        ran = steps.run(rate, hold_s, folder="confirm")
        if isinstance(ran, str):
            return  # out of time, or the limits: the exploratory figure stands
        step, _ = ran
        _note_broken(result, step)
        if step.verdict == Verdict.PASS:
            search.held = rate
            return
        search.broke = min(search.broke or rate, rate)
        search.held = _held_below(result.steps, rate)
        if step.verdict != Verdict.FAIL:
            result.limit = "generator" if step.verdict == Verdict.INVALID else "error"
            return
        rate = round(rate * (1 - CONFIRM_STEP_DOWN), 1)
        if search.held is not None and rate <= search.held:
            return  # stepped down to a rate that already held


def _held_below(steps: list[Step], rate: float) -> float | None:
    return max((s.rate_rps for s in steps if s.verdict == Verdict.PASS and s.rate_rps < rate),
               default=None)  # fmt: skip


def _measure_previous(steps: _Steps, search: Search, rate: float, maximum: float) -> str | None:
    """One more step, at the baseline's capacity ("latency at the previous capacity" needs
    one), within the search's bounds; or why it cannot run."""
    if rate > maximum:
        return f"above the highest rate allowed here, {maximum:g} req/s"
    print(f"  confirming at the baseline's capacity, {rate:g} req/s", file=steps.out)
    ran = steps.run(rate, steps.options.step_s)
    if isinstance(ran, str):
        if ran == OUT_OF_TIME:
            return "the time budget ended first"
        return f"the profiles' [limits] refuse a step at {ran}"
    step, _ = ran
    if (search.held or 0) < rate < (search.broke or math.inf):  # a bisection step after all
        _note_broken(steps.result, step)
        if step.verdict == Verdict.PASS:
            search.held = rate
        elif step.verdict == Verdict.FAIL:
            search.broke = rate
    return None


#: A latency whose p50 over the hold's last seconds is this many times its first seconds', and
#: at least QUEUE_MS more (half the tightest p50 gate shipped: a busy machine's stall moves a
#: second's p50 by tens of ms), was queueing: the rate is at the target's edge.
QUEUE_GROWTH = 2.0
QUEUE_MS = 50.0


def _reading(step: Step, outcome: Outcome, hold_s: float) -> Reading:
    """What the search reads of a step: how near its latency came to the gates, what it
    served, and whether a queue was building through the hold."""
    pressures = [
        gate.measured / gate.limit
        for gate in outcome.gates
        if gate.metric.endswith("_ms")
        and gate.source == "slo"
        and gate.verdict != Verdict.SKIP
        and gate.measured is not None
        and gate.limit > 0
    ]
    return Reading(
        rate_rps=step.rate_rps,
        held=step.verdict == Verdict.PASS,
        pressure=max(pressures, default=0.0),
        achieved_rps=step.achieved_rps,
        queue_growing=queue_growing(outcome.timing.timeline, hold_s),
        hold_s=hold_s,
    )


def queue_growing(timeline: list[dict[str, Any]], hold_s: float) -> bool:
    """Whether the p50 rose through the hold (its last whole seconds of the timeline): the
    first half's median p50 against the second half's."""
    seconds = [row for row in timeline if row.get("count", 0) >= 5][-math.ceil(hold_s) :]
    if len(seconds) < 4:
        return False
    p50 = [float(row.get("p50_ms") or 0.0) for row in seconds]
    half = len(p50) // 2
    first, last = statistics.median(p50[:half]), statistics.median(p50[half:])
    return last >= QUEUE_GROWTH * first and last - first >= QUEUE_MS


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


def _first_break_above(steps: list[Step], held: float | None) -> tuple[str, float] | None:
    """The gate that broke at the lowest rate above the one that held, and that rate. Not
    `broke_at`: a break that was measured again and held (search.py: no sign of saturation) is
    still where that gate first broke, but the verdict must not say a rate holds and breaks."""
    breaks = [
        (gate, step.rate_rps)
        for step in steps
        if step.verdict == Verdict.FAIL and (held is None or step.rate_rps > held)
        for gate in step.failed_gates
    ]
    return min(breaks, key=lambda item: item[1], default=None)


def _apart(held: float | None, broke: float) -> tuple[str, str]:
    """The two rates as the verdict says them: readable, or to a decimal where rounding would
    make them one (holds 134.1, breaks at 134.5; not holds 134, breaks at 134)."""
    if held is not None and readable(held) == readable(broke):
        return (f"{held:,.1f}", f"{broke:,.1f}")
    return (readable(held) if held is not None else "", readable(broke))


def _note_broken(result: CapacityResult, step: Step) -> None:
    """Where each gate broke first: the lowest rate of the search that broke it."""
    for gate in step.failed_gates:
        result.broke_at[gate] = min(step.rate_rps, result.broke_at.get(gate, step.rate_rps))


def _baseline_line(file: Path, baseline: CapacitySummary) -> str:
    held = baseline.capacity_rps
    capacity = f"{held:,.0f} req/s" if held is not None else "no rate held"
    target = f", target {baseline.target}" if baseline.target else ""
    return f"baseline: {file} ({capacity}{target})"


def _step_plan(
    plan: RunPlan, options: CapacityOptions, rate: float, hold_s: float | None = None
) -> RunPlan:
    """The run plan of one step: the search's plan, playing an arrival profile at `rate` held
    `hold_s` (default: `step_s`), made to fit the profiles' [limits]: the users within
    max_users (`users_for`), their ramp within max_spawn_rate (`ramp_for`), the hold shortened
    to fit max_duration_s. A step that still cannot fit is refused (ConfigError)."""
    assert plan.load is not None
    limits = plan.load.limits
    users, per_user = users_for(rate, limits.max_users)
    ramp_s = ramp_for(users, limits.max_spawn_rate)
    hold = float(options.step_s if hold_s is None else hold_s)
    if ramp_s + hold > limits.max_duration_s:
        hold = max(1.0, math.floor((limits.max_duration_s - ramp_s) * 10) / 10)
    profile = arrival_profile(
        f"capacity-{rate:g}",
        rate_rps=rate,
        per_user_rps=per_user,
        ramp_s=ramp_s,
        hold_s=hold,
        limits=limits,
        description=f"octoqa capacity step at {rate:g} req/s",
    )
    load = msgspec.structs.replace(
        plan.load,
        profile=_judged_after_the_ramp(profile, ramp_s),
        run_time_s=profile.duration_s,
        capacity_step_rps=rate,
    )
    return msgspec.structs.replace(plan, load=load)


def _judged_after_the_ramp(profile: Profile, ramp_s: float) -> Profile:
    """The step's one stage split at the end of its ramp, the same users on both sides.

    Locust spawns a second's users at once and resets its statistics (and the recorder its
    histograms) as soon as they are dispatched, before their logins are answered: the whole
    ramp's login burst was judged, and at the edge of a target's capacity it broke the login
    gate first (109 logins in a 5 s step at 296 req/s, 74 of them the burst). The second stage
    asks Locust for the same users at another spawn rate: it dispatches none, and resets again,
    a second after the last of them arrived. The hold is then judged, and only the hold."""
    (stage,) = profile.stages
    return replace(
        profile,
        stages=(
            Stage(ramp_s, stage.users, stage.spawn_rate),
            Stage(stage.until_s, stage.users, stage.spawn_rate / 2),
        ),
    )


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
    holds = f"holds {readable(held)} req/s of the scenario mix within SLOs" if held else ""
    if result.limit == "generator":
        rate = result.steps[-1].rate_rps
        prefix = f"{holds}; " if holds else ""
        return (
            f"{prefix}the load generator, not the API, set the limit at {readable(rate)} req/s: "
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
        gate, rate = _first_break_above(result.steps, held) or ("an SLO", broke)
        held_said, broke_said = _apart(held, rate)
        which = f"{gate} breaks first, at {broke_said} req/s"
        if not held:
            return (f"holds no rate tried within SLOs: {which}", 1)
        return (f"holds {held_said} req/s of the scenario mix within SLOs; {which}", 0)
    if result.limit == "max-rate" and held:
        return (f"holds at least {readable(held)} req/s within SLOs (the highest rate tried)", 0)
    if held:
        return (f"{holds} (the time budget ended the search before an SLO broke)", 0)
    return ("no step finished within the time budget: no capacity found", 2)

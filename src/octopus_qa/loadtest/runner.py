"""`octoqa load`: check the target, log in once, run Locust in a subprocess, judge the run.

In order, and nothing is sent to a target before the checks that guard it:
1. read the profile, the SLOs and the allow-list (a bad or unbounded one is exit 2);
2. refuse a target that is neither loopback nor allow-listed (exit 2, before any traffic);
3. start the embedded sandbox when no target is named, and log in once as a preflight
   (unreachable, wrong credentials, not the API: one line, exit 2);
4. run `load/locustfile.py` with Locust headless (`--processes N` for `--workers N`), its CSV,
   stats history and HTML in `<run>/load/`, stopped if it overruns its hard time limit;
5. read back the judgement Locust reached as it quit (the locustfile judges every run against
   the SLOs and a baseline, plain Locust's too: `verdict.py`), print the gates, write
   summary.json. Nothing is judged twice: without Locust's judgement the run is an error.
   The gates judge exact latencies (HDR histograms, `recorder.py`, from the intended start in
   the open model); a generator that could not keep its schedule makes the run invalid (exit 2).

Locust runs in its own process: it monkey-patches the standard library with gevent on import.
Credentials reach it through the environment, never its command line.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
import msgspec

from .. import config
from ..bundled import load_dir
from ..durations import parse_duration
from ..errors import OctoqaError, UsageError
from ..plan.generator import GENERATOR_FILE, GeneratorLimits, load_generator_limits
from ..plan.hosts import check_target_allowed, load_allowed_hosts
from ..plan.load_profiles import Profile, ProfileBook, load_profiles
from ..plan.preflight import target_url
from ..plan.slo import ServiceLevels
from ..report.summaries import EndpointResult, GateResult, LoadSummary, utc_started
from ..rundir import new_run_dir, point_latest_at
from ..seeds import choose_seed
from ..supervisor import run_bounded
from ..target import EMBEDDED, resolve_target
from ..target.credentials import Credentials
from ..target.session import login
from .gates import FAIL, Gate
from .latency import PERCENTILES, RESPONSE
from .results import Measurements, read_facts, read_measurements
from .summary import gates_table, write_gates_junit, write_summary
from .timing import TIMING_FILE, Timing, endpoint_report, read_timing
from .verdict import Judge, Judgement

#: `load/`, shipped with the package: the locustfile and its data files.
DEFAULT_LOAD_DIR = load_dir()
#: Time Locust may take to start (workers connecting) and to stop (final stats, reports).
STARTUP_GRACE_S = 30.0
SHUTDOWN_GRACE_S = 30.0
#: After SIGTERM, how long Locust gets to write its reports before it is killed.
TERMINATE_WAIT_S = 15.0
CSV_NAME = "locust"
#: The names the data files have inside a load directory, where they differ from a config dir's.
LOAD_DIR_NAMES = {"load-profiles.toml": "profiles.toml"}


class LoadRunFailed(OctoqaError):
    """Locust itself failed or overran: the run measured nothing trustworthy (exit code 2)."""


class GeneratorSaturated(OctoqaError):
    """The load generator could not keep its schedule: the run measured it, not the API."""


def saturation_message(problems: list[str], workers: int) -> str:
    """The one line that says a run is invalid, and what to try instead."""
    more = max(2, workers * 2)
    return (
        f"the load generator, not the API, was measured ({'; '.join(problems)}); "
        f"the run is invalid: rerun with --workers {more}"
    )


@dataclass(frozen=True)
class LoadOptions:
    target: str | None = None
    profile: str = "smoke"
    #: Seeds the scenarios' random choices; None: a fresh one (printed and recorded either way).
    seed: int | None = None
    run_time: str | None = None
    workers: int = 0
    report_dir: Path | None = None
    baseline: Path | None = None
    allow_any_host: bool = False
    load_dir: Path = DEFAULT_LOAD_DIR
    #: Another load profiles file than the one in force (`octoqa capacity` writes its steps).
    profiles_file: Path | None = None
    #: Judge only what follows the ramp (Locust's --reset-stats; the recorder resets too).
    reset_after_ramp: bool = False

    @property
    def locustfile(self) -> Path:
        return self.load_dir / "locustfile.py"

    def data_file(self, name: str) -> Path:
        """A data file of the run, by its name in a config directory (`load-profiles.toml`, ...).

        With the shipped `load/`, the user's configuration decides (`octopus_qa.config`: their copy
        if they have one); a `--load-dir` of their own carries its data files beside its locustfile.
        """
        if name == "load-profiles.toml" and self.profiles_file is not None:
            return self.profiles_file
        if self.load_dir == DEFAULT_LOAD_DIR:
            return config.path(name)
        return self.load_dir / LOAD_DIR_NAMES.get(name, name)


@dataclass(frozen=True)
class Plan:
    """Everything decided before any traffic: what to run, how long, judged by what."""

    profile: Profile
    run_time_s: float
    judge: Judge  # read here only to refuse a bad SLO or baseline file before any traffic
    allowed_hosts: frozenset[str]
    generator: GeneratorLimits
    seed: int

    @property
    def levels(self) -> ServiceLevels:
        return self.judge.levels


def duration_option(option: str, text: str) -> float:
    """Seconds from a duration option ("90", "90s", "15m", "1h"); a UsageError names the option."""
    try:
        return parse_duration(text, bare_unit="s")
    except ValueError as error:
        raise UsageError(f"{option} {error}") from None


def plan_run(options: LoadOptions) -> Plan:
    """Read and check the configuration; any problem is a UsageError before anything runs."""
    if not options.locustfile.is_file():
        raise UsageError(f"no locustfile at {options.locustfile}")
    book: ProfileBook = load_profiles(options.data_file("load-profiles.toml"))
    profile = book.get(options.profile)
    if not 0 <= options.workers <= book.limits.max_workers:
        raise UsageError(f"--workers must be from 0 to {book.limits.max_workers}")
    run_time_s = profile.duration_s
    if options.run_time is not None:
        run_time_s = duration_option("--run-time", options.run_time)
        if not 0 < run_time_s <= book.limits.max_duration_s:
            raise UsageError(
                f"--run-time must be more than 0 and at most {book.limits.max_duration_s:g} s"
            )
        run_time_s = min(run_time_s, profile.duration_s)
    return Plan(
        profile=profile,
        run_time_s=run_time_s,
        # Overrides in slo.toml name the load profiles in force; a capacity search plays
        # profiles of its own (profiles_file), which they need not name.
        judge=Judge.from_files(
            options.data_file("slo.toml"),
            profile.name,
            options.baseline,
            book.profiles if options.profiles_file is None else None,
        ),
        allowed_hosts=load_allowed_hosts(options.data_file("allowed-hosts.toml")),
        generator=load_generator_limits(options.data_file(GENERATOR_FILE)),
        seed=choose_seed(options.seed),
    )


def run_load(options: LoadOptions, out: TextIO = sys.stdout) -> int:
    """The whole `octoqa load`; returns 0 when every gate holds, 1 when one fails."""
    plan = plan_run(options)
    resolved = resolve_target(options.target)
    if resolved != EMBEDDED:
        check_target_allowed(resolved, plan.allowed_hosts, options.allow_any_host)
    if options.report_dir is not None:
        run_dir = options.report_dir
    else:
        run_dir = new_run_dir()
        point_latest_at(run_dir)
    load_dir = run_dir / "load"
    load_dir.mkdir(parents=True, exist_ok=True)
    with target_url(options.target) as url:
        check_target_allowed(url, plan.allowed_hosts, options.allow_any_host)
        login(url, Credentials.from_env())  # preflight: a dead target fails here, in one line
        print(_announce(plan, options, url, load_dir), file=out, flush=True)
        outcome = measure(options, plan, url, load_dir)
    lost = outcome.summary.get("target_lost")
    if lost is not None:
        print(lost["message"], file=out)
    report(out, outcome, load_dir / "summary.json", plan.levels)
    if outcome.problem:
        raise LoadRunFailed(f"{outcome.problem} (see {load_dir / 'locust.log'})")
    if outcome.saturated:
        raise GeneratorSaturated(saturation_message(outcome.saturated, options.workers))
    return 1 if outcome.verdict == "fail" else 0


@dataclass(frozen=True)
class Outcome:
    """One Locust run, judged: what `octoqa load` reports and `octoqa capacity` steps on."""

    verdict: str  # pass | fail | invalid (the generator was measured) | error (Locust failed)
    gates: list[Gate]
    measurements: Measurements
    facts: dict[str, Any]
    timing: Timing
    saturated: list[str]
    problem: str | None
    summary: dict[str, Any]


def measure(options: LoadOptions, plan: Plan, url: str, load_dir: Path) -> Outcome:
    """Run Locust once against `url` (already checked and logged into), read back its
    judgement and its timing, and write `load_dir/summary.json`."""
    started = datetime.now(UTC)
    clock = time.monotonic()
    exit_code = run_locust(locust_command(options, plan, url, load_dir), plan, load_dir)
    duration_s = time.monotonic() - clock
    facts = read_facts(load_dir / "facts.json")
    judgement = Judgement.from_facts(facts)
    problem = locust_problem(exit_code, judgement, plan)
    # Locust's own (rounded) numbers and the run over time; the summary puts the exact
    # percentiles of the timing file over them, the same histograms the judgement used.
    timing = read_timing(load_dir / TIMING_FILE)
    measured = read_measurements(load_dir / CSV_NAME, timing.rule_violations)
    lost = target_lost(url, measured)
    gates = judgement.gates if judgement is not None else []
    saturated = [] if problem else timing.problems(plan.generator)
    if problem or judgement is None:
        verdict = "error"
    elif saturated:
        verdict = "invalid"
    else:
        # A target that went away fails the run whatever the gates made of the rest (exit 1).
        verdict = "fail" if lost is not None else judgement.verdict
    summary = build_summary(
        options, plan, url, started, duration_s, gates, measured, facts, verdict, timing
    )
    summary.generator["problems"] = saturated
    summary.aborted = timing.aborted
    if timing.target_silent is not None:
        lost = stopped_early(lost, timing.target_silent, measured.no_answer)
    summary.target_lost = lost
    write_summary(load_dir, summary)
    write_gates_junit(load_dir, gates, problem)
    return Outcome(
        verdict, gates, measured, facts, timing, saturated, problem, msgspec.to_builtins(summary)
    )


#: After a run with unanswered requests, how long the target gets to show it is still there.
PROBE_TIMEOUT_S = 5.0


def target_lost(url: str, measurements: Measurements) -> dict[str, Any] | None:
    """Whether the target went away during the run: requests got no HTTP response, and it does
    not answer now either. What was measured before stays in the summary; the gates judge it
    (its error rate fails them, exit 1) and this says why, and from when."""
    if not measurements.no_answer:
        return None
    try:
        httpx.get(url + "/", timeout=PROBE_TIMEOUT_S)
        return None  # it answers: those were failed requests of a live target, and gated as such
    except httpx.TransportError:
        pass
    first = next((row["t"] for row in measurements.history if row["failures_per_s"] > 0), None)
    when = f"about {first} s into the run" if first is not None else "during the run"
    return {
        "no_answer_requests": measurements.no_answer,
        "first_failures_at_s": first,
        "message": (
            f"the target went away {when}: {measurements.no_answer} requests got no HTTP "
            "response and it does not answer now; what was measured before that is kept"
        ),
    }


def stopped_early(
    lost: dict[str, Any] | None, silent: Mapping[str, Any], no_answer: int
) -> dict[str, Any]:
    """The target-lost finding of a run the recorder stopped once the target fell silent; also
    when it answers again by the time of the probe (a restart): the run was cut short all the
    same, and says so."""
    after, quiet = silent.get("after_s"), silent.get("silent_s")
    stopped = f"stopped {after:g} s in, after {quiet:g} s without an HTTP answer"
    if lost is None:
        return {
            "no_answer_requests": no_answer,
            "first_failures_at_s": None,
            "stopped_after_s": after,
            "message": f"the target gave no HTTP answer and the run {stopped}; it answers now",
        }
    return {**lost, "stopped_after_s": after, "message": f"{lost['message']}; the run {stopped}"}


def _announce(plan: Plan, options: LoadOptions, url: str, load_dir: Path) -> str:
    profile = plan.profile
    model = "open model" if profile.per_user_rps is not None else "closed model"
    workers = f", {options.workers} workers" if options.workers else ""
    return (
        f"octoqa load: profile {profile.name} ({model}, up to {profile.peak_users} users, "
        f"{plan.run_time_s:g} s{workers}, seed {plan.seed}) against {url}; reports in {load_dir}"
    )


def locust_command(options: LoadOptions, plan: Plan, url: str, load_dir: Path) -> list[str]:
    prefix = load_dir / CSV_NAME
    command = [
        sys.executable, "-m", "locust",
        "-f", str(options.locustfile),
        "--host", url,
        "--headless",
        "--load-profile", plan.profile.name,
        "--seed", str(plan.seed),
        "--profiles-file", str(options.data_file("load-profiles.toml")),
        "--slo-file", str(options.data_file("slo.toml")),
        "--allowed-hosts-file", str(options.data_file("allowed-hosts.toml")),
        "--run-time", f"{math.ceil(plan.run_time_s)}s",
        "--csv", str(prefix),
        "--csv-full-history",
        "--html", str(load_dir / "locust.html"),
        "--facts-file", str(load_dir / "facts.json"),
        "--timing-file", str(load_dir / TIMING_FILE),
        "--generator-file", str(options.data_file(GENERATOR_FILE)),
        "--only-summary",
        # The gates decide the exit code; a failed request alone is not Locust's failure.
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    if options.baseline is not None:
        command += ["--slo-baseline", str(options.baseline)]
    if options.allow_any_host:
        command.append("--allow-any-host")
    if options.reset_after_ramp:
        command.append("--reset-stats")
    if options.workers:
        command += ["--processes", str(options.workers)]
    return command


def hard_limit_s(plan: Plan) -> float:
    return plan.run_time_s + STARTUP_GRACE_S + SHUTDOWN_GRACE_S


def run_locust(command: list[str], plan: Plan, load_dir: Path) -> int | None:
    """Run Locust to completion under a hard deadline, its output in `locust.log`; its exit
    code, or None when it overran and was stopped (SIGTERM: it still writes its reports)."""
    with (load_dir / "locust.log").open("w", encoding="utf-8") as log:
        exit_code, _, _ = run_bounded(
            command,
            hard_limit_s(plan),
            output=log,
            terminate_wait_s=TERMINATE_WAIT_S,
            # The user's configuration directory, for whatever the locustfile reads itself.
            env=config.environment(),
        )
    return exit_code


def locust_problem(exit_code: int | None, judgement: Judgement | None, plan: Plan) -> str | None:
    """What went wrong with Locust itself, or None: it ran, judged the run and exited by it."""
    if exit_code is None:
        return f"Locust overran its hard limit of {hard_limit_s(plan):g} s and was stopped"
    if judgement is None:
        return f"Locust exited with code {exit_code} without judging the run"
    if exit_code != judgement.exit_code:
        return f"Locust exited with code {exit_code}, its gates said {judgement.exit_code}"
    return None


def latency_table(measurements: Measurements, timing: Timing, clock: str) -> str:
    """Exact percentiles per endpoint (ms) of the gated clock, the other clock's p99 and
    Locust's rounded p99 beside them."""
    other = "service" if clock == RESPONSE else RESPONSE
    header = ["endpoint", "count", *(k.removesuffix("_ms") for k, _ in PERCENTILES), "max"]
    header += [f"p99 {other}", "p99 locust"]
    rows = [header]
    for key, stats in measurements.endpoints.items():
        gated, beside = timing.summary(key, clock), timing.summary(key, other)
        if gated is None:
            continue
        values = [gated.as_dict()[k] for k, _ in PERCENTILES] + [gated.max_ms]
        rows.append(
            [key, str(gated.count), *(f"{v:g}" for v in values)]
            + [f"{beside.p99_ms:g}" if beside else "-", _text(stats.p99_ms)]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    title = "from the intended start" if clock == RESPONSE else "from sending"
    return f"latency (ms, exact, {title}):\n" + "\n".join(lines)


def _text(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def build_summary(
    options: LoadOptions,
    plan: Plan,
    url: str,
    started: datetime,
    duration_s: float,
    gates: list[Gate],
    measurements: Measurements,
    facts: dict[str, Any],
    verdict: str,
    timing: Timing,
) -> LoadSummary:
    clock = plan.levels.latency_clock
    return LoadSummary(
        verdict=verdict,
        target=url,
        profile=plan.profile.name,
        seed=plan.seed,
        model="open" if plan.profile.per_user_rps is not None else "closed",
        workers=options.workers,
        workers_reported=int(facts.get("workers_reported", 0)),
        started=utc_started(started),
        duration_s=round(duration_s, 3),
        slo_version=plan.levels.version,
        gates=[msgspec.convert(gate.as_dict(), GateResult) for gate in gates],
        regressions=[
            msgspec.convert(gate.as_dict(), GateResult)
            for gate in gates
            if gate.source == "baseline" and gate.verdict == FAIL
        ],
        baseline=str(options.baseline) if options.baseline else None,
        latency_clock=clock,
        endpoints={
            key: msgspec.convert(endpoint_report(key, stats, timing, clock), EndpointResult)
            for key, stats in measurements.endpoints.items()
        },
        schedule={**timing.schedule(), "late_after_ms": timing.late_after_ms}
        if timing.model == "open"
        else None,
        generator={
            "processes": {name: h.as_dict() for name, h in timing.processes.items()},
            "limits": asdict(plan.generator),
            "problems": [],
        },
        rule_violations=dict(measurements.rule_violations),
        rate_limited=measurements.rate_limited,
        cpu_warning=bool(facts.get("cpu_warning", False)),
        history=measurements.history,
        artifacts={
            "html": "load/locust.html",
            "junit": "load/junit.xml",
            "csv_prefix": f"load/{CSV_NAME}",
            "log": "load/locust.log",
        },
    )


def report(out: TextIO, outcome: Outcome, summary_path: Path, levels: ServiceLevels) -> None:
    gates, measurements, facts = outcome.gates, outcome.measurements, outcome.facts
    timing, verdict = outcome.timing, outcome.verdict
    if timing.recorded:
        print(latency_table(measurements, timing, levels.latency_clock), file=out)
    schedule = timing.schedule()
    if timing.model == "open":
        print(
            f"schedule: {schedule['starts']} task starts; late by more than "
            f"{timing.late_after_ms:g} ms: {schedule['late_backlog']} while the user still "
            f"waited for the API, {schedule['late_wakeup']} while it was idle (the generator); "
            f"dropped: {schedule['dropped']}",
            file=out,
        )
    print(gates_table(gates), file=out)
    if timing.aborted:
        print(
            f"aborted after {timing.aborted['after_s']:g} s: "
            f"{'; '.join(timing.aborted['gates'])} "
            f"(breached for {timing.aborted['breached_for_s']:g} s)",
            file=out,
        )
    for rule, count in measurements.rule_violations.items():
        print(f"rule violated under load: [{rule}] × {count}", file=out)
    if measurements.rate_limited:
        print(f"rate limited (429, not failures): {measurements.rate_limited}", file=out)
    for name, health in timing.processes.items():
        print(
            f"generator {name}: CPU {health.cpu_mean:.0f} % mean, {health.cpu_max:.0f} % max; "
            f"event loop late by {health.loop_lag_p99_ms:g} ms at p99",
            file=out,
        )
    if facts.get("cpu_warning"):
        print(
            "generator starved: Locust passed ~90% CPU; the numbers measure the load "
            "generator, not the API (use --workers or a bigger machine)",
            file=out,
        )
    total = measurements.endpoints.get("total")
    requests = total.requests if total else 0
    print(f"load verdict: {verdict} ({requests} requests); summary: {summary_path}", file=out)

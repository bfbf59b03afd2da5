"""`octoqa load`: check the target, log in once, run Locust in a subprocess, judge the run.

In order, and nothing is sent to a target before the checks that guard it:
1. decide the run once (`octopus_qa.plan`): the profile, the SLOs, the baseline and the allow-list
   are read and checked (a bad or unbounded one is exit 2), or read from `octoqa run`'s plan;
2. the preflight (`plan.preflight`): the embedded sandbox when no target is named, a target that
   is neither loopback nor allow-listed refused, one login (unreachable, wrong credentials, not
   the API: one line, exit 2);
3. run `load/locustfile.py` with Locust headless (`--processes N` for `--workers N`; with
   `--master-bind-host`, Locust's `--master` waiting for N workers on other machines), handed the
   opened plan (`--plan`), its CSV, stats history and HTML in `<run>/load/`, stopped if it
   overruns its hard time limit;
4. read back the judgement Locust reached as it quit (the locustfile judges every run against
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

from .. import __version__
from ..bundled import load_dir
from ..errors import OctoqaError, UsageError
from ..plan import (
    LoadPlan,
    PlanOptions,
    RunPlan,
    build_plan,
    duration_option,
    preflight,
    read_plan,
    write_plan,
)
from ..plan.generator import GENERATOR_FILE
from ..plan.load_profiles import Profile
from ..plan.slo import ServiceLevels
from ..report.har import write_har
from ..report.redact import redact_text
from ..report.summaries import EndpointResult, GateResult, LoadSummary, utc_started
from ..rundir import point_latest_at
from ..supervisor import run_bounded
from ..target import free_port
from ..target.credentials import Credentials
from ..verdicts import Verdict
from .bottleneck import analyse_run
from .gates import FAIL, Gate
from .latency import PERCENTILES, RESPONSE
from .results import Measurements, read_measurements
from .summary import gates_table, write_gates_junit, write_summary
from .timing import TIMING_FILE, Timing, endpoint_report, read_timing
from .verdict import Judge, Judgement, LoadFacts

#: `load/`, shipped with the package: the locustfile and its data files.
DEFAULT_LOAD_DIR = load_dir()
#: Time Locust may take to start (workers connecting) and to stop (final stats, reports).
STARTUP_GRACE_S = 30.0
SHUTDOWN_GRACE_S = 30.0
#: After SIGTERM, how long Locust gets to write its reports before it is killed.
TERMINATE_WAIT_S = 15.0
CSV_NAME = "locust"
#: The port a Locust master listens on for its workers (Locust's --master-bind-port default).
LOCUST_MASTER_PORT = 5557
#: What Locust hands back as it quits (`verdict.LoadFacts`).
FACTS_FILE = "facts.json"

__all__ = ["LoadOptions", "LoadStep", "duration_option", "measure", "plan_load", "run_load"]


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
    """`octoqa load`'s options; they become a run plan (`octopus_qa.plan`) before anything runs."""

    target: str | None = None
    profile: str = "smoke"
    #: Seeds the scenarios' random choices; None: a fresh one (printed and recorded either way).
    seed: int | None = None
    run_time: str | None = None
    workers: int = 0
    #: The workers run on other machines and connect to this address (Locust's --master).
    master_bind_host: str | None = None
    report_dir: Path | None = None
    baseline: Path | None = None
    allow_any_host: bool = False
    load_dir: Path = DEFAULT_LOAD_DIR
    #: Judge only what follows the ramp (Locust's --reset-stats; the recorder resets too).
    reset_after_ramp: bool = False
    #: A plan written by `octoqa run` (its stages read it instead of deciding the run again).
    plan: Path | None = None
    #: Serve the run's figures live to Prometheus on this port (`metrics.py`).
    metrics_port: int | None = None

    @property
    def locustfile(self) -> Path:
        return self.load_dir / "locustfile.py"

    def plan_options(self) -> PlanOptions:
        """The run these options describe. A `--load-dir` of the user's own carries its data
        files beside its locustfile; the shipped one reads the user's configuration."""
        own = self.load_dir != DEFAULT_LOAD_DIR

        def beside(name: str) -> Path | None:
            return self.load_dir / name if own and (self.load_dir / name).is_file() else None

        return PlanOptions(
            target=self.target,
            seed=self.seed,
            run_dir=self.report_dir,
            new_run_dir=True,
            load=True,
            load_profile=self.profile,
            run_time=self.run_time,
            workers=self.workers,
            master_bind_host=self.master_bind_host,
            baseline=self.baseline,
            allow_any_host=self.allow_any_host,
            reset_after_ramp=self.reset_after_ramp,
            load_profiles_file=beside("profiles.toml"),
            slo_file=beside("slo.toml"),
            allowed_hosts_file=beside("allowed-hosts.toml"),
            generator_file=beside(GENERATOR_FILE),
            metrics_port=self.metrics_port,
        )


def plan_load(options: LoadOptions) -> RunPlan:
    """The run, decided: read from `--plan`, or built from the options. A bad option, file or
    baseline is a UsageError here, before anything runs."""
    if not options.locustfile.is_file():
        raise UsageError(f"no locustfile at {options.locustfile}")
    plan = read_plan(options.plan) if options.plan else build_plan(options.plan_options())
    if plan.load is None or plan.load.profile is None or plan.load.run_time_s is None:
        raise UsageError(f"{plan.path}: the plan has no load profile to play")
    if plan.load.slo is not None:
        Judge.from_plan(plan.load)  # reads the baseline: a bad one stops the run here
    return plan


def run_load(options: LoadOptions, out: TextIO = sys.stdout) -> int:
    """The whole `octoqa load`; returns 0 when every gate holds, 1 when one fails."""
    plan = plan_load(options)
    load_dir = plan.reports / "load"
    with preflight(plan) as run:  # a dead target, a refused login: one line, exit 2
        step = LoadStep(run.plan, load_dir, write_plan(run.plan), options.locustfile)
        load_dir.mkdir(parents=True, exist_ok=True)
        if not options.plan and options.report_dir is None:
            point_latest_at(plan.reports)
        print(_announce(step), file=out, flush=True)
        if step.load.metrics_port is not None:
            print(live_metrics_line(step.load.metrics_port), file=out, flush=True)
        outcome = measure(step)
    lost = outcome.summary.get("target_lost")
    if lost is not None:
        print(lost["message"], file=out)
    report(out, outcome, load_dir / "summary.json", step.slo)
    if outcome.problem:
        raise LoadRunFailed(f"{outcome.problem} (see {load_dir / 'locust.log'})")
    if outcome.saturated:
        raise GeneratorSaturated(saturation_message(outcome.saturated, step.load.workers))
    return 1 if outcome.verdict == Verdict.FAIL else 0


@dataclass(frozen=True)
class LoadStep:
    """One Locust run of an opened plan: what `octoqa load` plays once, `octoqa capacity` at
    each step of its search. Its plan is written as `<load_dir>/plan.json` for Locust to read."""

    plan: RunPlan
    load_dir: Path
    #: Where Locust reads the plan, written: `<run>/plan.json` for `octoqa load`, beside each
    #: step's reports for a capacity search (each step plays a profile of its own).
    plan_file: Path
    locustfile: Path = DEFAULT_LOAD_DIR / "locustfile.py"

    @property
    def load(self) -> LoadPlan:
        assert self.plan.load is not None
        return self.plan.load

    @property
    def profile(self) -> Profile:
        assert self.load.profile is not None
        return self.load.profile

    @property
    def run_time_s(self) -> float:
        assert self.load.run_time_s is not None
        return self.load.run_time_s

    @property
    def slo(self) -> ServiceLevels:
        assert self.load.slo is not None, "octoqa load always plays a run with gates"
        return self.load.slo


@dataclass(frozen=True)
class Outcome:
    """One Locust run, judged: what `octoqa load` reports and `octoqa capacity` steps on."""

    verdict: str  # pass | fail | invalid (the generator was measured) | error (Locust failed)
    gates: list[Gate]
    measurements: Measurements
    facts: LoadFacts | None
    timing: Timing
    saturated: list[str]
    problem: str | None
    summary: dict[str, Any]


def measure(step: LoadStep) -> Outcome:
    """Run Locust once on the step's opened plan (its target checked and logged into), read
    back its verdict and its timing, and write `load_dir/summary.json`."""
    url, load_dir = step.plan.url, step.load_dir
    started = datetime.now(UTC)
    clock = time.monotonic()
    exit_code = start_locust(step)
    duration_s = time.monotonic() - clock
    facts = LoadFacts.read(load_dir / FACTS_FILE)
    judgement = facts.judgement if facts is not None else None
    problem = locust_problem(exit_code, judgement, step)
    # Locust's own (rounded) numbers and the run over time; the summary puts the exact
    # percentiles of the timing file over them, the same histograms the judgement used.
    timing = read_timing(load_dir / TIMING_FILE)
    measured = read_measurements(load_dir / CSV_NAME, timing.rule_violations)
    if facts is not None:  # Locust's numbers as it quit, not its CSV's last snapshot before
        measured = facts.measurements(measured.history, timing.rule_violations)
    lost = target_lost(url, measured)
    gates = judgement.gates if judgement is not None else []
    saturated = [] if problem else timing.problems(step.load.generator)
    if problem or judgement is None:
        verdict = Verdict.ERROR
    elif saturated:
        verdict = Verdict.INVALID
    else:
        # A target that went away fails the run whatever the gates made of the rest (exit 1).
        verdict = Verdict.FAIL if lost is not None else Verdict(judgement.verdict)
    summary = build_summary(step, started, duration_s, gates, measured, facts, verdict, timing)
    summary.generator["problems"] = saturated
    summary.aborted = timing.aborted
    if timing.target_silent is not None:
        lost = stopped_early(lost, timing.target_silent, measured.no_answer)
    summary.target_lost = lost
    summary.concurrency = analyse_run(load_dir, {k: e.rps for k, e in measured.endpoints.items()})
    if write_failures_har(load_dir, timing) is not None:
        summary.artifacts["failures_har"] = f"load/{FAILURES_HAR}"
    write_summary(load_dir, summary)
    write_gates_junit(load_dir, gates, problem)
    return Outcome(
        verdict, gates, measured, facts, timing, saturated, problem, msgspec.to_builtins(summary)
    )


FAILURES_HAR = "failures.har"


def write_failures_har(load_dir: Path, timing: Timing) -> Path | None:
    """The run's sample of failing requests as HAR 1.2, beside its JUnit file; tokens and the
    account's password scrubbed like every other report (report/redact.py)."""
    secrets = Credentials.from_env().secrets()
    return write_har(
        load_dir / FAILURES_HAR,
        timing.failures,
        lambda text: redact_text(text, secrets),
        __version__,
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


def _announce(step: LoadStep) -> str:
    profile, load = step.profile, step.load
    model = "open model" if profile.per_user_rps is not None else "closed model"
    workers = f", {load.workers} workers" if load.workers else ""
    if load.master_bind_host is not None:
        workers += f" to connect to {load.master_bind_host}:{LOCUST_MASTER_PORT}"
    return (
        f"octoqa load: profile {profile.name} ({model}, up to {profile.peak_users} users, "
        f"{step.run_time_s:g} s{workers}, seed {step.plan.seed}) against {step.plan.url}; "
        f"reports in {step.load_dir}"
    )


def live_metrics_line(port: int) -> str:
    """Where to point Prometheus (the master listens on every interface; this is loopback's)."""
    return (
        f"live metrics: http://127.0.0.1:{port}/metrics (Prometheus text format, every "
        "interface) while the run lasts"
    )


def locust_command(step: LoadStep) -> list[str]:
    """Locust's command line: its own options, and the plan for everything octoqa decided."""
    load_dir = step.load_dir
    command = [
        sys.executable, "-m", "locust",
        "-f", str(step.locustfile),
        "--host", step.plan.url,
        "--headless",
        "--plan", str(step.plan_file),
        "--run-time", f"{math.ceil(step.run_time_s)}s",
        "--csv", str(load_dir / CSV_NAME),
        "--csv-full-history",
        "--html", str(load_dir / "locust.html"),
        "--facts-file", str(load_dir / FACTS_FILE),
        "--timing-file", str(load_dir / TIMING_FILE),
        "--only-summary",
        # The gates decide the exit code; a failed request alone is not Locust's failure.
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    if step.load.reset_after_ramp:
        command.append("--reset-stats")
    return command + worker_options(step.load)


def worker_options(load: LoadPlan) -> list[str]:
    """Locust's workers: processes it forks here, or a master waiting (at most as long as
    Locust is given to start) for workers that other machines start with `--worker
    --master-host`."""
    if load.master_bind_host is not None:
        return [
            "--master", "--master-bind-host", load.master_bind_host,
            "--expect-workers", str(load.workers),
            "--expect-workers-max-wait", f"{STARTUP_GRACE_S:.0f}",
        ]  # fmt: skip
    if not load.workers:
        return []
    # The forked workers find their master on 127.0.0.1 at --master-port: a free port of this
    # run's own, not Locust's default 5557, so two runs on one machine never join each other's
    # workers (seen on a shared CI machine: a run merged 4 workers' figures, 2 of them not its own).
    port = str(free_port())
    return ["--processes", str(load.workers), "--master-bind-port", port, "--master-port", port]


def hard_limit_s(step: LoadStep) -> float:
    return step.run_time_s + STARTUP_GRACE_S + SHUTDOWN_GRACE_S


#: Starts of a multi-process run whose master found the free port it was given taken (another
#: process bound it between the choice and Locust's bind): each start gets a port of its own.
START_ATTEMPTS = 3
#: What Locust's master logs when its port is taken, before it exits 1: in its own line "The
#: Locust master port (…) was busy … (Socket bind failure: Address already in use)", or, when
#: pyzmq adds the address to the text (which Locust then no longer recognises), in a traceback.
MASTER_PORT_BUSY = "Socket bind failure: Address already in use"


def start_locust(step: LoadStep) -> int | None:
    """Run Locust on the step: on another free port when the master of a multi-process run
    found its port taken, at most START_ATTEMPTS starts (the last one's outcome stands)."""
    for _ in range(START_ATTEMPTS - 1):
        exit_code = run_locust(locust_command(step), step)
        if not _master_port_was_taken(step, exit_code):
            return exit_code
    return run_locust(locust_command(step), step)


def _master_port_was_taken(step: LoadStep, exit_code: int | None) -> bool:
    # Only a port of the run's own choosing is tried again: workers on other hosts
    # (--master-bind-host) connect to Locust's fixed port, and a busy one there is the user's.
    if exit_code != 1 or not step.load.workers or step.load.master_bind_host is not None:
        return False
    log = (step.load_dir / "locust.log").read_text(encoding="utf-8", errors="replace")
    return MASTER_PORT_BUSY in log


def run_locust(command: list[str], step: LoadStep) -> int | None:
    """Run Locust to completion under a hard deadline, its output in `locust.log`; its exit
    code, or None when it overran and was stopped (SIGTERM: it still writes its reports)."""
    with (step.load_dir / "locust.log").open("w", encoding="utf-8") as log:
        exit_code, _, _ = run_bounded(
            command, hard_limit_s(step), output=log, terminate_wait_s=TERMINATE_WAIT_S
        )
    return exit_code


def locust_problem(
    exit_code: int | None, judgement: Judgement | None, step: LoadStep
) -> str | None:
    """What went wrong with Locust itself, or None: it ran, judged the run and exited by it."""
    if exit_code is None:
        return f"Locust overran its hard limit of {hard_limit_s(step):g} s and was stopped"
    if judgement is None:
        problem = f"Locust exited with code {exit_code} without judging the run"
        if step.load.master_bind_host is not None:  # the likeliest cause, said in the one line
            problem += (
                f" (its {step.load.workers} workers must connect to "
                f"{step.load.master_bind_host}:{LOCUST_MASTER_PORT} within {STARTUP_GRACE_S:g} s)"
            )
        return problem
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
    step: LoadStep,
    started: datetime,
    duration_s: float,
    gates: list[Gate],
    measurements: Measurements,
    facts: LoadFacts | None,
    verdict: str,
    timing: Timing,
) -> LoadSummary:
    clock = step.slo.latency_clock
    load = step.load
    return LoadSummary(
        verdict=verdict,
        target=step.plan.url,
        profile=step.profile.name,
        seed=step.plan.seed,
        model="open" if step.profile.per_user_rps is not None else "closed",
        workers=load.workers,
        workers_reported=facts.workers_reported if facts is not None else 0,
        started=utc_started(started),
        duration_s=round(duration_s, 3),
        slo_version=step.slo.version,
        gates=[msgspec.convert(gate.as_dict(), GateResult) for gate in gates],
        regressions=[
            msgspec.convert(gate.as_dict(), GateResult)
            for gate in gates
            if gate.source == "baseline" and gate.verdict == FAIL
        ],
        baseline=load.baseline,
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
            "limits": asdict(load.generator),
            "problems": [],
        },
        rule_violations=dict(measurements.rule_violations),
        rate_limited=measurements.rate_limited,
        cpu_warning=facts.cpu_warning if facts is not None else False,
        history=measurements.history,
        timeline=timing.timeline,
        artifacts={
            "html": "load/locust.html",
            "junit": "load/junit.xml",
            "csv_prefix": f"load/{CSV_NAME}",
            "log": "load/locust.log",
            "plan": "plan.json",
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
    for finding in (outcome.summary.get("concurrency") or {}).get("findings") or []:
        print(f"bottleneck: {finding}", file=out)  # named even when every gate held
    if measurements.rate_limited:
        print(f"rate limited (429, not failures): {measurements.rate_limited}", file=out)
    for name, health in timing.processes.items():
        print(
            f"generator {name}: CPU {health.cpu_mean:.0f} % mean, {health.cpu_max:.0f} % max; "
            f"event loop late by {health.loop_lag_p99_ms:g} ms at p99",
            file=out,
        )
    if facts is not None and facts.cpu_warning:
        print(
            "generator starved: Locust passed ~90% CPU; the numbers measure the load "
            "generator, not the API (use --workers or a bigger machine)",
            file=out,
        )
    total = measurements.endpoints.get("total")
    requests = total.requests if total else 0
    print(f"load verdict: {verdict} ({requests} requests); summary: {summary_path}", file=out)

"""octoqa inside Locust: the options, the run's plan, the gates as Locust quits, the facts.

`load/locustfile.py` says who uses the API and how often; importing this module plugs the rest
into Locust through its events, for `octoqa load` and plain `locust -f load/locustfile.py`
alike:

- `--plan FILE`: the run plan `octoqa load` wrote (`octopus_qa.plan`): the profile, SLO gates,
  generator limits, allow-list and seed, decided once. Without it (plain Locust), the same plan
  is built from Locust's own options by the same function (`plan.build_plan`);
- before any traffic: an unlisted host, an unknown or unbounded profile or unreadable gates stop
  Locust with exit code 2; without a profile the shape steps aside for Locust's -u/-r/-t;
- a worker plays its master's plan, not one built from its own command line: the master puts
  its plan among the options Locust forwards to every worker with each spawn message, before
  the worker's test starts. A worker on another machine started with only `--worker
  --master-host ADDR` plays the master's profile, seed and generator limits, as a `--processes`
  worker reading the same `--plan` does;
- every process records exact latencies and its own health (`recorder.py`);
- `--metrics-port PORT`: the master (or only process) serves the run's figures live to
  Prometheus at `/metrics` (`metrics.py`);
- as Locust quits, the master judges the run by the gates, prints them, sets the exit code, and
  writes the verdict as `--facts-file` (typed: `verdict.LoadFacts`).

Importing Locust patches the standard library with gevent: only a Locust process imports this.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gevent
import msgspec
from locust import events
from locust.env import Environment
from locust.runners import STATE_INIT, MasterRunner, WorkerRunner
from locust.stats import CSV_STATS_INTERVAL_SEC

from ..errors import OctoqaError
from ..plan import PlanOptions, RunPlan, build_plan, port_option, read_plan
from ..verdicts import Verdict
from .gates import FULL_REACH, Reach
from .locust_run import LocustRun, run_of
from .metrics import serve_metrics
from .recorder import RECORDER
from .results import Measurements, measurements_from_stats
from .shapes import use_shape_if_chosen
from .timing import Timing, exact_endpoints
from .verdict import Judge, Judgement, LoadFacts

__all__ = ["PLAN_FORWARDED", "judge_exactly", "plan_from_options"]

#: The attribute of Locust's parsed options that carries the master's plan (JSON) to its workers:
#: Locust forwards a master's options that are not its own to every worker with each spawn
#: message, and the worker updates its options before it fires `test_start`.
PLAN_FORWARDED = "octoqa_plan"

Listener = TypeVar("Listener", bound=Callable[..., None])


def on(hook: Any) -> Callable[[Listener], Listener]:
    """Register a listener on one of Locust's events (whose own decorator is untyped)."""

    def register(listener: Listener) -> Listener:
        hook.add_listener(listener)
        return listener

    return register


@on(events.init_command_line_parser)
def add_options(parser: Any) -> None:
    def option(*names: str, **kwargs: Any) -> None:
        parser.add_argument(*names, include_in_web_ui=False, **kwargs)

    option(
        "--plan",
        default="",
        metavar="FILE",
        help="A run plan (plan.json) written by octoqa: "
        "profile, gates, limits and seed from it; the options below are then not read",
    )
    option(
        "--load-profile",
        default="",
        metavar="NAME",
        help="Play a load profile (smoke, ramp, step, spike, soak, arrival...) instead of -u/-r",
    )
    option(
        "--profiles-file",
        default="",
        help="Load profiles (TOML) --load-profile picks from "
        "(default: the octoqa configuration's load-profiles.toml)",
    )
    option(
        "--slo-file",
        default=None,
        help="SLO gates (TOML) that judge the run as Locust quits "
        "and set its exit code (default: the configuration's slo.toml; empty: no gates)",
    )
    option(
        "--slo-baseline",
        default="",
        metavar="SUMMARY",
        help="An earlier run's load summary.json: p95 or throughput regressions fail the run",
    )
    option("--allowed-hosts-file", default="", help="Hosts besides loopback that may receive load")
    option(
        "--allow-any-host",
        action="store_true",
        default=False,
        help="Send load to a host outside the allow-list (only to a service you own)",
    )
    option("--generator-file", default="", help="Limits the load generator itself must keep")
    option("--seed", type=int, default=None, help="Seed the scenarios' random choices")
    option(
        "--timing-file",
        default="",
        help="Write exact latency histograms and the generator's health as JSON to this path",
    )
    option("--facts-file", default="", help="Write the run's verdict and facts as JSON here")
    option(
        "--metrics-port",
        default="",
        metavar="PORT",
        help="Serve the run's figures live in Prometheus' text format at /metrics on this port "
        "(the master's, merged from its workers)",
    )


def plan_from_options(options: Any, host: str | None) -> RunPlan:
    """The run a plain Locust command line describes, built as octoqa builds every run."""

    def path(value: str | None) -> Path | None:
        return Path(value) if value else None

    return build_plan(
        PlanOptions(
            target=host or None,
            seed=options.seed,
            load=True,
            load_profile=options.load_profile or None,
            load_profiles_file=path(options.profiles_file),
            slo_file=path(options.slo_file) if options.slo_file is not None else None,
            gates=options.slo_file != "",
            allowed_hosts_file=path(options.allowed_hosts_file),
            generator_file=path(options.generator_file),
            baseline=path(options.slo_baseline),
            allow_any_host=options.allow_any_host,
            metrics_port=(
                port_option("--metrics-port", options.metrics_port)
                if options.metrics_port
                else None
            ),
        )
    )


@on(events.init)
def open_the_run(environment: Environment, **_: Any) -> None:
    """Read or build the plan once per process; refuse a bad one before any traffic (exit 2)."""
    options: Any = environment.parsed_options
    worker = isinstance(environment.runner, WorkerRunner)
    try:
        if options.plan:
            plan = read_plan(options.plan)
        else:
            plan = plan_from_options(options, environment.host)
        run = LocustRun(plan)
        if not worker and run.load.slo is not None:
            run.judge = Judge.from_plan(run.load)
    except OctoqaError as exc:
        logging.error("%s", exc)
        sys.exit(exc.exit_code)
    run.open(environment)
    if worker:
        on(environment.events.test_start)(lambda **_: play_the_masters_plan(environment))
    else:
        setattr(options, PLAN_FORWARDED, msgspec.json.encode(plan).decode())
        on(environment.events.worker_report)(
            lambda client_id, **_: run.workers_reported.add(client_id)
        )
        on(environment.events.spawning_complete)(
            lambda **_: run.note_users(_dispatched(environment))
        )
    random.seed(plan.seed)  # the users' choices; every process draws the same sequence
    use_shape_if_chosen(environment, run.load.profile)
    RECORDER.install(
        environment,
        per_user_rps=run.load.profile.per_user_rps if run.load.profile else None,
        late_after_ms=run.load.generator.late_after_ms,
        timing_file=options.timing_file,
        levels=run.load.slo,
    )


def play_the_masters_plan(environment: Environment) -> None:
    """On a worker, as its test starts: the plan its master forwarded replaces the one this
    worker built from its own options, before any user is spawned. Without it a worker on
    another machine would pace its users by its own (default) profile and seed, and the run
    the master judges would not be the one it planned."""
    forwarded = getattr(environment.parsed_options, PLAN_FORWARDED, None)
    own = run_of(environment)
    if not forwarded or own is None:
        return
    try:
        plan = msgspec.json.decode(forwarded, type=RunPlan)
    except msgspec.DecodeError as exc:
        logging.error("this worker cannot read its master's run plan (another octoqa?): %s", exc)
        if environment.runner is not None:
            gevent.spawn(environment.runner.quit)
        return
    if plan == own.plan:
        return  # a `--processes` worker: it read the master's own plan file
    run = LocustRun(plan)
    run.open(environment)
    random.seed(plan.seed)
    RECORDER.pace(
        per_user_rps=run.load.profile.per_user_rps if run.load.profile else None,
        late_after_ms=run.load.generator.late_after_ms,
    )
    logging.info(
        "playing the master's plan: profile %s, seed %d",
        run.load.profile.name if run.load.profile else "none (-u/-r/-t)",
        plan.seed,
    )


@on(events.cpu_warning)
def note_starved_generator(environment: Environment, **_: Any) -> None:
    """A generator above ~90 % CPU measured itself, not the API: the summary must say so."""
    if (run := run_of(environment)) is not None:
        run.cpu_warning = True


@on(events.init)
def serve_live_metrics(environment: Environment, **_: Any) -> None:
    """`--metrics-port`: the process that sees every worker's figures serves them until Locust
    quits (after `open_the_run`, which opened the run); a busy port is exit 2, before traffic."""
    run = run_of(environment)
    if run is None or run.load.metrics_port is None:
        return
    if isinstance(environment.runner, WorkerRunner):
        return
    try:
        serve_metrics(environment, run, RECORDER)
    except OctoqaError as exc:
        logging.error("%s", exc)
        sys.exit(exc.exit_code)


@on(events.quitting)
def judge_the_run(environment: Environment, **_: Any) -> None:
    """The SLO gates judge the run: printed, Locust's exit code, and the facts file."""
    run = run_of(environment)
    if isinstance(environment.runner, WorkerRunner) or run is None or run.judge is None:
        return
    if environment.runner is not None and environment.runner.state == STATE_INIT:
        print("load verdict: none (no test was started in this session: nothing to judge)")
        return  # a web UI opened and closed again is not a run that failed its floors
    if isinstance(environment.runner, MasterRunner):
        # The workers' last reports may still be on their way: one more tick. A single
        # process has every figure in memory now (its CSV's last snapshot may be up to a
        # second old: the facts file carries the figures as they are, for `octoqa load`).
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.25)
    run.note_users(_dispatched(environment))
    locust = measurements_from_stats(environment.stats, RECORDER.broken)
    judgement = judge_exactly(run.judge, locust, run.reach(environment.user_classes))
    total = judgement.measurements.endpoints.get("total")
    print(judgement.describe(), flush=True)
    print(
        f"load verdict: {judgement.verdict} ({total.requests if total else 0} requests; "
        f"SLO gates version {judgement.slo_version}); exit code {judgement.exit_code}",
        flush=True,
    )
    environment.process_exit_code = max(environment.process_exit_code or 0, judgement.exit_code)
    facts_file = getattr(environment.parsed_options, "facts_file", "")
    if facts_file:
        cpu_warning = _cpu_warning(run, environment)
        facts = LoadFacts.of(judgement, locust, run.load, cpu_warning, len(run.workers_reported))
        facts.write(Path(facts_file))


def _cpu_warning(run: LocustRun, environment: Environment) -> bool:
    runner = environment.runner
    return bool(
        run.cpu_warning
        or getattr(runner, "cpu_warning_emitted", False)
        or getattr(runner, "worker_cpu_warning_emitted", False)
    )


def _dispatched(environment: Environment) -> dict[str, int]:
    """How many users of each kind Locust has dispatched (on the master: over its workers)."""
    return dict(getattr(environment.runner, "target_user_classes_count", None) or {})


def judge_exactly(judge: Judge, locust: Measurements, reach: Reach = FULL_REACH) -> Judgement:
    """Locust's counts (`measurements_from_stats`) with the exact percentiles of the recorder's
    histograms (the clock slo.toml names), judged; a run the recorder stopped early on a
    sustained breach fails."""
    exact = exact_endpoints(
        locust.endpoints, Timing(book=RECORDER.book), judge.levels.latency_clock
    )
    judgement = judge.judge(dataclasses.replace(locust, endpoints=exact), reach)
    if RECORDER.aborted or RECORDER.target_silent:
        judgement = dataclasses.replace(judgement, verdict=Verdict.FAIL)
    return judgement

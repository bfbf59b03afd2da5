"""`octoqa load`: check the target, log in once, run Locust in a subprocess, judge the run.

In order, and nothing is sent to a target before the checks that guard it:
1. read the profile, the SLOs and the allow-list (a bad or unbounded one is exit 2);
2. refuse a target that is neither loopback nor allow-listed (exit 2, before any traffic);
3. start the embedded sandbox when no target is named, and log in once as a preflight
   (unreachable, wrong credentials, not the API: one line, exit 2);
4. run `load/locustfile.py` with Locust headless (`--processes N` for `--workers N`), its CSV,
   stats history and HTML in `<run>/load/`, killed if it overruns its hard time limit;
5. judge Locust's CSV against the SLOs (and a baseline), print the gates, write summary.json.

Locust runs in its own process: it monkey-patches the standard library with gevent on import.
Credentials reach it through the environment, never its command line.
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx

from ..credentials import Credentials
from ..errors import OctoqaError, UsageError
from ..rundir import new_run_dir, point_latest_at
from ..session import login
from ..target import EMBEDDED, resolve_target, target_url
from .allowlist import check_target_allowed, load_allowed_hosts
from .gates import FAIL, Gate, baseline_gates, failed, slo_gates
from .profiles import Profile, ProfileBook, load_profiles
from .results import Measurements, read_facts, read_measurements
from .slo import ServiceLevels, load_slo
from .summary import gates_table, read_baseline, write_summary

#: `load/` at the top of the checkout: the locustfile and its data files.
DEFAULT_LOAD_DIR = Path(__file__).resolve().parents[3] / "load"
#: Time Locust may take to start (workers connecting) and to stop (final stats, reports).
STARTUP_GRACE_S = 30.0
SHUTDOWN_GRACE_S = 30.0
#: After SIGTERM, how long Locust gets to write its reports before it is killed.
TERMINATE_WAIT_S = 15.0
CSV_NAME = "locust"
DURATION = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>[smh]?)$")
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


class LoadRunFailed(OctoqaError):
    """Locust itself failed or overran: the run measured nothing trustworthy (exit code 2)."""


@dataclass(frozen=True)
class LoadOptions:
    target: str | None = None
    profile: str = "smoke"
    run_time: str | None = None
    workers: int = 0
    report_dir: Path | None = None
    baseline: Path | None = None
    allow_any_host: bool = False
    load_dir: Path = DEFAULT_LOAD_DIR

    @property
    def locustfile(self) -> Path:
        return self.load_dir / "locustfile.py"


@dataclass(frozen=True)
class Plan:
    """Everything decided before any traffic: what to run, how long, judged by what."""

    profile: Profile
    run_time_s: float
    levels: ServiceLevels
    allowed_hosts: frozenset[str]
    baseline: dict[str, Any] | None


def parse_duration(text: str) -> float:
    """Seconds from "90", "90s", "15m" or "1h"."""
    match = DURATION.match(text.strip())
    if not match:
        raise UsageError(f"--run-time {text!r} is not a duration like 90, 90s, 15m or 1h")
    return float(match["number"]) * UNIT_SECONDS[match["unit"]]


def plan_run(options: LoadOptions) -> Plan:
    """Read and check the configuration; any problem is a UsageError before anything runs."""
    if not options.locustfile.is_file():
        raise UsageError(f"no locustfile at {options.locustfile}")
    book: ProfileBook = load_profiles(options.load_dir / "profiles.toml")
    profile = book.get(options.profile)
    if not 0 <= options.workers <= book.limits.max_workers:
        raise UsageError(f"--workers must be from 0 to {book.limits.max_workers}")
    run_time_s = profile.duration_s
    if options.run_time is not None:
        run_time_s = parse_duration(options.run_time)
        if not 0 < run_time_s <= book.limits.max_duration_s:
            raise UsageError(
                f"--run-time must be more than 0 and at most {book.limits.max_duration_s:g} s"
            )
        run_time_s = min(run_time_s, profile.duration_s)
    baseline = read_baseline(options.baseline, profile.name) if options.baseline else None
    return Plan(
        profile=profile,
        run_time_s=run_time_s,
        levels=load_slo(options.load_dir / "slo.toml", profile.name),
        allowed_hosts=load_allowed_hosts(options.load_dir / "allowed-hosts.toml"),
        baseline=baseline,
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
        started = datetime.now(UTC)
        clock = time.monotonic()
        problem = run_locust(locust_command(options, plan, url, load_dir), plan, load_dir)
        duration_s = time.monotonic() - clock
        measurements = read_measurements(load_dir / CSV_NAME)
        lost = target_lost(url, measurements)
    facts = read_facts(load_dir / "facts.json")
    gates = slo_gates(plan.levels, measurements.endpoints, measurements.rule_violations)
    if plan.baseline is not None:
        gates += baseline_gates(plan.levels.baseline, measurements.endpoints, plan.baseline)
    verdict = "error" if problem else ("fail" if failed(gates) or lost else "pass")
    summary = build_summary(
        options, plan, url, started, duration_s, gates, measurements, facts, verdict
    )
    summary["target_lost"] = lost
    summary_path = write_summary(load_dir, summary)
    if lost is not None:
        print(lost["message"], file=out)
    report(out, gates, measurements, facts, verdict, summary_path)
    if problem:
        raise LoadRunFailed(f"{problem} (see {load_dir / 'locust.log'})")
    return 1 if verdict == "fail" else 0


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


def _announce(plan: Plan, options: LoadOptions, url: str, load_dir: Path) -> str:
    profile = plan.profile
    model = "open model" if profile.per_user_rps is not None else "closed model"
    workers = f", {options.workers} workers" if options.workers else ""
    return (
        f"octoqa load: profile {profile.name} ({model}, up to {profile.peak_users} users, "
        f"{plan.run_time_s:g} s{workers}) against {url}; reports in {load_dir}"
    )


def locust_command(options: LoadOptions, plan: Plan, url: str, load_dir: Path) -> list[str]:
    prefix = load_dir / CSV_NAME
    command = [
        sys.executable, "-m", "locust",
        "-f", str(options.locustfile),
        "--host", url,
        "--headless",
        "--profile", plan.profile.name,
        "--profiles-file", str(options.load_dir / "profiles.toml"),
        "--allowed-hosts-file", str(options.load_dir / "allowed-hosts.toml"),
        "--run-time", f"{math.ceil(plan.run_time_s)}s",
        "--csv", str(prefix),
        "--csv-full-history",
        "--html", str(load_dir / "locust.html"),
        "--facts-file", str(load_dir / "facts.json"),
        "--only-summary",
        # The gates decide the exit code; a failed request alone is not Locust's failure.
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    if options.allow_any_host:
        command.append("--allow-any-host")
    if options.workers:
        command += ["--processes", str(options.workers)]
    return command


def run_locust(command: list[str], plan: Plan, load_dir: Path) -> str | None:
    """Run Locust to completion under a hard deadline; a description of what went wrong, or None."""
    deadline = plan.run_time_s + STARTUP_GRACE_S + SHUTDOWN_GRACE_S
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with (load_dir / "locust.log").open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,  # its own process group: workers go down with it
        )
        try:
            returncode = process.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            _stop(process)
            return f"Locust overran its hard limit of {deadline:g} s and was stopped"
    if returncode != 0:
        return f"Locust exited with code {returncode}"
    return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (Locust writes its reports), then SIGKILL to the whole group if it lingers."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=TERMINATE_WAIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


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
) -> dict[str, Any]:
    return {
        "stage": "load",
        "verdict": verdict,
        "target": url,
        "profile": plan.profile.name,
        "model": "open" if plan.profile.per_user_rps is not None else "closed",
        "workers": options.workers,
        "workers_reported": int(facts.get("workers_reported", 0)),
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(duration_s, 3),
        "slo_version": plan.levels.version,
        "gates": [gate.as_dict() for gate in gates],
        "regressions": [
            gate.as_dict() for gate in gates if gate.source == "baseline" and gate.verdict == FAIL
        ],
        "baseline": str(options.baseline) if options.baseline else None,
        "endpoints": {key: stats.as_dict() for key, stats in measurements.endpoints.items()},
        "rule_violations": dict(measurements.rule_violations),
        "rate_limited": measurements.rate_limited,
        "cpu_warning": bool(facts.get("cpu_warning", False)),
        "history": measurements.history,
        "artifacts": {
            "html": "load/locust.html",
            "csv_prefix": f"load/{CSV_NAME}",
            "log": "load/locust.log",
        },
    }


def report(
    out: TextIO,
    gates: list[Gate],
    measurements: Measurements,
    facts: dict[str, Any],
    verdict: str,
    summary_path: Path,
) -> None:
    print(gates_table(gates), file=out)
    for rule, count in measurements.rule_violations.items():
        print(f"rule violated under load: [{rule}] × {count}", file=out)
    if measurements.rate_limited:
        print(f"rate limited (429, not failures): {measurements.rate_limited}", file=out)
    if facts.get("cpu_warning"):
        print(
            "generator starved: Locust passed ~90% CPU; the numbers measure the load "
            "generator, not the API (use --workers or a bigger machine)",
            file=out,
        )
    total = measurements.endpoints.get("total")
    requests = total.requests if total else 0
    print(f"load verdict: {verdict} ({requests} requests); summary: {summary_path}", file=out)

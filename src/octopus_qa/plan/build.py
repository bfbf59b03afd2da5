"""Building a run plan from a command's options: the one place a run is decided.

`octoqa run`, `octoqa contract`, `octoqa load`, `octoqa capacity`, a plain `pytest contract_tests`
and a plain `locust -f load/locustfile.py` all come through `build_plan`: the same options mean
the same run whichever door it came in by. Every configuration file is read here, once, and a
broken one is one ConfigError line (exit 2) before anything is started or sent.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import config
from ..durations import parse_duration
from ..errors import UsageError
from ..rundir import new_run_id
from ..seeds import choose_seed
from ..target import EMBEDDED, resolve_target
from .contract_profiles import load_profile
from .generator import GENERATOR_FILE, load_generator_limits
from .hosts import HOST, check_target_allowed, load_allowed_hosts
from .load_profiles import Profile as LoadProfile
from .load_profiles import ProfileBook, load_profiles
from .run_plan import (
    ContractPlan,
    CredentialsSource,
    LoadPlan,
    RunPlan,
    TargetPlan,
)
from .slo import load_slo

__all__ = ["PlanOptions", "build_plan", "duration_option", "port_option"]


@dataclass(frozen=True)
class PlanOptions:
    """What a command's options say about a run; the configuration decides everything else."""

    target: str | None = None
    seed: int | None = None
    #: `--config DIR`; None: $OCTOQA_CONFIG, else `.octoqa/`, else the shipped defaults.
    config_dir: Path | None = None
    #: `--report-dir`; None with `new_run_dir`: a fresh `reports/<run-id>/`; None without: no
    #: run directory (a plain pytest or Locust run writes only what its own options name).
    run_dir: Path | None = None
    new_run_dir: bool = False
    reports_root: Path = Path("reports")
    #: The contract part: a profile name, or None for a run without one.
    contract_profile: str | None = None
    documented_only: bool = False
    deviations: Path | None = None
    #: The load part: whether the run has one, and the profile it plays (None: plain Locust's
    #: own -u/-r/-t decide).
    load: bool = False
    load_profile: str | None = None
    run_time: str | None = None
    workers: int = 0
    #: `octoqa load --master-bind-host`: the workers run on other machines and connect here.
    master_bind_host: str | None = None
    baseline: Path | None = None
    allow_any_host: bool = False
    reset_after_ramp: bool = False
    #: Files other than the configuration's (`octoqa capacity` plays profiles of its own; plain
    #: Locust's --profiles-file, --slo-file, --allowed-hosts-file, --generator-file).
    load_profiles_file: Path | None = None
    slo_file: Path | None = None
    allowed_hosts_file: Path | None = None
    generator_file: Path | None = None
    #: False: no gates (plain Locust's `--slo-file ""`): Locust's own exit code stands.
    gates: bool = True
    #: `--metrics-port`: serve the run's figures live for Prometheus on this port.
    metrics_port: int | None = None


def build_plan(options: PlanOptions, environ: Mapping[str, str] | None = None) -> RunPlan:
    """The run the options describe, every file read and checked; nothing started or sent."""
    environ = os.environ if environ is None else environ
    with config.using(options.config_dir):
        target = _target(options.target, environ)
        contract = _contract(options) if options.contract_profile is not None else None
        load = _load(options) if options.load else None
        if load is not None and target.url is not None:
            check_target_allowed(target.url, load.allowed_hosts, load.allow_any_host)
        config_dir = config.user_dir()
    return RunPlan(
        run_dir=str(_run_dir(options)) if options.run_dir or options.new_run_dir else None,
        seed=choose_seed(options.seed),
        target=target,
        credentials=_credentials(environ),
        config_dir=str(config_dir) if config_dir is not None else None,
        contract=contract,
        load=load,
    )


def _target(option: str | None, environ: Mapping[str, str]) -> TargetPlan:
    resolved = resolve_target(option, environ)  # a malformed URL fails here
    chosen_by = "--target" if option else "default"
    if not option and environ.get("OCTOPUS_BASE_URL"):
        chosen_by = "$OCTOPUS_BASE_URL"
    if resolved == EMBEDDED:
        return TargetPlan(kind="embedded", chosen_by=chosen_by)
    return TargetPlan(kind="url", chosen_by=chosen_by, url=resolved)


def _credentials(environ: Mapping[str, str]) -> CredentialsSource:
    given = environ.get("OCTOPUS_USERNAME") or environ.get("OCTOPUS_PASSWORD")
    return CredentialsSource("environment" if given else "demo account")


def _run_dir(options: PlanOptions) -> Path:
    """Where the run will write; made only once the preflight has opened the run (write_plan),
    so a run that never started leaves no folder behind."""
    if options.run_dir is None:
        return options.reports_root / new_run_id()
    if options.run_dir.exists() and not options.run_dir.is_dir():
        raise UsageError(f"--report-dir {options.run_dir} exists and is not a folder")
    return options.run_dir


def _contract(options: PlanOptions) -> ContractPlan:
    assert options.contract_profile is not None
    # The entries are read by the contract part, which judges them against the rules and the
    # spec; here only that the file is there.
    deviations = None
    if options.deviations is not None:
        if not options.deviations.is_file():
            raise UsageError(f"cannot read --deviations {options.deviations}: no such file")
        deviations = str(options.deviations.resolve())
    return ContractPlan(
        profile=load_profile(options.contract_profile),
        documented_only=options.documented_only,
        deviations=deviations,
    )


def _load(options: PlanOptions) -> LoadPlan:
    profiles_file = options.load_profiles_file or config.path("load-profiles.toml")
    book: ProfileBook = load_profiles(profiles_file)
    profile = book.get(options.load_profile) if options.load_profile else None
    if not 0 <= options.workers <= book.limits.max_workers:
        raise UsageError(f"--workers must be from 0 to {book.limits.max_workers}")
    _check_master_bind_host(options.master_bind_host, options.workers)
    if options.baseline is not None and not options.baseline.is_file():
        raise UsageError(f"--baseline {options.baseline}: no such file")
    slo = None
    if options.gates:
        slo = load_slo(
            options.slo_file or config.path("slo.toml"),
            profile.name if profile is not None else None,
            # Overrides in slo.toml name the load profiles in force; a capacity search plays
            # profiles of its own (load_profiles_file), which they need not name.
            book.profiles if options.load_profiles_file is None else None,
        )
    return LoadPlan(
        profile=profile,
        run_time_s=_run_time_s(options, book, profile),
        slo=slo,
        generator=load_generator_limits(options.generator_file or config.path(GENERATOR_FILE)),
        limits=book.limits,
        allowed_hosts=load_allowed_hosts(
            options.allowed_hosts_file or config.path("allowed-hosts.toml")
        ),
        allow_any_host=options.allow_any_host,
        workers=options.workers,
        master_bind_host=options.master_bind_host,
        baseline=str(options.baseline.resolve()) if options.baseline is not None else None,
        reset_after_ramp=options.reset_after_ramp,
        metrics_port=(
            None if options.metrics_port is None else _port("--metrics-port", options.metrics_port)
        ),
    )


def _check_master_bind_host(host: str | None, workers: int) -> None:
    """Workers on other machines: how many (the master waits for them) and an address to
    listen on, one Locust accepts."""
    if host is None:
        return
    if workers < 1:
        raise UsageError("--master-bind-host needs --workers N: how many workers will connect")
    if host != "*" and not HOST.match(host):
        raise UsageError(f"--master-bind-host {host!r} is not an address (an IP, a name or *)")


def port_option(option: str, text: str) -> int:
    """A port number from an option's text; a UsageError names the option."""
    try:
        return _port(option, int(text))
    except ValueError:
        raise UsageError(f"{option} must be a port number, got {text!r}") from None


def _port(option: str, port: int) -> int:
    """A port a server can listen on and a scraper can be told (0, any free port, cannot)."""
    if not 1 <= port <= 65535:
        raise UsageError(f"{option} must be a port from 1 to 65535, got {port}")
    return port


def _run_time_s(
    options: PlanOptions, book: ProfileBook, profile: LoadProfile | None
) -> float | None:
    """`--run-time`, bounded by the limits and by the profile's own duration."""
    run_time_s = profile.duration_s if profile is not None else None
    if options.run_time is not None:
        asked = duration_option("--run-time", options.run_time)
        if not 0 < asked <= book.limits.max_duration_s:
            raise UsageError(
                f"--run-time must be more than 0 and at most {book.limits.max_duration_s:g} s"
            )
        run_time_s = asked if run_time_s is None else min(asked, run_time_s)
    return run_time_s


def duration_option(option: str, text: str) -> float:
    """Seconds from a duration option ("90", "90s", "15m", "1h"); a UsageError names the option."""
    try:
        return parse_duration(text, bare_unit="s")
    except ValueError as error:
        raise UsageError(f"{option} {error}") from None

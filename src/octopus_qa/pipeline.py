"""`octoqa run`: the spec checks, the contract suite, a load run and the report, in one run folder.

One target for every stage: the named URL, or ONE embedded sandbox started here for the whole run,
whose URL each stage gets as `--target`. The contract and load stages run as `octoqa contract` /
`octoqa load` subprocesses (one code path with the commands a user types, and Locust's gevent
patching stays out of this process); their verdicts are read from the exit code and the
`summary.json` each writes. Nothing a stage fails to report becomes a pass: a stage that crashed,
timed out or wrote no summary is an "error", one that could not start is "not run".

Exit codes: 0 every stage held, 1 a contract rule or a load gate failed, 2 a stage could not run
(usage, configuration or target), with the stage and the reason in one line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from .credentials import Credentials
from .deviations import load_deviations
from .errors import UsageError
from .junit import Case, write_junit
from .report import EXIT_CODES, read_stage_summary, worst_verdict
from .report import write_report as write_run_report
from .report.redact import leaks, redact_text
from .rundir import REPORTS_ROOT, new_run_dir, point_latest_at
from .seeds import choose_seed
from .session import login
from .spec import SPEC_PATH, load_spec, spec_version
from .summaries import (
    ContractSummary,
    LoadSummary,
    SpecCheck,
    SpecSummary,
    StageSummary,
    utc_started,
    write_summary,
)
from .target import EMBEDDED, resolve_target, target_url

STAGES = ("spec", "contract", "load", "report")
#: How octoqa (and argparse) start the one line they print for exit code 2.
ERROR_PREFIX = re.compile(r"^octoqa(?: \w+)?: error: ")
#: Where `npm ci --prefix openapi` installs the pinned linter in a checkout.
PINNED_LINTER = SPEC_PATH.parent / "node_modules" / ".bin" / "redocly"
LINT_CONFIG = SPEC_PATH.parent / "redocly.yaml"
#: Why a run without the linter skipped it: pip cannot install a node tool.
NO_LINTER = (
    "Redocly CLI is not installed (from a checkout: `npm ci --prefix openapi`; "
    "elsewhere: `npm install -g @redocly/cli`)"
)
#: The linter must not phone home or nag from a CI job (no network here anyway: it would wait).
LINT_ENV = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}


# --- Configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    name: str
    contract: str
    load: str
    contract_timeout_s: float
    load_timeout_s: float
    #: A fixed seed (pull requests: stable), or None: a fresh one every run (explore).
    seed: int | None = None


@dataclass(frozen=True)
class PipelineConfig:
    """`pipeline.toml`, parsed: the profiles, the stage command lines, and report settings."""

    profiles: Mapping[str, Profile]
    commands: Mapping[str, Sequence[str]]
    default_profile: str = "pr"
    lint_timeout_s: float = 120.0
    trend_runs: int = 10

    @classmethod
    def from_toml(cls, text: str) -> PipelineConfig:
        data = tomllib.loads(text)
        profiles = {name: Profile(name=name, **values) for name, values in data["profile"].items()}
        return cls(
            profiles=profiles,
            commands={stage: tuple(argv) for stage, argv in data["commands"].items()},
            default_profile=data.get("default_profile", "pr"),
            lint_timeout_s=float(data.get("spec", {}).get("lint_timeout_s", 120)),
            trend_runs=int(data.get("report", {}).get("trend_runs", 10)),
        )

    @classmethod
    def default(cls) -> PipelineConfig:
        text = resources.files(__package__).joinpath("pipeline.toml").read_text(encoding="utf-8")
        return cls.from_toml(text)

    def profile(self, name: str | None) -> Profile:
        chosen = name or self.default_profile
        if chosen not in self.profiles:
            known = ", ".join(sorted(self.profiles))
            raise UsageError(f"unknown profile {chosen!r} (known: {known})")
        return self.profiles[chosen]


@dataclass(frozen=True)
class RunOptions:
    target: str | None = None
    profile: str | None = None
    #: `--seed`: None takes the profile's seed, or a fresh one (seeds.choose_seed).
    seed: int | None = None
    report_dir: Path | None = None
    reports_root: Path = REPORTS_ROOT
    #: Known deviations for the contract stage (`octoqa contract --deviations`).
    deviations: Path | None = None


# --- What each stage reports ------------------------------------------------------------------


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
        return self.verdict == "pass"


@dataclass
class RunOutcome:
    run_dir: Path
    exit_code: int
    verdict: str
    stages: list[StageResult] = field(default_factory=list)

    @property
    def first_problem(self) -> StageResult | None:
        """The stage the one-line explanation names: the first that did not hold, worst first."""
        worst = worst_verdict([s.verdict for s in self.stages])
        return next((s for s in self.stages if s.verdict == worst and not s.holds), None)


#: Called as a stage starts (index from 1, count, name) and as it ends (index, count, result).
StageStarted = Callable[[int, int, str], None]
StageEnded = Callable[[int, int, StageResult], None]


def _ignore(*_: object) -> None:
    return None


# --- Stage 1: the spec ------------------------------------------------------------------------


def _spec_is_valid() -> SpecCheck:
    """The contract is valid OpenAPI, per openapi-spec-validator."""
    try:
        from jsonschema.exceptions import ValidationError
        from openapi_spec_validator import validate
        from openapi_spec_validator.exceptions import OpenAPISpecValidatorError
        from referencing.exceptions import Unresolvable
    except ImportError:
        return SpecCheck(
            name="openapi-spec-validator",
            verdict="not run",
            detail="openapi-spec-validator is not installed (pip install -e '.[dev]')",
        )
    try:
        validate(load_spec())
    except (ValidationError, OpenAPISpecValidatorError, Unresolvable) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return SpecCheck(name="openapi-spec-validator", verdict="fail", detail=first_line[:300])
    return SpecCheck(name="openapi-spec-validator", verdict="pass", detail="valid")


def find_linter() -> str | None:
    """The Redocly CLI to lint with: the checkout's pinned one first, else one on PATH."""
    if PINNED_LINTER.exists():
        return str(PINNED_LINTER)
    return shutil.which("redocly")


def _spec_is_lint_clean(run_dir: Path, timeout_s: float) -> SpecCheck:
    """The contract is clean under the linter; without node or the linter the check is skipped.

    An installed octoqa (pip, pipx) has no node tools: the run still works and says, as its
    verdict "incomplete", that this check was skipped and why.
    """
    name = "redocly lint"
    if shutil.which("node") is None:
        return SpecCheck(name=name, verdict="skipped", detail="node is not installed")
    linter = find_linter()
    if linter is None:
        return SpecCheck(name=name, verdict="skipped", detail=NO_LINTER)
    argv = [linter, "lint"]
    if LINT_CONFIG.exists():
        argv += ["--config", LINT_CONFIG.name]
    argv.append(SPEC_PATH.name)
    try:
        done = subprocess.run(
            argv,
            cwd=SPEC_PATH.parent,
            env={**os.environ, **LINT_ENV},
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return SpecCheck(name=name, verdict="error", detail=f"did not finish in {timeout_s:g} s")
    output = (done.stdout or "") + (done.stderr or "")
    (run_dir / "spec" / "lint.txt").write_text(output, encoding="utf-8")
    if done.returncode == 0:
        return SpecCheck(name=name, verdict="pass", detail="no problems")
    problems = [line for line in output.splitlines() if "error" in line.lower()]
    detail = problems[-1].strip() if problems else f"exited {done.returncode}"
    verdict = "fail" if done.returncode == 1 else "error"
    return SpecCheck(name=name, verdict=verdict, detail=detail[:300])


def check_spec(run_dir: Path, config: PipelineConfig) -> StageResult:
    """Stage 1: the spec is valid and lint-clean; writes `<run>/spec/summary.json`."""
    started = time.monotonic()
    started_at = datetime.now(UTC)
    (run_dir / "spec").mkdir(parents=True, exist_ok=True)
    if not SPEC_PATH.is_file():
        checks = [SpecCheck(name="spec file", verdict="error", detail=f"{SPEC_PATH} is missing")]
    else:
        checks = [_spec_is_valid(), _spec_is_lint_clean(run_dir, config.lint_timeout_s)]
    verdict = worst_verdict(["incomplete" if c.verdict == "skipped" else c.verdict for c in checks])
    write_junit(
        run_dir / "spec" / "junit.xml",
        "octoqa spec",
        [Case("spec", c.name, c.verdict, c.detail) for c in checks],
    )
    artifacts = {"junit": "spec/junit.xml"}
    if (run_dir / "spec" / "lint.txt").exists():
        artifacts["lint"] = "spec/lint.txt"
    summary = SpecSummary(
        verdict=verdict,
        started=utc_started(started_at),
        spec_version=_spec_version_or_none(),
        checks=checks,
        artifacts=artifacts,
    )
    write_summary(run_dir / "spec" / "summary.json", summary)
    reason = "; ".join(f"{c.name}: {c.detail}" for c in checks if c.verdict != "pass")
    return StageResult(
        name="spec",
        verdict=verdict,
        exit_code=EXIT_CODES[verdict],
        duration_s=round(time.monotonic() - started, 2),
        reason=reason or None,
    )


def _spec_version_or_none() -> str | None:
    try:
        return spec_version()
    except (OSError, KeyError, TypeError, ValueError):
        return None


# --- Stages 2 and 3: contract and load, each in its own process -------------------------------


def stage_argv(template: Sequence[str], fields: Mapping[str, str]) -> list[str]:
    """The command line of a stage from its template in `pipeline.toml`."""
    argv: list[str] = []
    for token in template:
        if token == "{octoqa}":
            argv += [sys.executable, "-m", "octopus_qa"]
        else:
            argv.append(token.format_map({"python": sys.executable, **fields}))
    return argv


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return ERROR_PREFIX.sub("", last)[:300]


def _run_bounded(argv: Sequence[str], timeout_s: float) -> tuple[int | None, str, str]:
    """Run `argv` in its own process group; past `timeout_s` the whole group is stopped.

    Returns (exit code or None on timeout, stdout, stderr).
    """
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        out, err = process.communicate(timeout=timeout_s)
        return process.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            out, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
        return None, out, err
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def judge_stage(
    name: str,
    exit_code: int | None,
    summary: StageSummary | None,
    stderr: str,
    timeout_s: float,
) -> tuple[str, str | None]:
    """(verdict, reason) of a stage from its exit code and summary; never a pass by default.

    Exit 1 without a summary is a crash (Python exits 1 on an uncaught exception), not a failed
    contract; a summary that says "error" is believed over a zero exit code.
    """
    if exit_code is None:
        return "error", f"did not finish within {timeout_s:g} s (stopped)"
    if exit_code == 2:
        return "error", _last_line(stderr) or "exited 2 (usage, configuration or target problem)"
    if exit_code not in (0, 1):
        return "error", f"exited {exit_code}: {_last_line(stderr) or 'no message'}"
    if summary is None:
        return "error", (
            f"exited {exit_code} without writing {name}/summary.json: "
            f"{_last_line(stderr) or 'no message'}"
        )
    said = summary.verdict
    if said == "error" or said not in ("pass", "fail"):
        return "error", f"{name}/summary.json says verdict {said!r}"
    if exit_code == 0 and said == "pass":
        return "pass", None
    return "fail", _failure_reason(name, summary)


def _failure_reason(name: str, summary: StageSummary) -> str:
    if isinstance(summary, ContractSummary):
        totals = summary.totals
        return f"{totals.get('failed', '?')} failed, {totals.get('errors', 0)} errors"
    if isinstance(summary, LoadSummary):
        breached = [g for g in summary.gates if g.verdict != "pass"]
        broken = sum(summary.rule_violations.values())
        parts = [f"{len(breached)} of {len(summary.gates)} gates breached"]
        if broken:
            parts.append(f"{broken} responses broke rules")
        return ", ".join(parts)
    return "failed"


def run_stage_command(
    name: str, argv: Sequence[str], run_dir: Path, timeout_s: float
) -> StageResult:
    """Run one stage's command; its output goes to `<run>/logs/<stage>.log`.

    A summary left in the folder by an earlier run is removed first: a stage that then writes
    none must not be judged by the old one.
    """
    (run_dir / name / "summary.json").unlink(missing_ok=True)
    started = time.monotonic()
    try:
        exit_code, out, err = _run_bounded(argv, timeout_s)
    except OSError as exc:
        return StageResult(name, "not run", None, 0.0, f"cannot start {argv[0]}: {exc.strerror}")
    logs = run_dir / "logs"
    logs.mkdir(exist_ok=True)
    log = logs / f"{name}.log"
    log.write_text(f"$ {' '.join(argv)}\n{out}\n--- stderr ---\n{err}", encoding="utf-8")
    verdict, reason = judge_stage(
        name, exit_code, read_stage_summary(run_dir, name), err, timeout_s
    )
    return StageResult(
        name=name,
        verdict=verdict,
        exit_code=exit_code,
        duration_s=round(time.monotonic() - started, 2),
        reason=reason,
        log=log.relative_to(run_dir).as_posix(),
    )


# --- The run ----------------------------------------------------------------------------------


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_report_stage(
    run_dir: Path, run: dict[str, Any], secrets: Sequence[str], trend_runs: int
) -> StageResult:
    """Stage 4: the report. Its own duration is not known while it is written, so it says none.

    The scrub is checked afterwards; a secret it missed makes the report stage an error, and the
    report is written once more saying so.
    """
    result = StageResult("report", "pass", 0, 0.0)
    stages = run["stages"]
    write_run_report(
        run_dir,
        {**run, "stages": [*stages, {**asdict(result), "duration_s": None}]},
        secrets=secrets,
        trend_runs=trend_runs,
    )
    left = leaks(run_dir, secrets)
    if left:
        result = StageResult("report", "error", 2, 0.0, f"a secret survived the scrub: {left[0]}")
        write_run_report(
            run_dir,
            {**run, "stages": [*stages, {**asdict(result), "duration_s": None}]},
            secrets=secrets,
            trend_runs=trend_runs,
        )
    return result


def _prepare_run_dir(options: RunOptions) -> tuple[Path, bool]:
    """(run folder, whether `latest` should point at it): a named folder is the user's business."""
    if options.report_dir is None:
        return new_run_dir(options.reports_root), True
    run_dir = options.report_dir
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--report-dir {run_dir} exists and is not a folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir, False


def run_pipeline(
    options: RunOptions,
    config: PipelineConfig | None = None,
    *,
    on_start: StageStarted = _ignore,
    on_end: StageEnded = _ignore,
) -> RunOutcome:
    """Run every stage against one target and write the report; returns how it went.

    Raises an OctoqaError (exit 2) before anything runs when the options or the target are
    unusable, so a bad URL or refused credentials is one clear line, not a report of errors.
    """
    config = config or PipelineConfig.default()
    profile = config.profile(options.profile)
    if options.deviations is not None:
        load_deviations(options.deviations)  # a bad file: one line, exit 2, before any stage
    resolved = resolve_target(options.target)
    seed = choose_seed(options.seed, profile.seed)
    credentials = Credentials.from_env()
    started_at = datetime.now(UTC)
    clock = time.monotonic()
    with target_url(resolved, seed=seed) as url:
        tokens = login(url, credentials)  # the target answers like the API, or exit 2 now
        secrets = (*credentials.secrets(), *tokens.secrets())
        run_dir, is_default_dir = _prepare_run_dir(options)
        fields = {
            "target": url,
            "run_dir": str(run_dir),
            "seed": str(seed),
            "contract_profile": profile.contract,
            "load_profile": profile.load,
        }
        timeouts = {"contract": profile.contract_timeout_s, "load": profile.load_timeout_s}
        results: list[StageResult] = []
        for index, name in enumerate(STAGES[:-1], start=1):
            on_start(index, len(STAGES), name)
            if name == "spec":
                result = check_spec(run_dir, config)
            else:
                argv = stage_argv(config.commands[name], fields)
                if name == "contract" and options.deviations is not None:
                    argv += ["--deviations", str(options.deviations.resolve())]
                result = run_stage_command(name, argv, run_dir, timeouts[name])
            if result.reason:  # shown on the console too, where the file scrub cannot reach
                result.reason = redact_text(result.reason, secrets)
            results.append(result)
            on_end(index, len(STAGES), result)

    on_start(len(STAGES), len(STAGES), "report")
    report_started = time.monotonic()
    run_duration = round(time.monotonic() - clock, 1)
    run = {
        "run_id": run_dir.name,
        "target": url,
        "embedded": resolved == EMBEDDED,
        "profile": profile.name,
        "contract_profile": profile.contract,
        "load_profile": profile.load,
        "seed": seed,
        "spec_version": _spec_version_or_none(),
        "started": utc_started(started_at),
        "duration_s": run_duration,
        "stages": [asdict(r) for r in results],
        "artifacts": {f"{r.name}_log": r.log for r in results if r.log},
    }
    report_result = write_report_stage(run_dir, run, secrets, config.trend_runs)
    report_result.duration_s = round(time.monotonic() - report_started, 2)
    on_end(len(STAGES), len(STAGES), report_result)
    if is_default_dir:
        point_latest_at(run_dir)
    all_results = [*results, report_result]
    verdict = worst_verdict([r.verdict for r in all_results])
    return RunOutcome(run_dir, EXIT_CODES[verdict], verdict, all_results)

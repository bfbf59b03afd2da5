"""The run itself: one target for every stage, the stages in order, then the report.

One target for every stage: the named URL, or ONE embedded sandbox started here for the whole run,
whose URL each stage gets as `--target`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..contract.deviations import load_deviations
from ..errors import UsageError
from ..plan.preflight import target_url
from ..report import EXIT_CODES, worst_verdict
from ..report import write_report as write_run_report
from ..report.redact import leaks, redact_text
from ..report.summaries import utc_started
from ..rundir import new_run_dir, point_latest_at
from ..seeds import choose_seed
from ..target import EMBEDDED, resolve_target
from ..target.credentials import Credentials
from ..target.session import login
from .config import PipelineConfig, RunOptions, check_stage_configuration
from .outcome import RunOutcome, StageEnded, StageResult, StageStarted
from .spec_stage import check_spec, spec_version_or_none
from .stages import run_stage_command, stage_argv

STAGES = ("spec", "contract", "load", "report")


def _ignore(*_: object) -> None:
    return None


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
    check_stage_configuration(config, profile)
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
        "spec_version": spec_version_or_none(),
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

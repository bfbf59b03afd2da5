"""The run itself: one plan and one target for every stage, the stages in order, the report.

The plan (`config.plan_run`) is opened once by the preflight: the named URL, or ONE embedded
sandbox started here for the whole run; the opened plan is written as `<run>/plan.json`, which
each stage reads (`--plan`) instead of deciding the run again. A profile with a capacity gate
runs it after the load stage (`capacity_stage.py`), planned here with the rest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..contract.deviations import load_deviations
from ..plan import RunPlan, preflight, write_plan
from ..report import EXIT_CODES, worst_verdict
from ..report import write_report as write_run_report
from ..report.redact import leaks, redact_text
from ..report.summaries import utc_started
from ..rundir import point_latest_at
from ..seeds import choose_seed
from ..verdicts import Verdict
from .capacity_stage import plan_capacity, run_capacity_stage
from .config import PipelineConfig, Profile, RunOptions, plan_run
from .outcome import RunOutcome, StageEnded, StageResult, StageStarted
from .spec_stage import check_spec, spec_version_or_none
from .stages import run_stage_command, stage_argv

#: The stages of a run without a capacity gate (`Profile.stages`: those of a profile).
STAGES = ("spec", "contract", "load", "report")
#: What the report links when the capacity stage ran (it writes no typed stage summary).
CAPACITY_ARTIFACTS = {
    "capacity_page": "capacity/index.html",
    "capacity_summary": "capacity/summary.json",
}


def _ignore(*_: object) -> None:
    return None


def write_report_stage(
    run_dir: Path, run: dict[str, Any], secrets: Sequence[str], trend_runs: int
) -> tuple[StageResult, dict[str, Any]]:
    """Stage 4: the report, and the run summary it wrote (the console's last lines read it).
    Its own duration is not known while it is written, so it says none.

    The scrub is checked afterwards; a secret it missed makes the report stage an error, and the
    report is written once more saying so.
    """
    result = StageResult("report", Verdict.PASS, 0, 0.0)
    stages = run["stages"]
    summary = write_run_report(
        run_dir,
        {**run, "stages": [*stages, {**asdict(result), "duration_s": None}]},
        secrets=secrets,
        trend_runs=trend_runs,
    )
    left = leaks(run_dir, secrets)
    if left:
        result = StageResult(
            "report", Verdict.ERROR, 2, 0.0, f"a secret survived the scrub: {left[0]}"
        )
        summary = write_run_report(
            run_dir,
            {**run, "stages": [*stages, {**asdict(result), "duration_s": None}]},
            secrets=secrets,
            trend_runs=trend_runs,
        )
    return result, summary


def run_pipeline(
    options: RunOptions,
    config: PipelineConfig | None = None,
    *,
    on_start: StageStarted = _ignore,
    on_end: StageEnded = _ignore,
) -> RunOutcome:
    """`octoqa run` in one call: plan the run from the options, then run it (`run_planned`)."""
    config = config or PipelineConfig.default()
    profile = config.profile(options.profile)
    options = replace(options, seed=choose_seed(options.seed, profile.seed))
    plan = plan_run(config, profile, options)
    point_latest = options.report_dir is None
    return run_planned(
        plan, config, profile, point_latest=point_latest, on_start=on_start, on_end=on_end
    )


def run_planned(
    plan: RunPlan,
    config: PipelineConfig,
    profile: Profile,
    *,
    point_latest: bool = False,
    on_start: StageStarted = _ignore,
    on_end: StageEnded = _ignore,
) -> RunOutcome:
    """Run every stage against the plan's one target and write the report; returns how it went.

    Raises an OctoqaError (exit 2) before anything runs when the target is unusable, so a bad
    URL or refused credentials is one clear line, not a report of errors.
    """
    assert plan.contract is not None and plan.load is not None
    if plan.contract.deviations:
        load_deviations(Path(plan.contract.deviations))  # a bad file: exit 2, before any stage
    capacity = plan_capacity(plan, config, profile)  # its files and baseline, before any stage
    stages = profile.stages
    run_dir = plan.reports
    started_at = datetime.now(UTC)
    clock = time.monotonic()
    # The sandbox's catalog follows the run's seed, so a replayed run meets the same data.
    with preflight(plan, seed=plan.seed) as opened:  # the target answers like the API, or exit 2
        secrets = opened.secrets()
        url = opened.url
        fields = {
            "plan": str(write_plan(opened.plan)),
            "target": url,
            "run_dir": str(run_dir),
            "seed": str(plan.seed),
            "contract_profile": profile.contract,
            "load_profile": profile.load,
        }
        timeouts = {"contract": profile.contract_timeout_s, "load": profile.load_timeout_s}
        results: list[StageResult] = []
        for index, name in enumerate(stages[:-1], start=1):
            on_start(index, len(stages), name)
            if name == "spec":
                result = check_spec(run_dir, config)
            elif name == "capacity" and capacity is not None:
                result = run_capacity_stage(capacity, opened, config, fields)
            else:
                argv = stage_argv(config.commands[name], fields)
                result = run_stage_command(name, argv, run_dir, timeouts[name])
            if result.reason:  # shown on the console too, where the file scrub cannot reach
                result.reason = redact_text(result.reason, secrets)
            results.append(result)
            on_end(index, len(stages), result)

    on_start(len(stages), len(stages), "report")
    report_started = time.monotonic()
    run_duration = round(time.monotonic() - clock, 1)
    run = {
        "run_id": run_dir.name,
        "target": url,
        "embedded": plan.target.kind == "embedded",
        "profile": profile.name,
        "contract_profile": profile.contract,
        "load_profile": profile.load,
        "seed": plan.seed,
        "spec_version": spec_version_or_none(),
        "started": utc_started(started_at),
        "duration_s": run_duration,
        "stages": [asdict(r) for r in results],
        "artifacts": {
            "plan": "plan.json",
            **{f"{r.name}_log": r.log for r in results if r.log},
            **(CAPACITY_ARTIFACTS if capacity is not None else {}),
        },
    }
    report_result, summary = write_report_stage(run_dir, run, secrets, config.trend_runs)
    report_result.duration_s = round(time.monotonic() - report_started, 2)
    on_end(len(stages), len(stages), report_result)
    if point_latest:
        point_latest_at(run_dir)
    all_results = [*results, report_result]
    verdict = worst_verdict([r.verdict for r in all_results])
    return RunOutcome(run_dir, EXIT_CODES[verdict], verdict, all_results, summary)

"""The capacity stage of `octoqa run`, for a profile that asks for it: the capacity gate.

`capacity = { baseline = "latest" }` in a pipeline profile adds `octoqa capacity --baseline`
after the load stage, against the run's one target. Its search is planned here, with the rest of
the run and before anything runs (a broken slo.toml or a missing baseline costs nothing): a plan
of its own, `<run>/capacity/plan.json`, because a search plays profiles of its own and the
load profile's SLO overrides (the ramp's throughput floor) must not judge its steps.

The baseline is a path, or "latest": the newest earlier run beside this one (in the same
reports folder) whose capacity stage passed against the same target. A regressed build is
never the next one's baseline, so a series of small drops cannot ratchet it down; with no such
run the search still runs, nothing is compared, and the stage says so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import msgspec

from .. import config as user_config
from ..loadtest.capacity import CapacityOptions, search_plan_options
from ..loadtest.capacity_gate import (
    SUMMARY_FILE,
    BaselineUnreadable,
    CapacitySummary,
    decode_summary,
    read_baseline,
)
from ..plan import OpenRun, RunPlan, build_plan, write_plan
from ..rundir import RUN_ID
from ..verdicts import Verdict
from .config import CAPACITY_COMMAND, LATEST, PipelineConfig, Profile
from .judging import judge_stage
from .outcome import StageResult
from .stages import run_stage_command, stage_argv

NAME = "capacity"
#: The search's own budget (`--max-time`) ends this long before the stage's time limit, so it
#: stops with its answer rather than being stopped without one.
MARGIN_S = 60.0


@dataclass(frozen=True)
class CapacityRun:
    """The capacity stage, decided: the search's plan, its baseline and its time limit."""

    plan: RunPlan
    baseline: Path | None
    timeout_s: float
    #: Said before the stage's verdict when nothing is compared (no earlier run to compare).
    note: str | None = None


def plan_capacity(plan: RunPlan, pipeline: PipelineConfig, profile: Profile) -> CapacityRun | None:
    """The capacity stage of `profile`, or None when it has none. Reads slo.toml, the profiles
    and the baseline now: a problem is one ConfigError or UsageError line, exit 2."""
    if profile.capacity is None:
        return None
    target = plan.target.url if plan.target.kind == "url" else "embedded"
    search = build_plan(
        search_plan_options(CapacityOptions(target=target, report_dir=plan.reports))
    )
    search = msgspec.structs.replace(search, seed=plan.seed, target=plan.target)
    timeout_s = profile.capacity.timeout_s
    if profile.capacity.baseline != LATEST:
        try:
            chosen, _ = read_baseline(Path(profile.capacity.baseline))
        except BaselineUnreadable as exc:
            key = f"profile.{profile.name}.capacity.baseline"
            raise user_config.ConfigError(pipeline.source, key, str(exc)) from None
        return CapacityRun(search, chosen, timeout_s)
    latest = latest_baseline(plan.reports, plan.target.label)
    if latest is not None:
        return CapacityRun(search, latest, timeout_s)
    note = (
        f"no earlier passing capacity run of {plan.target.label} in {plan.reports.parent}: "
        "nothing compared (this run's is the next one's baseline)"
    )
    return CapacityRun(search, None, timeout_s, note)


def latest_baseline(run_dir: Path, target: str) -> Path | None:
    """The capacity summary of the newest run before `run_dir`, beside it, whose capacity search
    passed (exit 0) against `target`; None when there is none."""
    root = run_dir.parent
    if not root.is_dir():
        return None
    # A run folder named by its id looks back only; one the user named sees every run id.
    newest = run_dir.name if RUN_ID.match(run_dir.name) else "~"
    earlier = sorted(
        (e for e in root.iterdir() if RUN_ID.match(e.name) and e.name < newest),
        key=lambda e: e.name,
        reverse=True,
    )
    for folder in earlier:
        summary = read_summary(folder)
        if summary is not None and summary.exit_code == 0 and summary.target == target:
            return folder / NAME / SUMMARY_FILE
    return None


def read_summary(run_dir: Path) -> CapacitySummary | None:
    """`<run>/capacity/summary.json`, or None when it is missing or not a capacity summary."""
    with contextlib.suppress(OSError, msgspec.DecodeError, msgspec.ValidationError):
        return decode_summary((run_dir / NAME / SUMMARY_FILE).read_bytes())
    return None


def run_capacity_stage(
    stage: CapacityRun,
    opened: OpenRun,
    pipeline: PipelineConfig,
    fields: Mapping[str, str],
) -> StageResult:
    """Run the search against the run's opened target; its verdict from its exit code and the
    summary it wrote (the verdict sentence is the stage's reason, a pass's too)."""
    run_dir = opened.plan.reports
    plan_file = run_dir / NAME / "plan.json"
    write_plan(msgspec.structs.replace(stage.plan, target=opened.plan.target), plan_file)
    own = {
        "capacity_plan": str(plan_file),
        "capacity_max_time": f"{stage.timeout_s - MARGIN_S:g}s",
    }
    argv = stage_argv(pipeline.commands.get(NAME, CAPACITY_COMMAND), {**fields, **own})
    if stage.baseline is not None:
        argv += ["--baseline", str(stage.baseline)]
    result = run_stage_command(NAME, argv, run_dir, stage.timeout_s, judge=judge_capacity)
    if stage.note:
        result.reason = f"{stage.note}; {result.reason}" if result.reason else stage.note
    return result


def judge_capacity(
    name: str, exit_code: int | None, run_dir: Path, stderr: str, timeout_s: float
) -> tuple[str, str | None]:
    """(verdict, reason) of the capacity stage: its exit code (0 pass, 1 fail, 2 error), with its
    summary's sentence as the reason; without a summary, as any stage without one (an error)."""
    summary = read_summary(run_dir)
    if summary is None or exit_code not in (0, 1, 2):
        return judge_stage(name, exit_code, None, stderr, timeout_s)
    verdict = {0: Verdict.PASS, 1: Verdict.FAIL}.get(exit_code, Verdict.ERROR)
    return verdict, summary.verdict

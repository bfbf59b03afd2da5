"""Stages 2 and 3 of a run, contract and load: each a command in its own process.

The command line comes from `[commands]` in pipeline.toml (the same `octoqa contract` /
`octoqa load` a user types, and Locust's gevent patching stays out of this process); the process
runs under the stage's time limit, its output goes to `<run>/logs/<stage>.log`, and its verdict
is read from its exit code and the summary.json it writes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .. import config as user_config
from ..report import read_stage_summary
from ..supervisor import run_bounded
from ..verdicts import Verdict
from .judging import judge_stage
from .outcome import StageResult

#: How a stage is judged from what its process left: (name, exit code or None when it was
#: stopped, run folder, stderr, time limit) → (verdict, reason).
StageJudge = Callable[[str, int | None, Path, str, float], tuple[str, str | None]]


def judge_by_summary(
    name: str, exit_code: int | None, run_dir: Path, stderr: str, timeout_s: float
) -> tuple[str, str | None]:
    """Contract and load: their typed `<stage>/summary.json` with the exit code."""
    return judge_stage(name, exit_code, read_stage_summary(run_dir, name), stderr, timeout_s)


def stage_argv(template: Sequence[str], fields: Mapping[str, str]) -> list[str]:
    """The command line of a stage from its template in `pipeline.toml`."""
    argv: list[str] = []
    for token in template:
        if token == "{octoqa}":
            argv += [sys.executable, "-m", "octopus_qa"]
        else:
            argv.append(token.format_map({"python": sys.executable, **fields}))
    return argv


def run_stage_command(
    name: str,
    argv: Sequence[str],
    run_dir: Path,
    timeout_s: float,
    judge: StageJudge = judge_by_summary,
) -> StageResult:
    """Run one stage's command; its output goes to `<run>/logs/<stage>.log`.

    A summary left in the folder by an earlier run is removed first: a stage that then writes
    none must not be judged by the old one.
    """
    (run_dir / name / "summary.json").unlink(missing_ok=True)
    started = time.monotonic()
    try:
        # The user's configuration directory (--config) reaches the stage's `octoqa` this way.
        exit_code, out, err = run_bounded(argv, timeout_s, env=user_config.environment())
    except OSError as exc:
        return StageResult(
            name, Verdict.NOT_RUN, None, 0.0, f"cannot start {argv[0]}: {exc.strerror}"
        )
    logs = run_dir / "logs"
    logs.mkdir(exist_ok=True)
    log = logs / f"{name}.log"
    log.write_text(f"$ {' '.join(argv)}\n{out}\n--- stderr ---\n{err}", encoding="utf-8")
    verdict, reason = judge(name, exit_code, run_dir, err, timeout_s)
    return StageResult(
        name=name,
        verdict=verdict,
        exit_code=exit_code,
        duration_s=round(time.monotonic() - started, 2),
        reason=reason,
        log=log.relative_to(run_dir).as_posix(),
    )

"""`octoqa run`: the spec checks, the contract suite, a load run and the report, in one run folder.

The run is decided once, here (`plan_run`: one run plan, every configuration file read once) and
opened once (the one preflight: ONE embedded sandbox for the whole run, or the named URL, and one
login); each stage gets the opened plan as `<run>/plan.json` (`--plan`). The contract and load
stages run as `octoqa contract` / `octoqa load` subprocesses (one code path with the commands a
user types, and Locust's gevent patching stays out of this process); their verdicts are read
from the exit code and the `summary.json` each writes. Nothing a stage fails to report becomes a
pass: a stage that crashed, timed out or wrote no summary is an "error", one that could not start
is "not run".

Exit codes: 0 every stage held, 1 a contract rule or a load gate failed, 2 a stage could not run
(usage, configuration or target), with the stage and the reason in one line.

One module per job: `config` (pipeline.toml), `outcome` (what a stage and a run report),
`spec_stage` (validator and linter), `stages` (a stage's command under its time limit, through
`octopus_qa.supervisor`), `judging` (a stage's verdict from what it left) and `orchestrate`
(the run). The names callers use are re-exported here.
"""

from __future__ import annotations

from .config import PipelineConfig, Profile, RunOptions, plan_run
from .judging import ERROR_PREFIX, judge_stage
from .orchestrate import STAGES, run_pipeline, run_planned, write_report_stage
from .outcome import RunOutcome, StageEnded, StageResult, StageStarted
from .spec_stage import LINT_CONFIG, LINT_ENV, NO_LINTER, PINNED_LINTER, check_spec, find_linter
from .stages import run_stage_command, stage_argv

__all__ = [
    "ERROR_PREFIX",
    "LINT_CONFIG",
    "LINT_ENV",
    "NO_LINTER",
    "PINNED_LINTER",
    "STAGES",
    "PipelineConfig",
    "Profile",
    "RunOptions",
    "RunOutcome",
    "StageEnded",
    "StageResult",
    "StageStarted",
    "check_spec",
    "find_linter",
    "judge_stage",
    "plan_run",
    "run_pipeline",
    "run_planned",
    "run_stage_command",
    "stage_argv",
    "write_report_stage",
]

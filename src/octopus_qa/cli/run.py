"""`octoqa run`: the whole pipeline (spec, contract, load, report) against one target.

What the stages are and how they are judged lives in `octopus_qa.pipeline`; this module parses
the options and shows progress: on a terminal, a live line per stage with its elapsed time; in a
log (CI), one quiet line per stage as it ends.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from .. import config
from ..pipeline import (
    PipelineConfig,
    RunOptions,
    StageResult,
    plan_run,
    run_planned,
)
from ..report.findings import console_lines
from ..seeds import choose_seed
from .load import add_metrics_port, metrics_port

HELP = "run spec checks, the contract suite, a load run with gates, and write the report"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        metavar="URL",
        help="base URL of the API, or 'embedded' (default: $OCTOPUS_BASE_URL, else embedded)",
    )
    # Not `choices`: the profiles are those of the pipeline.toml in force, which --config picks
    # and which is read only when the command runs (an unknown name is one line, exit 2).
    parser.add_argument(
        "--profile",
        help="how hard each stage tries: pr, release or nightly in the shipped pipeline.toml "
        "(default: its default_profile, pr)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="pin the run's seed (catalog, generation, load); default: the profile's fixed seed "
        "(pr), else a fresh one (release, nightly); every run prints the seed it used",
    )
    parser.add_argument(
        "--report-dir",
        metavar="DIR",
        type=Path,
        help="write the run here (default: a new reports/<run-id>/, with reports/latest)",
    )
    parser.add_argument(
        "--deviations",
        metavar="FILE",
        type=Path,
        help="known deviations (deviations.toml) for the contract stage: covered failures are "
        "reported as known deviations until their expiry date",
    )
    add_metrics_port(parser)


class Progress:
    """Stage n/4, its name and the time it has taken, shown as the run goes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self._started = 0.0
        self._label = ""
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self, index: int, count: int, name: str) -> None:
        self._label = f"[{index}/{count}] {name:<9}"
        self._started = time.monotonic()
        if not self.live:
            return
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            elapsed = time.monotonic() - self._started
            self.stream.write(f"\r{self._label} running  {elapsed:5.0f} s")
            self.stream.flush()

    def end(self, index: int, count: int, result: StageResult) -> None:
        del index, count
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join()
            self._ticker = None
        elapsed = time.monotonic() - self._started
        why = f"  {result.reason}" if result.reason else ""
        line = f"{self._label} {result.verdict.upper():<8} {elapsed:5.1f} s{why}"
        self.stream.write(("\r\x1b[K" if self.live else "") + line + "\n")
        self.stream.flush()


def main(args: argparse.Namespace) -> int:
    progress = Progress(sys.stdout)
    in_force = config.describe()
    if in_force:  # the user's files took effect, or they would wonder
        print(in_force, flush=True)
    pipeline = PipelineConfig.default()
    profile = pipeline.profile(args.profile)
    options = RunOptions(
        target=args.target,
        profile=args.profile,
        seed=choose_seed(args.seed, profile.seed),
        report_dir=args.report_dir,
        deviations=args.deviations,
        metrics_port=metrics_port(args),
    )
    plan = plan_run(pipeline, profile, options)  # a broken file: one line, before the seed line
    print(f"octoqa run: profile {profile.name}, seed {plan.seed} (replay with --seed {plan.seed})")
    outcome = run_planned(
        plan,
        pipeline,
        profile,
        point_latest=args.report_dir is None,
        on_start=progress.start,
        on_end=progress.end,
    )
    print(f"{outcome.verdict.upper()}: report at {outcome.run_dir / 'index.html'}")
    problem = outcome.first_problem
    if outcome.verdict == "incomplete" and problem is not None:
        print(f"octoqa: stage {problem.name} incomplete: {problem.reason}")
    if outcome.exit_code == 2 and problem is not None:
        print(
            f"octoqa: error: stage {problem.name} could not run: {problem.reason}", file=sys.stderr
        )
    if outcome.summary:  # last, where a log's tail shows them: the broken rules by name
        print("\n".join(console_lines(outcome.summary)), flush=True)
    return outcome.exit_code

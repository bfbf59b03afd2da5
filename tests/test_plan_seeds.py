"""Seeds: every run prints and records its seed; `pr` keeps a fixed one so pull requests are
stable, `release` and `nightly` draw a fresh one so they explore; `--seed` pins any run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from octopus_qa.loadtest.runner import LoadOptions, LoadStep, locust_command, plan_load
from octopus_qa.pipeline import PipelineConfig, stage_argv
from octopus_qa.plan import read_plan, write_plan
from octopus_qa.seeds import choose_seed


def test_a_pinned_seed_wins_over_the_profile_and_chance() -> None:
    assert choose_seed(7, 0) == 7 and choose_seed(0, 5) == 0


def test_a_profile_seed_is_kept_and_without_one_each_run_draws_afresh() -> None:
    assert choose_seed(None, 3) == 3
    drawn = {choose_seed(None, None) for _ in range(20)}
    assert len(drawn) > 1 and all(0 < seed < 2**31 for seed in drawn)


def test_pr_keeps_a_fixed_seed_while_release_and_nightly_explore() -> None:
    profiles = PipelineConfig.default().profiles
    assert profiles["pr"].seed is not None
    assert profiles["release"].seed is None and profiles["nightly"].seed is None


def test_the_run_hands_its_plan_and_so_its_seed_to_both_stages(tmp_path: Path) -> None:
    config = PipelineConfig.default()
    plan = plan_load(LoadOptions(profile="smoke", seed=4242, report_dir=tmp_path))
    fields = {"plan": str(write_plan(plan)), "target": "-", "run_dir": str(tmp_path)}
    for stage in ("contract", "load"):
        argv = stage_argv(config.commands[stage], {**fields, "seed": "-"})
        assert read_plan(argv[argv.index("--plan") + 1]).seed == 4242, stage


def test_the_load_run_hands_its_seed_to_locust_through_its_plan(tmp_path: Path) -> None:
    plan = plan_load(
        LoadOptions(target="http://127.0.0.1:1", profile="smoke", seed=99, report_dir=tmp_path)
    )
    step = LoadStep(plan, tmp_path, write_plan(plan))
    command = locust_command(step)
    assert read_plan(command[command.index("--plan") + 1]).seed == 99
    again = plan_load(LoadOptions(profile="smoke", report_dir=tmp_path / "again"))
    assert again.seed > 0  # none given: a fresh one, recorded


def test_octoqa_run_prints_the_seed_it_uses_before_anything_runs(tmp_path: Path) -> None:
    """Even a run that ends at once (unreachable target) has said its seed: replayable."""
    env = {k: v for k, v in os.environ.items() if k != "OCTOPUS_BASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "octopus_qa", "run", "--profile", "release", "--seed", "31",
         "--target", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env, check=False,
    )  # fmt: skip
    assert "seed 31" in done.stdout.splitlines()[0], done.stdout

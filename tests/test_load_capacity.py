"""`octoqa capacity`: the climb, the knee, the verdict sentence, and one real search on loopback.

The pure parts (which rates are tried, where the knee is, what the verdict says and which exit
code it carries) are pinned on made-up steps; one slow test runs a short real search against a
sandbox process and reads its summary, its page and its last line. How stable the found
capacity is across runs is measured by `bench/bench_capacity.py` (figures in bench/README.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from octopus_qa.cli import main as octoqa
from octopus_qa.loadtest.capacity import (
    CapacityResult,
    Step,
    _verdict,
    knee,
    step_rates,
    users_for,
)
from octopus_qa.plan.load_profiles import users_offering
from octopus_qa.sandbox.server import sandbox_process

CLEAN_ENV = {
    key: value
    for key, value in os.environ.items()
    if key not in ("OCTOPUS_BASE_URL", "OCTOPUS_USERNAME", "OCTOPUS_PASSWORD")
}


def step(
    rate: float, verdict: str = "pass", p99: float = 10.0, gates: list[str] | None = None
) -> Step:
    return Step(
        rate_rps=rate,
        verdict=verdict,
        users=int(rate // 2),
        achieved_rps=rate,
        error_rate=0.0,
        latency={"p50_ms": p99 / 3, "p99_ms": p99},
        service={"p50_ms": p99 / 3, "p99_ms": p99},
        failed_gates=gates or [],
        generator_problems=[],
        schedule=None,
        directory=f"capacity/step-{rate:g}",
    )


def test_the_climb_is_geometric_and_ends_at_the_cap() -> None:
    assert step_rates(25, 2, 150) == [25, 50, 100, 150]
    assert step_rates(100, 1.5, 100) == [100]


def test_users_offer_the_rate_at_two_task_runs_a_second_each_within_the_cap() -> None:
    assert users_for(100, 500) == (50, 2.0)
    assert users_for(2000, 500) == (500, 4.0)


def test_a_rate_at_the_user_cap_compiles_to_exactly_the_cap(tmp_path: Path) -> None:
    from octopus_qa.plan.load_profiles import load_profiles

    users, per_user = users_for(1067.8, 500)
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        "[limits]\nmax_users = 500\nmax_duration_s = 60\nmax_spawn_rate = 100\n"
        "max_rate_rps = 2000\nmax_workers = 4\n"
        f'[profile.x]\nkind = "arrival"\nrate_rps = 1067.8\nper_user_rps = {per_user!r}\n'
        "ramp_s = 10\nhold_s = 8\n",
        encoding="utf-8",
    )
    assert users == 500 and load_profiles(profiles).get("x").peak_users == 500


@given(rate=st.floats(min_value=0.1, max_value=20_000), cap=st.integers(1, 5_000))
def test_a_step_never_needs_more_users_than_it_was_given(rate: float, cap: int) -> None:
    """The crash a capacity team met at 1,081.2 req/s: the step's users, counted back by the
    profile, were 501 of 500 by a floating point's last bit, and the search died with its
    answer. Whatever the rate, the profile counts exactly the users the search gave it."""
    users, per_user = users_for(rate, cap)
    assert 1 <= users <= cap
    assert users_offering(rate, per_user) == users


def test_the_knee_is_the_last_rate_whose_p99_stayed_within_twice_the_lightest() -> None:
    steps = [
        step(50, p99=10),
        step(100, p99=15),
        step(200, p99=19.9),
        step(400, p99=80, verdict="fail"),
    ]
    assert knee(steps) == 200


def test_a_capacity_found_by_a_broken_gate_is_exit_0_and_names_the_gate_and_rate() -> None:
    result = CapacityResult(capacity_rps=1850, limit="api", broke_at={"list p99_ms": 2100})
    verdict, code = _verdict(result, 2100, 0)
    assert code == 0
    assert verdict == (
        "holds 1,850 req/s of the scenario mix within SLOs; list p99_ms breaks first, at 2,100 req/s"
    )


def test_a_limit_set_by_the_generator_is_exit_2_and_suggests_more_workers() -> None:
    result = CapacityResult(steps=[step(400, "invalid")], capacity_rps=200, limit="generator")
    verdict, code = _verdict(result, None, 2)
    assert code == 2
    assert "the load generator, not the API, set the limit at 400 req/s" in verdict
    assert verdict.endswith("rerun with --workers 4")


def test_no_rate_held_is_exit_1() -> None:
    result = CapacityResult(capacity_rps=None, limit="api", broke_at={"list p50_ms": 25})
    assert _verdict(result, 25, 0)[1] == 1


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--factor", "1"], "--factor must be more than 1.05"),
        (["--start-rps", "abc"], "--start-rps must be a number"),
        (["--start-rps", "5000"], "--start-rps is above the highest rate allowed"),
        (["--max-time", "soon"], "is not a duration"),
        (["--target", "http://example.com"], "refusing to send load to 'example.com'"),
    ],
)
def test_bad_capacity_options_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], arguments: list[str], complaint: str, tmp_path: Path
) -> None:
    assert octoqa(["capacity", "--report-dir", str(tmp_path), *arguments]) == 2
    err = capsys.readouterr().err
    assert complaint in err and err.count("\n") == 1


@pytest.mark.slow
def test_a_short_search_finds_where_injected_latency_breaks_the_gates(tmp_path: Path) -> None:
    # 150 ms on every answer breaks every p50 objective of 100 ms at any rate: no rate holds,
    # and the first step already says which gates broke.
    with sandbox_process("--latency-ms", "150", env=CLEAN_ENV) as url:
        result = subprocess.run(
            [
                sys.executable, "-m", "octopus_qa", "capacity", "--target", url,
                "--report-dir", str(tmp_path), "--start-rps", "20", "--max-rps", "40",
                "--step-s", "4", "--max-time", "2m",
            ],
            capture_output=True, text=True, timeout=240, env=CLEAN_ENV,
        )  # fmt: skip
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 1, result.stdout + result.stderr
    assert lines[-1].startswith("holds no rate tried within SLOs: ")
    summary = json.loads((tmp_path / "capacity" / "summary.json").read_text(encoding="utf-8"))
    assert summary["limit"] == "api" and summary["capacity_rps"] is None
    assert summary["broke_at"]["list p50_ms"] == 20
    first = summary["steps"][0]
    assert first["latency"]["p50_ms"] >= 150 and first["verdict"] == "fail"
    page = (tmp_path / "capacity" / "index.html").read_text(encoding="utf-8")
    assert "<svg" in page and "Latency against offered rate" in page
    assert summary["verdict"] in page


@pytest.mark.slow
def test_a_search_that_reaches_the_limits_reports_what_held_and_which_limit(
    tmp_path: Path,
) -> None:
    """A step the profiles' [limits] refuse (here: 20 users a second, where the second step
    would start 40) ends the climb with what held so far and the limit named, never exit 2."""
    config = tmp_path / "config"
    assert octoqa(["init", str(config)]) == 0
    profiles = config / "load-profiles.toml"
    text = profiles.read_text(encoding="utf-8")
    for shipped, lowered in (
        ("max_spawn_rate = 200", "max_spawn_rate = 25"),
        ("peak_users = 200", "peak_users = 40"),
    ):
        assert shipped in text
        text = text.replace(shipped, lowered)  # the spike profile must fit the lower cap too
    profiles.write_text(text, encoding="utf-8")
    with sandbox_process(env=CLEAN_ENV) as url:
        result = subprocess.run(
            [
                sys.executable, "-m", "octopus_qa", "capacity", "--target", url,
                "--config", str(config), "--report-dir", str(tmp_path / "run"),
                "--start-rps", "20", "--max-rps", "80", "--factor", "4", "--step-s", "3",
                "--max-time", "2m",
            ],
            capture_output=True, text=True, timeout=240, env=CLEAN_ENV,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((tmp_path / "run" / "capacity" / "summary.json").read_text())
    assert summary["limit"] == "limits" and summary["capacity_rps"] == 20
    assert "80 req/s" in summary["bounded_by"] and "max_spawn_rate" in summary["bounded_by"]
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("holds 20 req/s") and "[limits]" in last, last


def test_a_fractional_rate_is_a_profile_of_its_own(tmp_path: Path) -> None:
    from octopus_qa.loadtest.capacity import CapacityOptions, _step_plan
    from octopus_qa.plan import PlanOptions, build_plan

    plan = build_plan(PlanOptions(run_dir=tmp_path, load=True))
    for rate in (75.0, 112.5):
        step = _step_plan(plan, CapacityOptions(step_s=8), rate)
        assert step.load is not None and step.load.profile is not None
        assert step.load.profile.name == f"capacity-{rate:g}"
        assert step.load.run_time_s == step.load.profile.duration_s

"""`octoqa run`: how each stage's outcome becomes the run's verdict and exit code.

The pipeline runs against a real embedded sandbox; the contract and load stages are replaced by a
small script (through the same `[commands]` table of pipeline.toml a user could edit) that exits
with a chosen code and writes, or does not write, a summary, so each way a stage can end is
tested in a second rather than a minute.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_report_samples import FAILING_RULE, FAKE_JWT, contract_summary, load_summary

from octopus_qa import pipeline
from octopus_qa.cli.run import Progress
from octopus_qa.config import ConfigError
from octopus_qa.pipeline import (
    PipelineConfig,
    RunOptions,
    RunOutcome,
    StageResult,
    judge_stage,
    run_pipeline,
    stage_argv,
)
from octopus_qa.pipeline.capacity_stage import judge_capacity, latest_baseline
from octopus_qa.pipeline.config import CAPACITY_COMMAND, CapacityStage
from octopus_qa.plan import read_plan
from octopus_qa.report import EXIT_CODES, leaks
from octopus_qa.report.summaries import ContractSummary
from octopus_qa.rules import RULES
from octopus_qa.target import free_port

FAKE_STAGE = textwrap.dedent(
    """
    import json, pathlib, sys, time
    stage, behaviour, run_dir = sys.argv[1:4]
    summary = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
    if summary is not None:
        folder = pathlib.Path(run_dir) / stage
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "summary.json").write_text(json.dumps(summary))
    if behaviour == "crash":
        raise RuntimeError("the stage fell over")
    if behaviour == "hang":
        time.sleep(30)
    if behaviour == "leak":
        print(f"octoqa: error: {stage} refused password {sys.argv[5]} with {sys.argv[6]}",
              file=sys.stderr)
        sys.exit(2)
    if behaviour == "2":
        print(f"octoqa: error: cannot reach http://127.0.0.1:9 (from {stage})", file=sys.stderr)
    sys.exit(int(behaviour))
    """
)


def config_with_fake_stages(tmp_path: Path, contract: str, load: str) -> PipelineConfig:
    """pipeline.toml's profiles, with both test stages played by FAKE_STAGE.

    `contract`/`load` are "<behaviour>:<summary>", behaviour an exit code, "crash" or "hang";
    summary "pass", "fail" or "none" (write nothing).
    """
    script = tmp_path / "fake_stage.py"
    script.write_text(FAKE_STAGE)
    samples = {"contract": contract_summary, "load": load_summary}
    commands = {}
    for stage, plan in (("contract", contract), ("load", load)):
        behaviour, kind = plan.split(":")
        argv = ["{python}", str(script), stage, behaviour, "{run_dir}"]
        if kind != "none":
            argv.append(
                json.dumps(samples[stage](kind == "fail")).replace("{", "{{").replace("}", "}}")
            )
        commands[stage] = argv
    default = PipelineConfig.default()
    profiles = {
        name: replace(profile, contract_timeout_s=20.0, load_timeout_s=3.0)
        for name, profile in default.profiles.items()
    }
    return PipelineConfig(profiles=profiles, commands=commands, trend_runs=5)


def run_with(tmp_path: Path, contract: str, load: str) -> RunOutcome:
    config = config_with_fake_stages(tmp_path, contract, load)
    return run_pipeline(RunOptions(target="embedded", reports_root=tmp_path / "reports"), config)


def verdicts(outcome: RunOutcome) -> dict[str, str]:
    return {stage.name: stage.verdict for stage in outcome.stages}


def test_run_exits_0_only_when_every_stage_holds(tmp_path: Path) -> None:
    outcome = run_with(tmp_path, "0:pass", "0:pass")
    assert verdicts(outcome) == {
        "spec": "pass",
        "contract": "pass",
        "load": "pass",
        "report": "pass",
    }
    assert outcome.exit_code == 0
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    assert summary["verdict"] == "pass" and summary["exit_code"] == 0


def test_a_failed_contract_makes_the_run_exit_1(tmp_path: Path) -> None:
    outcome = run_with(tmp_path, "1:fail", "0:pass")
    assert verdicts(outcome)["contract"] == "fail" and outcome.exit_code == 1
    # The stage line names the broken rule first, then the tests that showed it.
    assert outcome.stages[1].reason == f"{FAILING_RULE} broken (1 failed, 0 errors)"


def test_a_breached_gate_makes_the_run_exit_1(tmp_path: Path) -> None:
    outcome = run_with(tmp_path, "0:pass", "1:fail")
    assert verdicts(outcome)["load"] == "fail" and outcome.exit_code == 1
    assert outcome.stages[2].reason == "1 of 2 gates breached, 3 responses broke rules"


def test_a_stage_that_exits_2_makes_the_run_exit_2_naming_it(tmp_path: Path) -> None:
    outcome = run_with(tmp_path, "1:fail", "2:none")
    assert outcome.exit_code == 2
    problem = outcome.first_problem
    assert problem is not None and problem.name == "load"
    assert problem.reason == "cannot reach http://127.0.0.1:9 (from load)"
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    assert summary["reason"] == "load: cannot reach http://127.0.0.1:9 (from load)"


def test_a_stage_that_crashes_is_an_error_not_a_failure(tmp_path: Path) -> None:
    outcome = run_with(tmp_path, "crash:none", "0:pass")
    contract = outcome.stages[1]
    assert (contract.verdict, contract.exit_code, outcome.exit_code) == ("error", 1, 2)
    assert "without writing contract/summary.json" in (contract.reason or "")
    assert (
        "RuntimeError: the stage fell over"
        in (outcome.run_dir / "logs" / "contract.log").read_text()
    )


def test_a_stage_that_passes_without_a_summary_is_not_a_pass(tmp_path: Path) -> None:
    outcome = run_with(tmp_path, "0:none", "0:pass")
    assert verdicts(outcome)["contract"] == "error" and outcome.exit_code == 2
    rules = json.loads((outcome.run_dir / "summary.json").read_text())["rules"]
    assert {r["status"] for r in rules} == {"untested"}


def test_a_stage_past_its_time_limit_is_stopped_and_an_error(tmp_path: Path) -> None:
    outcome = run_with(tmp_path, "0:pass", "hang:none")
    load = outcome.stages[2]
    assert load.verdict == "error" and load.exit_code is None
    assert load.reason == "did not finish within 3 s (stopped)" and load.duration_s < 15


def test_a_default_run_folder_becomes_reports_latest(tmp_path: Path) -> None:
    outcome = run_with(tmp_path, "0:pass", "0:pass")
    latest = tmp_path / "reports" / "latest"
    assert latest.is_symlink() and latest.resolve() == outcome.run_dir.resolve()
    assert (latest / "index.html").is_file()


@pytest.mark.parametrize(
    ("exit_code", "summary", "expected"),
    [
        (0, {"verdict": "pass"}, "pass"),
        (1, {"verdict": "fail"}, "fail"),
        (0, {"verdict": "fail"}, "fail"),
        (0, {"verdict": "error"}, "error"),
        (0, None, "error"),
        (1, None, "error"),
        (2, None, "error"),
        (3, {"verdict": "pass"}, "error"),
        (None, {"verdict": "pass"}, "error"),
    ],
)
def test_a_stage_is_judged_by_exit_code_and_summary_never_pass_by_default(
    exit_code: int | None, summary: dict | None, expected: str
) -> None:
    typed = ContractSummary(verdict=summary["verdict"]) if summary else None
    assert judge_stage("contract", exit_code, typed, "", 5.0)[0] == expected


def test_stage_commands_run_this_python_as_octoqa() -> None:
    argv = stage_argv(
        ["{octoqa}", "load", "--target", "{target}", "--report-dir", "{run_dir}"],
        {"target": "http://127.0.0.1:1", "run_dir": "/r"},
    )
    assert argv == [
        sys.executable,
        "-m",
        "octopus_qa",
        "load",
        "--target",
        "http://127.0.0.1:1",
        "--report-dir",
        "/r",
    ]


def test_pipeline_profiles_name_contract_and_load_profiles() -> None:
    profiles = PipelineConfig.default().profiles
    assert {name: (p.contract, p.load) for name, p in profiles.items()} == {
        "pr": ("quick", "smoke"),
        "release": ("default", "ramp"),
        "nightly": ("deep", "soak"),
    }


def test_pipeline_profiles_exist_in_the_stages_own_profile_files() -> None:
    """A typo in pipeline.toml would only show as a stage exiting 2 in CI: catch it here."""
    root = Path(__file__).resolve().parents[1]
    contract = tomllib.loads((root / "contract_tests" / "profiles.toml").read_text())
    load = tomllib.loads((root / "load" / "profiles.toml").read_text())["profile"]
    for profile in PipelineConfig.default().profiles.values():
        assert profile.contract in contract, profile
        assert profile.load in load, profile


def octoqa(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OCTOPUS_BASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "octopus_qa", "run", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
        check=False,
    )


def write_user_pipeline(directory: Path, config: PipelineConfig) -> None:
    """`directory/.octoqa/pipeline.toml`: the shipped table with `config`'s stage commands, so
    that `octoqa run` started there plays the fake stages (the way a user swaps a command)."""
    shipped = (Path(pipeline.__file__).parent.parent / "pipeline.toml").read_text()
    table = shipped[: shipped.index("[commands]")] + "[commands]\n"
    for stage, argv in config.commands.items():  # JSON strings are TOML basic strings
        table += f"{stage} = [{', '.join(json.dumps(arg) for arg in argv)}]\n"
    (directory / ".octoqa").mkdir()
    (directory / ".octoqa" / "pipeline.toml").write_text(table, encoding="utf-8")


def test_octoqa_run_ends_by_naming_the_broken_rules(tmp_path: Path) -> None:
    write_user_pipeline(tmp_path, config_with_fake_stages(tmp_path, "1:fail", "1:fail"))
    done = octoqa("--profile", "pr", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.rstrip().splitlines()
    # Last, where a CI log's tail shows them: each broken rule by id and title.
    assert lines[-3] == "Broken rules (2):"
    assert set(lines[-2:]) == {
        f"  {FAILING_RULE}: {RULES[FAILING_RULE].title}",
        f"  request-id-present: {RULES['request-id-present'].title} (broken 3x under load)",
    }
    assert "Breached load gates (1):" in lines and "  list p95_ms <= 200, measured 480" in lines
    assert any(line.startswith("Rules: ") and "2 broken" in line for line in lines)
    assert "rule failed" not in done.stdout and "rules failed" not in done.stdout


def test_an_unreachable_target_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = octoqa("--target", f"http://127.0.0.1:{free_port()}", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("octoqa: error: cannot reach http://127.0.0.1:")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--target", "ftp://example"), "is not an http(s) URL"),
        (("--profile", "weekly"), "unknown profile 'weekly' (known: nightly, pr, release)"),
        (("--seed", "many"), "invalid int value"),
        (("--deviations", "no-such-deviations.toml"), "cannot read --deviations"),
    ],
)
def test_a_malformed_option_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    done = octoqa(*args, cwd=tmp_path)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def finished(name: str, verdict: str, reason: str | None = None) -> StageResult:
    return StageResult(name, verdict, 0, 0.0, reason)


def test_progress_in_a_log_is_one_quiet_line_per_stage() -> None:
    log = io.StringIO()
    progress = Progress(log)
    progress.start(2, 4, "contract")
    progress.end(2, 4, finished("contract", "fail", "1 failed, 0 errors"))
    assert re.fullmatch(r"\[2/4\] contract  FAIL +\d+\.\d s  1 failed, 0 errors\n", log.getvalue())


def test_progress_on_a_terminal_shows_elapsed_time_while_a_stage_runs() -> None:
    terminal = Terminal()
    progress = Progress(terminal)
    progress.start(3, 4, "load")
    time.sleep(1.2)
    progress.end(3, 4, finished("load", "pass"))
    shown = terminal.getvalue()
    assert "\r[3/4] load      running" in shown
    assert "\r\x1b[K[3/4] load      PASS" in shown and shown.endswith(" s\n")


def test_a_summary_left_by_an_earlier_run_is_not_believed(tmp_path: Path) -> None:
    run_dir = tmp_path / "reused"
    stale = run_dir / "contract" / "summary.json"
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps(contract_summary(False)))
    config = config_with_fake_stages(tmp_path, "0:none", "0:pass")
    outcome = run_pipeline(RunOptions(target="embedded", report_dir=run_dir), config)
    assert verdicts(outcome)["contract"] == "error" and outcome.exit_code == 2


def test_spec_lint_without_the_linter_is_skipped_with_its_reason_and_never_a_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pip-installed octoqa has no node tools: the run works, and says what it skipped."""
    monkeypatch.setattr(
        pipeline.spec_stage, "PINNED_LINTER", tmp_path / "node_modules" / ".bin" / "redocly"
    )
    monkeypatch.setenv("PATH", str(tmp_path))  # no redocly on PATH either (nor node)
    result = pipeline.check_spec(tmp_path, PipelineConfig.default())
    assert result.verdict == "incomplete" and EXIT_CODES[result.verdict] == 0
    assert not result.holds
    assert "redocly lint" in (result.reason or "")
    checks = json.loads((tmp_path / "spec" / "summary.json").read_text())["checks"]
    assert [(c["name"], c["verdict"]) for c in checks] == [
        ("openapi-spec-validator", "pass"),
        ("redocly lint", "skip"),
    ]


def test_spec_stage_runs_the_pinned_linter_when_it_is_installed(tmp_path: Path) -> None:
    if not pipeline.PINNED_LINTER.exists():
        pytest.skip("the pinned linter is not installed (npm ci --prefix openapi)")
    result = pipeline.check_spec(tmp_path, PipelineConfig.default())
    assert result.verdict == "pass", result.reason
    assert (tmp_path / "spec" / "lint.txt").read_text().strip()


def test_a_secret_in_a_stage_message_is_scrubbed_from_console_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "run-Secret-0451"
    monkeypatch.setenv("OCTOPUS_PASSWORD", password)
    config = config_with_fake_stages(tmp_path, "0:pass", "0:pass")
    leaky = ["{python}", str(tmp_path / "fake_stage.py"), "load", "leak", "{run_dir}"]
    config = replace(
        config, commands={**config.commands, "load": [*leaky, "null", password, FAKE_JWT]}
    )
    outcome = run_pipeline(RunOptions(target="embedded", report_dir=tmp_path / "run"), config)
    reason = outcome.stages[2].reason or ""
    assert outcome.exit_code == 2 and "refused password" in reason
    assert password not in reason and FAKE_JWT not in reason
    assert leaks(outcome.run_dir, [password]) == []


# --- The capacity stage (a profile's `capacity = { ... }`) ------------------------------------


def capacity_summary(exit_code: int, target: str = "embedded") -> dict[str, Any]:
    sentence = {
        0: "holds 40 req/s ...; the capacity gate holds: within 15% of the baseline's 40 req/s",
        1: "holds 20 req/s ...; the capacity gate fails: 50% below the baseline's 40 req/s",
        2: "the load generator, not the API, set the limit at 40 req/s: rerun with --workers 2",
    }[exit_code]
    return {"stage": "capacity", "verdict": sentence, "exit_code": exit_code,
            "capacity_rps": 40 if exit_code == 0 else 20, "limit": "api", "steps": [],
            "target": target}  # fmt: skip


def with_capacity(
    config: PipelineConfig, tmp_path: Path, behaviour: int, baseline: str = "latest"
) -> PipelineConfig:
    """`config` whose profiles all have a capacity stage, played by FAKE_STAGE."""
    summary = json.dumps(capacity_summary(behaviour)).replace("{", "{{").replace("}", "}}")
    fake = ["{python}", str(tmp_path / "fake_stage.py"), "capacity", str(behaviour)]
    profiles = {
        name: replace(profile, capacity=CapacityStage(baseline=baseline, timeout_s=120))
        for name, profile in config.profiles.items()
    }
    commands = {**config.commands, "capacity": [*fake, "{run_dir}", summary]}
    return replace(config, profiles=profiles, commands=commands)


def test_no_shipped_profile_runs_a_capacity_search_unless_asked() -> None:
    """A search takes minutes: the release profile stays about five minutes by default."""
    shipped = PipelineConfig.default()
    assert all(profile.capacity is None for profile in shipped.profiles.values())
    assert shipped.profile("release").stages == ("spec", "contract", "load", "report")
    assert shipped.commands["capacity"][:4] == ("{octoqa}", "capacity", "--plan", "{capacity_plan}")


def test_a_profile_asks_for_the_capacity_gate_in_pipeline_toml(tmp_path: Path) -> None:
    shipped = (Path(pipeline.__file__).parent.parent / "pipeline.toml").read_text()
    asked = tmp_path / "pipeline.toml"
    asked.write_text(
        shipped.replace(
            '# capacity = { baseline = "latest" }', 'capacity = { baseline = "latest" }'
        )
    )
    release = PipelineConfig.read(asked).profile("release")
    assert release.capacity == CapacityStage(baseline="latest", timeout_s=660)
    assert release.stages == ("spec", "contract", "load", "capacity", "report")
    asked.write_text(shipped.replace("# capacity = {", "capacity = { timeout = 5,"))
    with pytest.raises(ConfigError, match=r"profile\.release\.capacity.*timeout"):
        PipelineConfig.read(asked)


def test_a_capacity_regression_fails_the_run_with_the_gate_s_sentence(tmp_path: Path) -> None:
    config = with_capacity(config_with_fake_stages(tmp_path, "0:pass", "0:pass"), tmp_path, 1)
    starts: list[tuple[int, int, str]] = []
    outcome = run_pipeline(
        RunOptions(target="embedded", reports_root=tmp_path / "reports"),
        config,
        on_start=lambda index, count, name: starts.append((index, count, name)),
    )
    assert [s[2] for s in starts] == ["spec", "contract", "load", "capacity", "report"]
    assert {s[1] for s in starts} == {5}
    assert verdicts(outcome)["capacity"] == "fail" and outcome.exit_code == 1
    capacity = outcome.stages[3]
    assert capacity.reason == (
        "no earlier passing capacity run of embedded in "
        f"{tmp_path / 'reports'}: nothing compared (this run's is the next one's baseline); "
        + capacity_summary(1)["verdict"]
    )
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    assert summary["reason"] == f"capacity: {capacity.reason}"
    linked = {a["label"]: a["path"] for a in summary["artifacts"] if a["stage"] == "run"}
    assert linked["capacity_summary"] == "capacity/summary.json"


@pytest.mark.parametrize(
    ("exit_code", "summary", "verdict"),
    [(0, True, "pass"), (1, True, "fail"), (2, True, "error"), (0, False, "error"),
     (1, False, "error"), (None, True, "error"), (3, True, "error")],
)  # fmt: skip
def test_the_capacity_stage_is_judged_by_exit_code_and_its_summary(
    tmp_path: Path, exit_code: int | None, summary: bool, verdict: str
) -> None:
    if summary:
        (tmp_path / "capacity").mkdir()
        written = capacity_summary(exit_code if exit_code in (0, 1, 2) else 0)
        (tmp_path / "capacity" / "summary.json").write_text(json.dumps(written))
    judged, reason = judge_capacity("capacity", exit_code, tmp_path, "", 60.0)
    assert judged == verdict
    if summary and exit_code in (0, 1, 2):
        assert reason == capacity_summary(exit_code)["verdict"]


def earlier_run(root: Path, run_id: str, exit_code: int, target: str = "embedded") -> Path:
    folder = root / run_id / "capacity"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(capacity_summary(exit_code, target)))
    return folder / "summary.json"


def test_latest_is_the_newest_earlier_run_that_passed_against_the_same_target(
    tmp_path: Path,
) -> None:
    """A regressed build is never the next one's baseline, nor is another deployment's run."""
    passed = earlier_run(tmp_path, "20261201-100000-aaaa", 0)
    earlier_run(tmp_path, "20261201-110000-bbbb", 1)  # its gate failed
    earlier_run(tmp_path, "20261201-120000-cccc", 0, "http://127.0.0.1:8080")
    (tmp_path / "20261201-123000-dddd").mkdir()  # no capacity stage
    earlier_run(tmp_path, "20261201-140000-eeee", 0)  # after the run: not earlier
    (tmp_path / "latest").symlink_to("20261201-140000-eeee")
    this_run = tmp_path / "20261201-130000-ffff"
    assert latest_baseline(this_run, "embedded") == passed
    assert latest_baseline(tmp_path / "20261201-090000-0000", "embedded") is None


def test_the_capacity_stage_plans_its_own_search_and_passes_the_baseline(tmp_path: Path) -> None:
    """The release profile's ramp raises the list endpoint's throughput floor to 10 req/s; a
    search's steps are judged without it (a 25 req/s step offers list less than that)."""
    root = tmp_path / "reports"
    before = earlier_run(root, "20261201-100000-aaaa", 0)
    config = with_capacity(config_with_fake_stages(tmp_path, "0:pass", "0:pass"), tmp_path, 0)
    outcome = run_pipeline(
        RunOptions(target="embedded", profile="release", reports_root=root), config
    )
    assert verdicts(outcome)["capacity"] == "pass", outcome.stages[3].reason
    assert outcome.stages[3].reason == capacity_summary(0)["verdict"]
    command = (outcome.run_dir / "logs" / "capacity.log").read_text().splitlines()[0]
    assert command.endswith(f"capacity 0 {outcome.run_dir} {json.dumps(capacity_summary(0))} "
                            f"--baseline {before}")  # fmt: skip
    run_plan = read_plan(outcome.run_dir / "plan.json")
    search = read_plan(outcome.run_dir / "capacity" / "plan.json")
    assert run_plan.load is not None and search.load is not None
    assert run_plan.load.profile is not None and run_plan.load.profile.name == "ramp"
    assert search.load.profile is None and search.load.reset_after_ramp
    assert search.load.slo is not None and run_plan.load.slo is not None
    assert run_plan.load.slo.endpoints["list"].min_rps == 10
    assert search.load.slo.endpoints["list"].min_rps == 1
    assert search.target == run_plan.target and search.seed == run_plan.seed


def test_a_named_capacity_baseline_that_is_missing_stops_the_run_before_any_stage(
    tmp_path: Path,
) -> None:
    config = with_capacity(
        config_with_fake_stages(tmp_path, "0:pass", "0:pass"), tmp_path, 0, "no-such/summary.json"
    )
    root = tmp_path / "reports"
    with pytest.raises(ConfigError, match=r"capacity\.baseline.*no-such/summary.json: no such"):
        run_pipeline(RunOptions(target="embedded", reports_root=root), config)
    assert not root.exists()


@pytest.mark.slow
def test_a_real_capacity_stage_compares_with_the_last_run_that_passed_it(tmp_path: Path) -> None:
    """`octoqa capacity --plan` for real, against the run's embedded sandbox (the contract and
    load stages played by the fake): the first run has nothing to compare with and says so, the
    second compares with the first. A one-step search at 20 req/s keeps it short."""
    config = config_with_fake_stages(tmp_path, "0:pass", "0:pass")
    config = replace(
        config,
        profiles={
            name: replace(profile, capacity=CapacityStage(timeout_s=150))
            for name, profile in config.profiles.items()
        },
        commands={
            **config.commands,
            "capacity": [*CAPACITY_COMMAND, "--start-rps", "20", "--max-rps", "20", "--step-s",
                         "3"],
        },
    )  # fmt: skip
    options = RunOptions(target="embedded", reports_root=tmp_path / "reports")
    first = run_pipeline(options, config)
    assert verdicts(first)["capacity"] == "pass", first.stages[3].reason
    assert (first.stages[3].reason or "").startswith("no earlier passing capacity run")
    second = run_pipeline(options, config)
    assert verdicts(second)["capacity"] == "pass", second.stages[3].reason
    assert "the capacity gate holds: within 15% of the baseline's 20 req/s" in (
        second.stages[3].reason or ""
    )
    summary = json.loads((second.run_dir / "capacity" / "summary.json").read_text())
    assert summary["baseline"]["summary"] == str(
        (first.run_dir / "capacity" / "summary.json").resolve()
    )
    assert (second.run_dir / "capacity" / "index.html").is_file()

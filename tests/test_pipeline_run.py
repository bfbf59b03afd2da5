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

import pytest
from test_report_samples import FAILING_RULE, FAKE_JWT, contract_summary, load_summary

from octopus_qa import pipeline
from octopus_qa.cli.run import Progress
from octopus_qa.pipeline import (
    PipelineConfig,
    RunOptions,
    RunOutcome,
    StageResult,
    judge_stage,
    run_pipeline,
    stage_argv,
)
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
    assert outcome.stages[1].reason == "1 failed, 0 errors"


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

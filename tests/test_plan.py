"""The run plan: a run is decided once, at the edge, and every process reads that decision.

`plan.build_plan` reads each configuration file once; the plan it makes travels as
`<run>/plan.json` (no secret in it) and a stage handed it reads no configuration file again;
`plan.preflight` opens it once: one sandbox, one login.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from octopus_qa import config
from octopus_qa.errors import TargetNotAllowed, UsageError
from octopus_qa.plan import PlanOptions, build_plan, preflight, read_plan, write_plan

#: The module (the package re-exports its function under the same name).
preflight_module = importlib.import_module("octopus_qa.plan.preflight")
BOTH_PARTS = PlanOptions(contract_profile="quick", load=True, load_profile="smoke")


def test_building_a_plan_reads_each_configuration_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: Counter[str] = Counter()
    real_read = config.read

    def counting_read(path: Path, kind: Any) -> Any:
        reads[Path(path).name] += 1
        return real_read(path, kind)

    monkeypatch.setattr(config, "read", counting_read)
    build_plan(_with(BOTH_PARTS, run_dir=tmp_path))
    assert set(reads) == {
        "profiles.toml",  # contract_tests/ and load/ ship one each: both read once
        "slo.toml",
        "generator.toml",
        "allowed-hosts.toml",
    }
    assert reads["profiles.toml"] == 2 and reads["slo.toml"] == 1, reads


def test_the_plan_travels_as_json_and_reads_back_the_same(tmp_path: Path) -> None:
    plan = build_plan(_with(BOTH_PARTS, run_dir=tmp_path, seed=7))
    assert write_plan(plan) == tmp_path / "plan.json"
    assert read_plan(tmp_path / "plan.json") == plan
    assert plan.seed == 7 and plan.target.kind == "embedded" and plan.target.url is None


def test_the_plan_says_where_the_credentials_come_from_never_what_they_are(
    tmp_path: Path,
) -> None:
    environ = {"OCTOPUS_USERNAME": "qa-user-5a1f@example.com", "OCTOPUS_PASSWORD": "pw-9c2e7b"}
    plan = build_plan(_with(BOTH_PARTS, run_dir=tmp_path), environ=environ)
    text = write_plan(plan).read_text(encoding="utf-8")
    assert plan.credentials.source == "environment"
    assert "qa-user-5a1f" not in text and "pw-9c2e7b" not in text
    assert build_plan(_with(BOTH_PARTS), environ={}).credentials.source == "demo account"


def test_a_target_is_chosen_by_option_then_environment_then_embedded() -> None:
    environ = {"OCTOPUS_BASE_URL": "http://127.0.0.1:9/"}
    assert build_plan(PlanOptions(target="http://127.0.0.1:8"), environ=environ).target.url == (
        "http://127.0.0.1:8"
    )
    from_env = build_plan(PlanOptions(), environ=environ).target
    assert (from_env.url, from_env.chosen_by) == ("http://127.0.0.1:9", "$OCTOPUS_BASE_URL")
    assert build_plan(PlanOptions(), environ={}).target.kind == "embedded"


def test_a_load_target_outside_the_allow_list_is_refused_while_planning() -> None:
    with pytest.raises(TargetNotAllowed):
        build_plan(_with(BOTH_PARTS, target="http://192.0.2.1:8080"), environ={})


def test_a_broken_plan_file_is_one_usage_error(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text('{"seed": "seven"}', encoding="utf-8")
    with pytest.raises(UsageError, match="not a run plan"):
        read_plan(tmp_path / "plan.json")
    with pytest.raises(UsageError, match="cannot read the run plan"):
        read_plan(tmp_path / "missing.json")


def test_the_preflight_starts_one_sandbox_and_logs_in_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logins: list[str] = []
    real_login = preflight_module.login

    def counting_login(url: str, *args: Any, **kwargs: Any) -> Any:
        logins.append(url)
        return real_login(url, *args, **kwargs)

    monkeypatch.setattr(preflight_module, "login", counting_login)
    plan = build_plan(_with(BOTH_PARTS, run_dir=tmp_path))
    with preflight(plan) as opened:
        assert opened.plan.target.url == opened.url and opened.url.startswith("http://127.0.0.1:")
        assert opened.plan.target.kind == "embedded" and opened.tokens.access_token
    assert logins == [opened.url]


def test_a_stage_handed_the_plan_reads_no_configuration_file_again(tmp_path: Path) -> None:
    """Plan with the shipped files, then break them all: the stage still runs, from the plan."""
    plan = build_plan(_with(BOTH_PARTS, run_dir=tmp_path / "run"))
    broken = tmp_path / "config"
    broken.mkdir()
    for name in ("contract-profiles.toml", "load-profiles.toml", "slo.toml", "generator.toml"):
        (broken / name).write_text("this is not = = toml\n", encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "octopus_qa", "contract", "--plan", str(write_plan(plan)),
         "--", "-k", "test_unknown_path_is_not_found"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "OCTOQA_CONFIG": str(broken)},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:] + completed.stdout[-3000:]
    assert read_plan(tmp_path / "run" / "plan.json").target.url is not None  # the opened plan


def _with(options: PlanOptions, **changes: Any) -> PlanOptions:
    from dataclasses import replace

    return replace(options, **changes)

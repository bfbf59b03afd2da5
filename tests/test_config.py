"""A user's own configuration: their files win, a missing one falls back to the shipped default,
`octoqa init` writes commented copies, and a broken edit is one line (file, key, problem), exit 2.

Everything goes through the real command line (`octopus_qa.cli.main`, in-process, from a folder
of the test's own). The target is a closed loopback port: when a test's configuration is good,
the command gets as far as the preflight and says it cannot reach the target; when it is bad, it
stops before sending anything, naming the file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from contract_runs import REPO_ROOT
from test_report_samples import contract_summary, load_summary

from octopus_qa import config
from octopus_qa.cli import main
from octopus_qa.pipeline import PipelineConfig, RunOptions, run_pipeline
from octopus_qa.target import free_port

SHIPPED = {name: entry.default for name, entry in config.FILES.items() if entry.default}


@pytest.fixture(autouse=True)
def own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test in an empty working directory, with no configuration directory in force."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(config.ENV_VAR, raising=False)
    return tmp_path


def closed_target() -> str:
    return f"http://127.0.0.1:{free_port()}"


def octoqa(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def edited(name: str, old: str, new: str) -> str:
    """The shipped file with one edit, as a user would make it."""
    text = SHIPPED[name].read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in the shipped {name}"
    return text.replace(old, new, 1)


TINY_LOAD_PROFILE = "\n[profile.tiny]\nkind = 'ramp'\nusers = 1\nramp_s = 0\nhold_s = 1\n"


# --- Which file is read -------------------------------------------------------------------------


def test_a_file_in_the_config_directory_wins_over_the_shipped_one(
    own_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = own_folder / "team-config"
    write(
        mine,
        "load-profiles.toml",
        edited("load-profiles.toml", "[profile.smoke]", TINY_LOAD_PROFILE + "[profile.smoke]"),
    )
    code, _, err = octoqa(
        capsys, "load", "--config", str(mine), "--profile", "tiny", "--target", closed_target()
    )
    assert code == 2 and "cannot reach" in err  # the profile was found: it got to the preflight
    code, _, err = octoqa(capsys, "load", "--profile", "tiny", "--target", closed_target())
    assert code == 2 and "unknown load profile 'tiny'" in err  # without --config: the shipped file


def test_a_file_missing_from_the_config_directory_is_the_shipped_default(own_folder: Path) -> None:
    mine = own_folder / "mine"
    write(mine, "slo.toml", SHIPPED["slo.toml"].read_text(encoding="utf-8"))
    with config.using(mine):
        assert config.find("slo.toml") == mine.resolve() / "slo.toml"
        assert config.find("load-profiles.toml") == SHIPPED["load-profiles.toml"]
        assert config.find("deviations.toml") is None  # nothing shipped, none of the user's


def test_the_conventional_directory_in_the_working_directory_is_found(
    own_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        own_folder / ".octoqa",
        "load-profiles.toml",
        edited("load-profiles.toml", "[profile.smoke]", TINY_LOAD_PROFILE + "[profile.smoke]"),
    )
    code, _, err = octoqa(capsys, "load", "--profile", "tiny", "--target", closed_target())
    assert code == 2 and "cannot reach" in err


def test_config_option_wins_over_the_environment_and_the_conventional_directory(
    own_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (".octoqa", "from-env", "from-option"):
        write(own_folder / name, "slo.toml", SHIPPED["slo.toml"].read_text(encoding="utf-8"))
    assert config.find("slo.toml") == own_folder.resolve() / ".octoqa" / "slo.toml"
    monkeypatch.setenv(config.ENV_VAR, str(own_folder / "from-env"))
    assert config.find("slo.toml") == own_folder.resolve() / "from-env" / "slo.toml"
    with config.using(own_folder / "from-option"):
        assert config.find("slo.toml") == own_folder.resolve() / "from-option" / "slo.toml"
        assert config.environment() == {config.ENV_VAR: str(own_folder.resolve() / "from-option")}
    assert config.find("slo.toml") == own_folder.resolve() / "from-env" / "slo.toml"


def test_a_config_directory_that_does_not_exist_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = octoqa(capsys, "contract", "--config", "nowhere", "--target", closed_target())
    assert code == 2
    assert (
        err
        == "octoqa: error: --config nowhere: no such directory (`octoqa init nowhere` writes one)\n"
    )


def test_a_misspelt_file_name_in_the_config_directory_is_refused(
    own_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(own_folder / ".octoqa", "slos.toml", "version = 1\n")
    code, _, err = octoqa(capsys, "load", "--target", closed_target())
    assert code == 2
    assert err.startswith(
        "octoqa: error: .octoqa/slos.toml: not a file octoqa reads; did you mean slo.toml?"
    )
    assert err.count("\n") == 1


def test_run_hands_the_config_directory_to_its_stages(own_folder: Path) -> None:
    """The stages are processes of their own: each must read the directory the run was given."""
    script = write(
        own_folder,
        "stage.py",
        "import os, pathlib, sys\n"
        "run_dir, stage, summary = sys.argv[1:4]\n"
        "(pathlib.Path(run_dir) / stage).mkdir(parents=True, exist_ok=True)\n"
        "(pathlib.Path(run_dir) / stage / 'summary.json').write_text(summary)\n"
        "print('config seen by the stage:', os.environ.get('OCTOQA_CONFIG'))\n",
    )
    commands = {
        stage: [
            "{python}",
            str(script),
            "{run_dir}",
            stage,
            json.dumps(sample(False)).replace("{", "{{").replace("}", "}}"),
        ]
        for stage, sample in (("contract", contract_summary), ("load", load_summary))
    }
    mine = own_folder / "mine"
    pipeline = edited("pipeline.toml", "[commands]", "[commands-shipped]").split(
        "[commands-shipped]"
    )[0]
    pipeline += "[commands]\n" + "".join(
        f"{stage} = {json.dumps(argv)}\n" for stage, argv in commands.items()
    )
    write(mine, "pipeline.toml", pipeline)
    with config.using(mine):
        outcome = run_pipeline(RunOptions(report_dir=own_folder / "run"))
    assert [stage.verdict for stage in outcome.stages][1:3] == [
        "pass",
        "pass",
    ]  # the user's commands ran
    for stage in ("contract", "load"):
        log = (own_folder / "run" / "logs" / f"{stage}.log").read_text(encoding="utf-8")
        assert f"config seen by the stage: {mine.resolve()}" in log


# --- octoqa init --------------------------------------------------------------------------------


def test_init_writes_commented_copies_of_every_shipped_file(
    own_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = octoqa(capsys, "init")
    assert code == 0
    for name, default in SHIPPED.items():
        copy = (own_folder / ".octoqa" / name).read_text(encoding="utf-8")
        assert copy.startswith(f"# Your copy of octoqa's {name}")
        assert copy.endswith(default.read_text(encoding="utf-8"))  # comments and all
        assert name in out
    assert "--config" in out and ".octoqa" in out


def test_init_copies_are_valid_as_written(
    own_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert octoqa(capsys, "init", "mine")[0] == 0
    for command in ("contract", "load", "run"):
        code, _, err = octoqa(capsys, command, "--config", "mine", "--target", closed_target())
        assert code == 2 and "cannot reach" in err, (command, err)


def test_init_refuses_to_overwrite_unless_forced(
    own_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(own_folder / ".octoqa", "slo.toml", "# my own\n")
    code, _, err = octoqa(capsys, "init")
    assert code == 2
    assert err == "octoqa: error: .octoqa/slo.toml exists; nothing written (--force overwrites)\n"
    assert (own_folder / ".octoqa" / "slo.toml").read_text() == "# my own\n"
    assert not (own_folder / ".octoqa" / "pipeline.toml").exists()
    assert octoqa(capsys, "init", "--force")[0] == 0
    assert (own_folder / ".octoqa" / "slo.toml").read_text() != "# my own\n"


# --- A broken edit: one line naming the file, the key and the problem ---------------------------

#: (file, the edit (old → new) to the shipped text, the command that reads it, what the line says)
BROKEN_EDITS = [
    # TOML syntax, with the line
    (
        "contract-profiles.toml",
        ("max_examples = 8", "max_examples = = 8"),
        "contract",
        ": not valid TOML: Invalid value (at line ",
    ),
    ("load-profiles.toml", ("[profile.smoke]", "[profile.smoke"), "load", ": not valid TOML: "),
    (
        "pipeline.toml",
        ('default_profile = "pr"', "default_profile = pr"),
        "run",
        ": not valid TOML: ",
    ),
    # a misspelt key
    (
        "contract-profiles.toml",
        ("max_examples = 8", "max_exampels = 8"),
        "contract",
        ": quick.max_exampels: unknown key; did you mean 'max_examples'?",
    ),
    (
        "contract-profiles.toml",
        ("generation.max-examples = 12", "generation.max-exampels = 12"),
        "contract",
        ": quick.schemathesis: Error in [generation] section: Unknown properties: 'max-exampels' -> Did you mean 'max-examples'?",
    ),
    (
        "load-profiles.toml",
        ("users = 12", "usres = 12"),
        "load",
        ": profile.smoke.usres: unknown key; did you mean 'users'?",
    ),
    (
        "slo.toml",
        ("p95_ms = 250", "p95ms = 250"),
        "load",
        ": endpoint.login.p95ms: unknown key; did you mean 'p95_ms'?",
    ),
    (
        "allowed-hosts.toml",
        ("hosts = [", "host = ["),
        "load",
        ": host: unknown key; did you mean 'hosts'?",
    ),
    (
        "pipeline.toml",
        ("load_timeout_s = 90", "load_timeout = 90"),
        "run",
        ": profile.pr.load_timeout: unknown key; did you mean 'load_timeout_s'?",
    ),
    (
        "generator.toml",
        ("late_after_ms = 50", "late_after = 50"),
        "load",
        ": generator.late_after: unknown key; did you mean 'late_after_ms'?",
    ),
    # a missing key
    (
        "load-profiles.toml",
        ("hold_s = 8", ""),
        "load",
        ": profile.smoke.hold_s: missing (required)",
    ),
    # a wrong type
    (
        "contract-profiles.toml",
        ("max_examples = 8", 'max_examples = "8"'),
        "contract",
        ": quick.max_examples: expected int, got str",
    ),
    (
        "load-profiles.toml",
        ("users = 12", "users = 12.5"),
        "load",
        ": profile.smoke.users: expected int, got float",
    ),
    (
        "allowed-hosts.toml",
        ('"sandbox-api.octopuscards.io",', '"https://sandbox-api.octopuscards.io/",'),
        "load",
        ": hosts[0]: 'https://sandbox-api.octopuscards.io/' is not a host name",
    ),
    (
        "pipeline.toml",
        ("trend_runs = 10", "trend_runs = true"),
        "run",
        ": report.trend_runs: expected int, got bool",
    ),
    # a value out of range
    (
        "contract-profiles.toml",
        ("max_examples = 8", "max_examples = 0"),
        "contract",
        ": quick.max_examples: expected int >= 1, got 0",
    ),
    (
        "slo.toml",
        ("max_error_rate = 0.01", "max_error_rate = 1.5"),
        "load",
        ": endpoint.login.max_error_rate: expected float <= 1.0, got 1.5",
    ),
    (
        "load-profiles.toml",
        ("hold_s = 8", "hold_s = 8000"),
        "load",
        ": profile.smoke: lasts 8002 s, above the cap of 3600 s (limits.max_duration_s)",
    ),
    (
        "pipeline.toml",
        ("contract_timeout_s = 150", "contract_timeout_s = -1"),
        "run",
        ": profile.pr.contract_timeout_s: expected float > 0.0, got -1",
    ),
    # an unknown name
    (
        "load-profiles.toml",
        ('kind = "ramp"', 'kind = "rmap"'),
        "load",
        ": profile.smoke.kind: invalid value 'rmap' (one of: arrival, ramp, spike, step)",
    ),
    (
        "contract-profiles.toml",
        ("[deep]", "[depe]"),
        "contract",
        ": depe: unknown key; did you mean 'deep'?",
    ),
    (
        "slo.toml",
        ("[profile.ramp.endpoint.list]", "[profile.rmap.endpoint.list]"),
        "load",
        ": profile.rmap: no such load profile (known: smoke, ",
    ),
    (
        "slo.toml",
        ("[endpoint.crawl]", "[endpoint.crawler]"),
        "load",
        ": endpoint.crawler: unknown endpoint (known: ",
    ),
    (
        "pipeline.toml",
        ('contract = "quick"', 'contract = "quik"'),
        "run",
        ": profile.pr.contract: no such contract profile 'quik' (known: quick, default, deep)",
    ),
    (
        "pipeline.toml",
        ('default_profile = "pr"', 'default_profile = "weekly"'),
        "run",
        ": default_profile: no such [profile.weekly] (known: pr, release, nightly)",
    ),
    (
        "pipeline.toml",
        ('load = "smoke"', 'load = "smok"'),
        "run",
        ": profile.pr.load: no such load profile 'smok' in ",
    ),
]


@pytest.mark.parametrize(
    ("name", "edit", "command", "says"),
    BROKEN_EDITS,
    ids=[f"{name}:{edit[1] or 'deleted ' + edit[0]}" for name, edit, _, _ in BROKEN_EDITS],
)
def test_a_broken_edit_is_one_line_naming_file_key_and_problem_and_exit_2(
    capsys: pytest.CaptureFixture[str], name: str, edit: tuple[str, str], command: str, says: str
) -> None:
    write(Path(".octoqa"), name, edited(name, *edit))
    code, out, err = octoqa(capsys, command, "--target", closed_target())
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("octoqa: error: ")
    assert err.startswith(f"octoqa: error: .octoqa/{name}: "), err
    assert says in err, err


def test_a_broken_file_is_named_by_octoqa_run_before_any_stage_runs(
    own_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in slo.toml must not cost a contract run first."""
    write(own_folder / ".octoqa", "slo.toml", edited("slo.toml", "p95_ms = 250", "p95ms = 250"))
    code, out, err = octoqa(capsys, "run")
    assert code == 2 and err.startswith("octoqa: error: .octoqa/slo.toml: endpoint.login.p95ms: ")
    assert out == "configuration: .octoqa/ (yours: slo.toml; the rest shipped)\n"
    assert not (own_folder / "reports").exists()


def test_the_shipped_pipeline_plans_every_profile_with_every_stage_file(tmp_path: Path) -> None:
    from octopus_qa.pipeline import RunOptions, plan_run

    pipeline = PipelineConfig.default()
    for profile in pipeline.profiles.values():
        plan = plan_run(pipeline, profile, RunOptions(report_dir=tmp_path / profile.name))
        assert plan.contract is not None and plan.contract.profile.name == profile.contract
        assert plan.load is not None and plan.load.profile is not None
        assert plan.load.profile.name == profile.load and plan.load.slo is not None


def test_plain_pytest_of_the_contract_suite_reads_the_same_directory(
    own_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from octopus_qa.plan.contract_profiles import load_profile

    mine = own_folder / "mine"
    write(
        mine,
        "contract-profiles.toml",
        edited("contract-profiles.toml", "max_examples = 8", "max_examples = 3"),
    )
    monkeypatch.setenv(config.ENV_VAR, str(mine))
    assert load_profile("quick").max_examples == 3
    assert (
        load_profile("quick").schemathesis["generation"]["max-examples"] == 12
    )  # merged as before


def test_plain_pytest_with_a_broken_profiles_file_is_one_line_and_exit_2(own_folder: Path) -> None:
    write(
        own_folder / ".octoqa",
        "contract-profiles.toml",
        edited("contract-profiles.toml", "max_examples = 8", "max_exampels = 8"),
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(REPO_ROOT / "contract_tests"),
            "-q",
            "-p",
            "no:cacheprovider",
        ]
        + ["--target", closed_target()],
        cwd=own_folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    output = (done.stdout + done.stderr).strip()
    assert "Traceback" not in output and "INTERNALERROR" not in output
    assert output.endswith(
        "octoqa: error: .octoqa/contract-profiles.toml: quick.max_exampels: unknown key; did you mean 'max_examples'?"
    )

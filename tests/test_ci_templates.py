"""The CI templates in ci-templates/: valid for their CI (per the vendored schemas that
check-jsonschema ships), and wired to run `octoqa run` the way docs/ci.md promises."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import octopus_qa

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "ci-templates"
GITHUB = TEMPLATES / "github-actions.yml"
GITLAB = TEMPLATES / "gitlab-ci.yml"
CHECK_JSONSCHEMA = shutil.which("check-jsonschema") or str(
    Path(sys.executable).with_name("check-jsonschema")
)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def schema_check(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    if not Path(CHECK_JSONSCHEMA).exists():
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema)")
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("schema", "path"),
    [("vendor.github-workflows", GITHUB), ("vendor.gitlab-ci", GITLAB)],
    ids=["github", "gitlab"],
)
def test_template_is_valid_for_its_ci(schema: str, path: Path) -> None:
    done = schema_check(schema, path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The validator is a real check: a job without `runs-on` or steps is refused."""
    broken = tmp_path / "broken.yml"
    workflow = load(GITHUB)
    del workflow["jobs"]["octoqa"]["runs-on"]
    broken.write_text(yaml.safe_dump(workflow))
    assert schema_check("vendor.github-workflows", broken).returncode != 0


def run_lines(steps: list[dict[str, Any]]) -> str:
    return "\n".join(str(step.get("run", "")) for step in steps)


def assert_installs_octoqa_as_a_package(variables: dict[str, str], commands: str) -> None:
    """Copied into a team's repository, the job installs octoqa itself, never the team's project."""
    assert "pip install -e" not in commands and "npm ci --prefix openapi" not in commands
    assert 'pip install "$OCTOQA_PACKAGE"' in commands
    assert variables["OCTOQA_PACKAGE"].startswith("octopus-cards-qa==")
    # The linter octoqa's own checkout pins, at the same version.
    pinned = json.loads((REPO / "openapi" / "package.json").read_text())["devDependencies"]
    assert variables["REDOCLY_CLI"] == f"@redocly/cli@{pinned['@redocly/cli']}"
    assert 'npm install --global "$REDOCLY_CLI"' in commands


def test_template_pins_the_version_this_checkout_builds() -> None:
    for variables in (load(GITHUB)["jobs"]["octoqa"]["env"], load(GITLAB)["octoqa"]["variables"]):
        assert variables["OCTOQA_PACKAGE"] == f"octopus-cards-qa=={octopus_qa.__version__}"


def test_github_runs_pr_profile_on_pull_requests_and_release_on_tags() -> None:
    workflow = load(GITHUB)
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as True
    assert "pull_request" in triggers and "tags" in triggers["push"]
    job = workflow["jobs"]["octoqa"]
    assert job["env"]["OCTOQA_PROFILE"] == (
        "${{ startsWith(github.ref, 'refs/tags/') && 'release' || 'pr' }}"
    )
    steps = job["steps"]
    python = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.11"
    commands = run_lines(steps)
    assert_installs_octoqa_as_a_package(job["env"], commands)
    assert 'octoqa run --profile "$OCTOQA_PROFILE"' in commands
    assert 'cat reports/latest/summary.md >> "$GITHUB_STEP_SUMMARY"' in commands


def test_github_passes_credentials_from_secrets_and_publishes_reports_always() -> None:
    steps = load(GITHUB)["jobs"]["octoqa"]["steps"]
    run = next(s for s in steps if "octoqa run" in str(s.get("run", "")))
    for name in ("OCTOPUS_BASE_URL", "OCTOPUS_USERNAME", "OCTOPUS_PASSWORD"):
        assert run["env"][name] == f"${{{{ secrets.{name} }}}}"
    assert "continue-on-error" not in run  # exit 1 and 2 fail the job
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["if"] == "${{ always() }}" and "reports/" in upload["with"]["path"]


def test_github_publishes_every_stage_junit_as_a_test_report() -> None:
    workflow = load(GITHUB)
    steps = workflow["jobs"]["octoqa"]["steps"]
    junit = next(s for s in steps if str(s.get("uses", "")).startswith("mikepenz/action-junit"))
    assert junit["if"] == "${{ always() }}"
    assert junit["with"]["report_paths"] == "reports/latest/*/junit.xml"  # spec, contract, load
    assert workflow["permissions"]["checks"] == "write"


def test_gitlab_publishes_every_stage_junit_as_a_test_report() -> None:
    reports = load(GITLAB)["octoqa"]["artifacts"]["reports"]["junit"]
    assert sorted(reports) == [
        f"reports/*/{stage}/junit.xml" for stage in ("contract", "load", "spec")
    ]


def test_gitlab_runs_pr_profile_on_merge_requests_and_release_on_tags() -> None:
    job = load(GITLAB)["octoqa"]
    profiles = {rule["if"]: rule["variables"]["OCTOQA_PROFILE"] for rule in job["rules"]}
    assert profiles == {
        '$CI_PIPELINE_SOURCE == "merge_request_event"': "pr",
        "$CI_COMMIT_TAG": "release",
    }
    assert_installs_octoqa_as_a_package(job["variables"], "\n".join(job["before_script"]))
    assert job["script"] == ['octoqa run --profile "$OCTOQA_PROFILE"']
    assert "allow_failure" not in job
    assert job["artifacts"]["when"] == "always" and "reports/" in job["artifacts"]["paths"]

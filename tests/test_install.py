"""octoqa installed as a QA team installs it: a wheel into a bare venv, run from their own folder.

Nothing of the checkout is on the path: the spec, the profiles, the contract tests and the
locustfile must all come from inside the installed package (`octopus_qa.bundled`). The venv has
no node tools, so the OpenAPI linter is skipped and says so; the run still works (exit 0) and its
verdict is "incomplete", never "pass".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_runs import REPO_ROOT

from octopus_qa.sandbox.server import free_port, wait_listening

pytestmark = pytest.mark.slow

#: Building the wheel and installing its dependencies from the package index.
INSTALL_TIMEOUT_S = 600
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel built from this checkout (and its pinned dependencies)."""
    root = tmp_path_factory.mktemp("install")
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), "."],
        cwd=REPO_ROOT,
        check=True,
        timeout=INSTALL_TIMEOUT_S,
        capture_output=True,
    )
    (wheel,) = wheels.glob("octopus_cards_qa-*.whl")
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=True)
    subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        + ["-c", str(REPO_ROOT / "constraints.txt"), str(wheel)],
        check=True,
        timeout=INSTALL_TIMEOUT_S,
        capture_output=True,
    )
    return env_dir / "bin"


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A team's own working directory: no checkout of ours in it or above it."""
    assert REPO_ROOT not in tmp_path.parents
    return tmp_path


def octoqa(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Only the venv's bin on PATH (and the system's, for node): as a pipeline image would have.
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(bin_dir / "octoqa"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


@pytest.fixture
def installed_sandbox(installed: Path) -> Iterator[str]:
    """The installed package's own sandbox, in its own process."""
    port = free_port()
    process = subprocess.Popen(
        [str(installed / "octoqa"), "sandbox", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, process, 30.0)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def test_installed_octoqa_reports_its_version(installed: Path, elsewhere: Path) -> None:
    done = octoqa(installed, elsewhere, "--version")
    assert done.returncode == 0
    assert done.stdout.strip().startswith("octoqa ")


def test_installed_octoqa_runs_the_whole_pipeline_from_a_folder_of_its_own(
    installed: Path, elsewhere: Path
) -> None:
    done = octoqa(installed, elsewhere, "run", "--profile", "pr")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((elsewhere / "reports" / "latest" / "summary.json").read_text())
    stages = {stage["name"]: stage["verdict"] for stage in summary["stages"]}
    assert stages["contract"] == "pass" and stages["load"] == "pass", stages
    # No node tools in this venv: the linter is skipped with its reason, never counted a pass.
    assert stages["spec"] == "incomplete" and summary["verdict"] == "incomplete"
    assert "Redocly CLI is not installed" in done.stdout


def test_installed_contract_suite_judges_a_named_target(
    installed: Path, elsewhere: Path, installed_sandbox: str
) -> None:
    done = octoqa(
        installed, elsewhere, "contract", "--profile", "quick", "--target", installed_sandbox
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout
    assert (elsewhere / "reports" / "latest" / "contract" / "junit.xml").is_file()


def test_installed_octoqa_init_copies_the_defaults_a_team_then_edits(
    installed: Path, elsewhere: Path
) -> None:
    done = octoqa(installed, elsewhere, "init")
    assert done.returncode == 0, done.stderr
    written = sorted(path.name for path in (elsewhere / ".octoqa").iterdir())
    assert written == [
        "allowed-hosts.toml",
        "contract-profiles.toml",
        "generator.toml",
        "load-profiles.toml",
        "pipeline.toml",
        "slo.toml",
    ]
    slo = elsewhere / ".octoqa" / "slo.toml"
    slo.write_text(slo.read_text().replace("p95_ms = 250", "p95ms = 250", 1))
    done = octoqa(installed, elsewhere, "load", "--target", "http://127.0.0.1:9")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(
        "octoqa: error: .octoqa/slo.toml: endpoint.login.p95ms: unknown key"
    )

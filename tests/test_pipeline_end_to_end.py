"""One real `octoqa run --profile pr` against the embedded sandbox, as a user (or CI) starts it:
every stage holds, within the two-minute budget, and no secret reaches any file of the run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from contract_runs import sandbox

from octopus_qa.report.redact import JWT_LIKE
from octopus_qa.report.summaries import SCHEMA_VERSION
from octopus_qa.sandbox.faults import FAULTS

#: The budget for the pull-request profile on a 2-core machine (docs/run.md § Profiles: "under two
#: minutes").
PR_BUDGET_S = 120
PASSWORD = "e2e-Secret-pässword-42"


@pytest.mark.slow
def test_pr_run_holds_within_budget_and_leaks_no_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OCTOPUS_BASE_URL"}
    env |= {"OCTOPUS_USERNAME": "e2e@octopus.example", "OCTOPUS_PASSWORD": PASSWORD}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "octopus_qa", "run", "--profile", "pr", "--seed", "3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=PR_BUDGET_S + 60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert elapsed < PR_BUDGET_S, f"octoqa run --profile pr took {elapsed:.0f} s"

    # Not a terminal: one quiet line per stage, in order.
    stage_lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert [line.split()[1] for line in stage_lines] == ["spec", "contract", "load", "report"]
    assert all(line.split()[2] == "PASS" for line in stage_lines)

    run_dir = (tmp_path / "reports" / "latest").resolve()
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["verdict"] == "pass" and summary["profile"] == "pr" and summary["seed"] == 3
    assert summary["totals"]["rules"]["fail"] == 0 and summary["totals"]["gates"]["total"] > 0
    assert summary["coverage"]["declared"] > 0 and summary["history"]
    for artifact in summary["artifacts"]:
        assert artifact["exists"], artifact

    # One typed summary per stage and the run: versioned, `started` in one form, the seed recorded.
    assert done.stdout.splitlines()[0].startswith("octoqa run: profile pr, seed 3")
    iso_utc = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
    for name in ("spec", "contract", "load", None):
        path = run_dir / name / "summary.json" if name else run_dir / "summary.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["schema_version"] == SCHEMA_VERSION and data["stage"] == (name or "run")
        assert iso_utc.match(data["started"]), (name, data["started"])
        if name in ("contract", "load"):
            assert data["seed"] == 3, name
        if name:  # every verdict where CI dashboards look
            assert (run_dir / name / "junit.xml").is_file(), name

    files = [path for path in run_dir.rglob("*") if path.is_file()]
    assert len(files) > 8
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert PASSWORD not in text, path
        assert not JWT_LIKE.search(text), path
        assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}\.", text), path


@pytest.mark.slow
#: One in every run of this project's tests, the other in the soak (CI's budget): the kill-rate
#: test catches total-count-races at its own profile in every run.
@pytest.mark.parametrize(
    "fault",
    ["request-id-shared-buffer", pytest.param("total-count-races", marks=pytest.mark.soak)],
)
def test_pr_run_catches_a_fault_that_only_shows_under_concurrency(
    tmp_path: Path, fault: str
) -> None:
    """Faults that answer every sequential request right show only when requests overlap: the
    pull-request profile catches them (its contract stage's burst, and its load stage)."""
    with sandbox("--fault", fault) as url:
        done = subprocess.run(
            [sys.executable, "-m", "octopus_qa", "run", "--profile", "pr", "--seed", "3"]
            + ["--target", url],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=PR_BUDGET_S + 60,
            check=False,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    run_dir = (tmp_path / "reports" / "latest").resolve()
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    failed = {rule["id"] for rule in summary["rules"] if rule["status"] == "fail"}
    assert FAULTS[fault].rule in failed, (failed, done.stdout[-2000:])

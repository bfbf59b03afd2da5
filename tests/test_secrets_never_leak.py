"""No username, password or token reaches what a run prints or leaves behind, passing or failing.

A property over generated accounts (hypothesis): names and passwords that look like ordinary
words of this API, like JSON, with quotes, `<&>`, backslashes and non-ASCII letters. Each
example serves the sandbox with that account and a planted fault, so tests fail and the failure
path runs (tracebacks with the login exchange, hypothesis's example lines, curl reproduction
lines, schemathesis's report), then a short load run against the same sandbox, then a whole
`octoqa run` against a sandbox that dies mid-run (`--chaos die-after=N`): its contract stage
stops with the target gone, its load stage cannot reach it, and the report is written from the
logs of both. Nothing may hold the secret in any form it takes once written (report/redact.py's
`written_forms`), nor a JWT: stdout, stderr, and every file of every run directory, stage logs
included.

The property is soak (minutes); `test_no_secret_reaches_a_run_whose_target_dies` holds the
dying run to the same standard in the default run, with one account spelt to be hard to scrub.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from contract_runs import REPO_ROOT, run_contract, sandbox
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from octopus_qa.report.redact import JWT_LIKE, run_files, written_forms

#: Words a report is full of: a secret spelt like them must still be scrubbed where it occurs.
API_WORDS = ["page", "limit", "error", "products", "null", "true", "Bearer", "password", "id"]
SPECIALS = ['"', "'", "<", ">", "&", "\\", "é", "ß", "日本", "{", "}", ":", ",", " "]

#: A contract subset that exercises login, the wrong-credential tests' curl lines and
#: schemathesis's login cases; with the fault below, several of them fail.
CONTRACT_SELECTION = ["-k", "login or credentials"]
FAULT = "any-password-accepted"
#: Requests the dying sandbox answers: the run's own login and preflight, then the contract
#: stage's first tests (the login and credential tests among them, failing with the fault).
DIES_AFTER = 60
#: An account spelt to defeat a naive scrubber: quotes and a backslash (JSON- and shell-escaped
#: forms differ), `<&>` (HTML-escaped), non-ASCII letters (ascii() and URL forms), and JSON.
HARD_ACCOUNT = {
    "OCTOPUS_USERNAME": 'qa"<&>runner-ü{"page": 1}',
    "OCTOPUS_PASSWORD": 'pa\'ss\\wörd & <b>日本 "limit"',
}


def _piece() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(API_WORDS), st.sampled_from(SPECIALS))


secrets_like_words = st.lists(_piece(), min_size=3, max_size=6).map("".join)
json_like = st.builds(
    lambda key, value: f'{{"{key}": "{value}"}}', st.sampled_from(API_WORDS), secrets_like_words
)
secret = st.one_of(secrets_like_words, json_like).filter(lambda s: len(s.strip()) >= 8)


@pytest.fixture(scope="module")
def ordinary_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Everything a failing run writes with an unguessable account: what a secret must not
    collide with by chance (a secret that is itself common text could not be told apart)."""
    account = {"OCTOPUS_USERNAME": "u-3f9a1c7e", "OCTOPUS_PASSWORD": "p-b81d06a2e4"}
    return _run_everything(tmp_path_factory.mktemp("baseline"), account)


def _run_everything(root: Path, account: dict[str, str]) -> str:
    """A failing contract run and a short load run against a sandbox with `account`; all the
    text they printed and wrote."""
    env = {**os.environ, **account}
    texts = []
    with sandbox("--fault", FAULT, env=account) as url:
        contract = run_contract(
            root / "run",
            "--profile",
            "quick",
            "--target",
            url,
            "--",
            *CONTRACT_SELECTION,
            timeout_s=240,
            env=account,
        )
        assert contract.exit_code == 1, contract.stderr[-2000:]  # the fault was caught
        texts += [contract.stdout, contract.stderr]
        load = subprocess.run(
            [sys.executable, "-m", "octopus_qa", "load", "--target", url, "--profile", "smoke"]
            + ["--run-time", "4", "--report-dir", str(root / "run")],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=REPO_ROOT,
            env=env,
        )
        texts += [load.stdout, load.stderr]
    texts += _dying_run(root / "dying", account)
    for path in run_files(root):
        texts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(texts)


def _dying_run(run_dir: Path, account: dict[str, str]) -> list[str]:
    """`octoqa run --profile pr` against a sandbox with `account` and the fault that dies after
    DIES_AFTER requests; what it printed (its run directory is left under `run_dir`).

    Checks the run met what it was meant to: not judged (exit 2), the contract stage stopped by
    the target going away and its log written, so the failure path was exercised, not skipped.
    """
    with sandbox("--fault", FAULT, "--chaos", f"die-after={DIES_AFTER}", env=account) as url:
        done = subprocess.run(
            [sys.executable, "-m", "octopus_qa", "run", "--profile", "pr", "--target", url]
            + ["--report-dir", str(run_dir)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO_ROOT,
            env={**os.environ, **account},
        )
    assert done.returncode == 2, done.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    stages = {stage["name"]: stage for stage in summary["stages"]}
    assert stages["contract"]["exit_code"] == 2, stages["contract"]
    assert (run_dir / "logs" / "contract.log").is_file() and (
        run_dir / "logs" / "load.log"
    ).is_file()
    return [done.stdout, done.stderr]


def _leaked(text: str, account: dict[str, str]) -> list[str]:
    """The written forms of the account's username and password found in `text`."""
    forms = {form for value in account.values() for form in written_forms(value)}
    return sorted(form for form in forms if form in text)


@pytest.mark.slow
def test_no_secret_reaches_a_run_whose_target_dies(tmp_path: Path) -> None:
    texts = _dying_run(tmp_path / "run", HARD_ACCOUNT)
    texts += [path.read_bytes().decode("utf-8", errors="replace") for path in run_files(tmp_path)]
    text = "\n".join(texts)
    assert "went away" in text  # the contract stage met the target dying, and said so
    leaked = _leaked(text, HARD_ACCOUNT)
    assert not leaked, f"secret forms found in output or the run directory: {leaked!r}"
    assert not JWT_LIKE.search(text), JWT_LIKE.search(text)


@pytest.mark.soak
@settings(
    max_examples=3,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(username=secret, password=secret)
def test_no_secret_reaches_output_or_reports(
    username: str, password: str, ordinary_output: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    forms = {form for value in (username, password) for form in written_forms(value)}
    assume(username != password and not any(form in ordinary_output for form in forms))
    text = _run_everything(
        tmp_path_factory.mktemp("secret"),
        {
            "OCTOPUS_USERNAME": username,
            "OCTOPUS_PASSWORD": password,
        },
    )
    leaked = sorted(form for form in forms if form in text)
    assert not leaked, f"secret forms found in output or reports: {leaked!r}"
    assert not JWT_LIKE.search(text), JWT_LIKE.search(text)

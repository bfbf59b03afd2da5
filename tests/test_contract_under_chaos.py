"""The suites' verdicts when the target misbehaves after the preflight (sandbox --chaos).

A target that goes away, hangs or refuses fresh tokens leaves the run unable to judge: exit 2,
one line saying what happened, when and at which operation, and no rule marked failed for it.
Trouble that is a real answer (HTML 502 pages, cut JSON) is a named contract failure, exit 1.
Rate limiting and an admin's revocation are ridden out: exit 0. Every run is bounded in time
(the subprocess timeout) well under what a hang would take. The runs that take minutes (rate
limiting waits out its Retry-Afters, slow answers are slow) are `soak`: tox -e soak.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from contract_runs import REPO_ROOT, ContractResult, run_contract, sandbox, stderr_lines

pytestmark = pytest.mark.slow

#: A slice of the suite that sends a few hundred requests in seconds (so triggers at 60 fire
#: mid-run) and covers the hand-written client and schemathesis's calls and probes.
SLICE = ["-k", "test_catalog or test_pagination or test_properties"]
BOUND_S = 150.0


def _contract(
    tmp_path: Path,
    *chaos: str,
    selection: list[str] = SLICE,
    faults: tuple[str, ...] = (),
    timeout_s: float = BOUND_S,
    seed: int | None = None,
) -> ContractResult:
    planted = [arg for fault in faults for arg in ("--fault", fault)]
    seeded = ["--seed", str(seed)] if seed is not None else []
    with sandbox("--chaos", ",".join(chaos), *planted) as url:
        return run_contract(
            tmp_path,
            *("--profile", "quick", *seeded, "--target", url, "--", *selection),
            timeout_s=timeout_s,
        )


def _failed_rules(result: ContractResult) -> set[str]:
    return {rule for rule, entry in result.summary["rules"].items() if entry["status"] == "fail"}


def _assert_not_judged(result: ContractResult, *words: str) -> None:
    lines = stderr_lines(result)
    assert result.exit_code == 2, (result.exit_code, lines[-5:])
    assert lines[-1].startswith("octoqa: error: the target "), lines[-1]
    assert all(word in lines[-1] for word in words), lines[-1]
    assert "Traceback" not in result.stderr
    summary = result.summary
    assert summary["verdict"] == "error" and summary["judged"] is False
    assert summary["target_lost"]["operation"]
    assert not [rule for rule, entry in summary["rules"].items() if entry["status"] == "fail"]


@pytest.mark.parametrize(
    ("chaos", "words"),
    [
        ("die-after=60", ["went away"]),
        ("reset-after=60", ["went away", "connection closed mid-response"]),
        ("hang-after=60", ["went away", "no answer within 10 s"]),
    ],
)
def test_target_going_away_mid_run_is_not_judged_exit_2(
    tmp_path: Path, chaos: str, words: list[str]
) -> None:
    _assert_not_judged(_contract(tmp_path, chaos), *words)


def test_target_refusing_fresh_tokens_stops_with_exit_2(tmp_path: Path) -> None:
    _assert_not_judged(_contract(tmp_path, "refuse-tokens-after=60"), "refused a freshly issued")


@pytest.mark.soak
def test_tokens_revoked_mid_run_mean_one_new_login_and_the_run_goes_on(tmp_path: Path) -> None:
    result = _contract(tmp_path, "revoke-after=60")
    assert result.exit_code == 0, stderr_lines(result)[-5:]


@pytest.mark.soak
@pytest.mark.parametrize("retry_after", ["1", "date:1"])
def test_rate_limiting_is_waited_out_never_failed(tmp_path: Path, retry_after: str) -> None:
    result = _contract(tmp_path, "rate-limit=0.05", f"retry-after={retry_after}")
    assert result.exit_code == 0, (stderr_lines(result)[-3:], result.stdout[-3000:])


#: Revocations placed inside each test that logs in for itself, between its login and a request
#: that needs that login's access token: (selection, N for revoke-after=N, seed). A revocation
#: refuses every token issued before the request it lands on, counted from 0, the preflight's
#: login. The stateful flow's steps come from hypothesis: for those seeds, the request recorded
#: there uses a live login's access token (recorded with a counting sandbox; a change to the
#: flow may move it, which would weaken this case, not fail it).
JWT_ATTACK = "test_jwt_attack_is_refused_on_every_protected_operation and wrong-key-list"
TOKEN_IN_QUERY = "test_a_token_anywhere_but_the_authorization_header_is_refused and query"
OWN_LOGIN_REVOKED = {
    "login then its token": ("test_login_issues_tokens", 2, None),
    "JWT attack": (JWT_ATTACK, 2, None),
    "JWT attack's control": (JWT_ATTACK, 3, None),
    "refresh then the new token": ("test_refresh_issues_new_working_tokens", 3, None),
    "token in a query, then in the header": (TOKEN_IN_QUERY, 3, None),
    "auth flow, seed 2": ("test_auth_flow", 22, 2),
    "auth flow, seed 5": ("test_auth_flow", 18, 5),
}


@pytest.mark.parametrize("where", OWN_LOGIN_REVOKED)
def test_a_test_with_its_own_login_logs_in_again_after_a_revocation(
    tmp_path: Path, where: str
) -> None:
    """Every test that logs in for itself follows the run's one re-login policy: its token
    revoked mid-test means one new login and the test again from there, not a broken rule
    (before: "auth-required: the login the attack was built from answered 401")."""
    selection, after, seed = OWN_LOGIN_REVOKED[where]
    result = _contract(tmp_path, f"revoke-after={after}", selection=["-k", selection], seed=seed)
    assert result.exit_code == 0, (_failed_rules(result), result.stdout[-3000:])
    assert result.summary["totals"]["passed"] >= 1  # the selection ran


def test_a_test_whose_fresh_own_login_is_refused_too_stops_with_exit_2(tmp_path: Path) -> None:
    """The policy's other half: the new login's token refused a moment after that login means
    the target refuses fresh tokens, which no test can judge (exit 2, not a broken rule)."""
    result = _contract(
        tmp_path, "refuse-tokens-after=2", selection=["-k", "test_login_issues_tokens"]
    )
    _assert_not_judged(result, "refused a freshly issued")


#: One request in 20 answered 429. `Retry-After: 0` keeps the whole quick profile at its usual
#: half a minute; the waits are the same policy either way (the soak run below waits 1 s each).
RATE_LIMITED = ("rate-limit=0.05", "retry-after=0")
WHOLE_PROFILE: list[str] = []


def test_quick_profile_under_429s_judges_each_exchange_once(tmp_path: Path) -> None:
    """The 429s are retried and never judged, and the answer a retry ends on is judged once: a
    validation repeated because a check's probe met a 429 no longer shows the ledgers one refresh
    twice (refresh-token-single-use, request-id-generated). Zero false alarms: exit 0."""
    result = _contract(tmp_path, *RATE_LIMITED, selection=WHOLE_PROFILE)
    assert result.exit_code == 0, (_failed_rules(result), result.stdout[-3000:])


def test_a_planted_fault_is_still_caught_under_429s(tmp_path: Path) -> None:
    """Judging once does not forgive: a reusable refresh token is the one rule broken, found by
    the tests that reuse one, and the property tests' refreshes raise no alarm of their own."""
    result = _contract(
        tmp_path, *RATE_LIMITED, selection=WHOLE_PROFILE, faults=("refresh-token-reusable",)
    )
    assert result.exit_code == 1, stderr_lines(result)[-3:]
    assert _failed_rules(result) == {"refresh-token-single-use"}
    failing = {
        test["nodeid"]
        for test in result.summary["rules"]["refresh-token-single-use"]["tests"]
        if test["outcome"] == "failed"
    }
    assert failing and not [nodeid for nodeid in failing if "test_properties" in nodeid], failing


@pytest.mark.soak
def test_quick_profile_waits_out_one_second_retry_afters_without_a_false_alarm(
    tmp_path: Path,
) -> None:
    """The issue's target: 5 % of requests answered 429 with `Retry-After: 1`, the whole quick
    profile (about two minutes of waiting): exit 0."""
    result = _contract(
        tmp_path, "rate-limit=0.05", "retry-after=1", selection=WHOLE_PROFILE, timeout_s=400
    )
    assert result.exit_code == 0, (_failed_rules(result), result.stdout[-3000:])


@pytest.mark.parametrize("chaos", ["html-502-after=60", "truncate-after=60", "empty-after=60"])
def test_broken_answers_mid_run_are_named_contract_failures(tmp_path: Path, chaos: str) -> None:
    result = _contract(tmp_path, chaos)
    assert result.exit_code == 1, stderr_lines(result)[-3:]
    assert "Traceback" not in result.stderr
    assert _failed_rules(result) and result.summary["judged"] is True


@pytest.mark.soak
def test_slow_answers_are_reported_not_failed(tmp_path: Path) -> None:
    result = _contract(
        tmp_path, "slow-ms=2200", "slow-after=5", selection=["-k", "test_pagination"]
    )
    assert result.exit_code == 0, stderr_lines(result)[-3:]
    slow = result.summary["slow_answers"]
    assert slow["count"] > 0 and slow["slowest"][0]["seconds"] > 2
    assert "answers slower than 2 s" in result.stdout


def test_load_run_says_the_target_went_away_and_keeps_what_it_measured(tmp_path: Path) -> None:
    with sandbox("--chaos", "die-after=3s") as url:
        done = subprocess.run(
            [sys.executable, "-m", "octopus_qa", "load", "--target", url, "--profile", "smoke"]
            + ["--run-time", "30", "--report-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=BOUND_S,
            cwd=REPO_ROOT,
            env=dict(os.environ),
        )
    assert done.returncode == 1, (done.stdout[-2000:], done.stderr[-2000:])
    assert "the target went away" in done.stdout
    summary = json.loads((tmp_path / "load" / "summary.json").read_text())
    lost = summary["target_lost"]
    assert summary["verdict"] == "fail" and lost["no_answer_requests"] > 0
    assert summary["endpoints"]["total"]["requests"] > lost["no_answer_requests"]
    # Stopped once nothing had answered for TARGET_SILENT_S, not at its 30 s run time.
    assert lost["stopped_after_s"] < 20 and "the run stopped" in lost["message"]

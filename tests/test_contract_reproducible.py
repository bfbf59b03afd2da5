"""`--seed` replays a run, every run names its seed, and no secret reaches output or reports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from contract_runs import run_contract, sandbox

#: Any JWT: three base64url segments starting with the encoded `{"`.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
ACCOUNT = {
    "OCTOPUS_USERNAME": "qa-secret-user@example.test",
    "OCTOPUS_PASSWORD": "pw-Zx81-never-shown",
}


def _all_text(result: object, report_dir: Path) -> str:
    texts = [result.stdout, result.stderr]  # type: ignore[attr-defined]
    texts += [path.read_text(errors="replace") for path in report_dir.rglob("*") if path.is_file()]
    return "\n".join(texts)


def _failing_nodeids(summary: dict[str, object]) -> list[str]:
    rules = summary["rules"]
    assert isinstance(rules, dict)
    return sorted(
        {
            t["nodeid"]
            for entry in rules.values()
            for t in entry["tests"]
            if t["outcome"] != "passed"
        }
    )


@pytest.mark.slow
def test_same_seed_same_run(tmp_path: Path) -> None:
    with sandbox("--fault", "limit-off-by-one") as url:
        first = run_contract(
            tmp_path / "a", "--target", url, "--profile", "quick", "--seed", "4242"
        )
        second = run_contract(
            tmp_path / "b", "--target", url, "--profile", "quick", "--seed", "4242"
        )
    assert first.exit_code == second.exit_code == 1
    assert first.summary["seed"] == second.summary["seed"] == 4242
    assert first.summary["totals"] == second.summary["totals"]
    assert _failing_nodeids(first.summary) == _failing_nodeids(second.summary)
    assert {r: e["status"] for r, e in first.summary["rules"].items()} == {
        r: e["status"] for r, e in second.summary["rules"].items()
    }


@pytest.mark.slow
def test_every_failure_names_the_seed_and_a_curl_without_the_token(tmp_path: Path) -> None:
    with sandbox("--fault", "quantity-zero-accepted") as url:
        result = run_contract(tmp_path, "--target", url, "--profile", "quick", "--seed", "77")
    assert result.exit_code == 1
    assert "--seed 77" in result.stdout
    assert "curl" in result.stdout and "$OCTOPUS_TOKEN" in result.stdout


@pytest.mark.slow
def test_a_failing_run_ends_with_each_broken_rule_and_how_to_rerun_it(tmp_path: Path) -> None:
    with sandbox("--fault", "filters-or-combined") as url:
        result = run_contract(tmp_path, "--target", url, "--profile", "quick", "--seed", "5")
    assert result.exit_code == 1
    tail = result.stdout.split("octoqa: 1 broken rule(s)", 1)[1]
    assert tail.lstrip("= \n").startswith("[filters-match] ")
    assert "broken by " in tail and "counter-example: [filters-match] " in tail
    assert f"reproduce: octoqa contract --target {url} --profile quick --seed 5 -- -k " in tail
    assert "  request: curl " in tail and "filter" in tail.split("  request: ", 1)[1]
    failures = result.stdout.count("____ test_")
    # A few lines each on the console (violation, request, rerun); the whole in failures.log.
    assert failures and len(result.stdout.splitlines()) < 60 + 8 * failures
    whole = (tmp_path / "contract" / "failures.log").read_text()
    assert whole.count("=" * 30) == failures and "Traceback" not in result.stdout
    assert "items_match_filters" in whole  # the code path, kept where a developer looks


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault", ["login-broken", "refresh-returns-same-tokens", "error-envelope-flat"]
)
def test_no_secret_in_output_or_reports(tmp_path: Path, fault: str) -> None:
    with sandbox("--fault", fault, env=ACCOUNT) as url:
        result = run_contract(tmp_path, "--target", url, "--profile", "quick", env=ACCOUNT)
    assert result.exit_code == 1, result.stderr[-2000:]
    text = _all_text(result, tmp_path)
    assert ACCOUNT["OCTOPUS_PASSWORD"] not in text
    leaked = JWT.findall(text)
    assert not leaked, f"{len(leaked)} JWTs in output or reports, e.g. {leaked[0][:25]}..."

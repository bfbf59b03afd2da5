"""Zero false alarms: the clean sandbox keeps every rule under the default profile, whatever the
seed. Five seeds, five runs, each in a subprocess against `octoqa sandbox`."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract_runs import run_contract, sandbox

SEEDS = [1, 2, 3, 20240601, 987654321]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_clean_sandbox_passes_the_default_profile(tmp_path: Path, seed: int) -> None:
    with sandbox() as url:
        result = run_contract(
            tmp_path, "--target", url, "--profile", "default", "--seed", str(seed)
        )
    failing = [rule for rule, entry in result.summary["rules"].items() if entry["status"] == "fail"]
    assert result.exit_code == 0, (
        f"seed {seed}: exit {result.exit_code}, failing {failing}\n{result.stdout[-4000:]}"
    )
    assert result.summary["verdict"] == "pass"
    untested = [
        rule for rule, entry in result.summary["rules"].items() if entry["status"] == "untested"
    ]
    assert not untested, f"rules no test judged: {untested}"


def test_quick_run_against_the_embedded_sandbox_writes_its_reports(tmp_path: Path) -> None:
    result = run_contract(tmp_path, "--profile", "quick")
    assert result.exit_code == 0, result.stdout[-4000:]
    summary = result.summary
    assert summary["stage"] == "contract" and summary["target"] == "embedded"
    assert (tmp_path / "contract" / "junit.xml").read_text().count('name="rule"') > 100
    operations = {(op["method"], op["path"]): op for op in summary["coverage"]["operations"]}
    for key in [
        ("GET", "/api/v1/products"),
        ("POST", "/auth/login"),
        ("POST", "/api/v1/products/{id}/availability"),
    ]:
        assert 200 in operations[key]["seen"] and 400 in operations[key]["seen"]


def test_documented_only_deselects_assumed_rules(tmp_path: Path) -> None:
    result = run_contract(tmp_path, "--profile", "quick", "--documented-only", "--", "-k", "auth")
    assert result.exit_code == 0, result.stdout[-3000:]
    rules = result.summary["rules"]
    assert "refresh-token-single-use" not in rules  # assumed (A2)
    assert rules["auth-required"]["status"] == "pass"  # documented


@pytest.mark.slow
def test_short_lived_tokens_are_renewed_mid_run_and_their_expiry_is_checked(
    tmp_path: Path,
) -> None:
    """With 4 s tokens the run outlives many of them (one login, renewed before `exp`), and the
    expiry rule is judged rather than skipped: it fits the quick profile's 5 s wait."""
    with sandbox("--token-ttl", "4") as url:
        result = run_contract(tmp_path, "--target", url, "--profile", "quick", "--seed", "5")
    assert result.exit_code == 0, result.stdout[-4000:]
    expiry = result.summary["rules"]["expired-token-rejected"]
    assert expiry["status"] == "pass", expiry

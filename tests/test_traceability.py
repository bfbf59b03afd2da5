"""openapi/TRACEABILITY.md stays true: every rule names the contract tests that check it, and
every test it names exists in contract_tests/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from contract_runs import REPO_ROOT

from octopus_qa.rules import RULES

TRACEABILITY = REPO_ROOT / "openapi" / "TRACEABILITY.md"
CONTRACT_TESTS = REPO_ROOT / "contract_tests"
ROW = re.compile(r"^\| `(?P<rule>[a-z0-9-]+)` \|.*\| (?P<checked_by>[^|]+) \|$")
NAMED_TEST = re.compile(r"`(?P<module>test_\w+\.py)::(?P<test>test_\w+)`")


def checked_by() -> dict[str, str]:
    rows = (ROW.match(line) for line in TRACEABILITY.read_text(encoding="utf-8").splitlines())
    return {row["rule"]: row["checked_by"] for row in rows if row}


def test_every_rule_names_what_checks_it() -> None:
    cells = checked_by()
    assert set(cells) == set(RULES)
    unchecked = [rule for rule, cell in cells.items() if not NAMED_TEST.search(cell)]
    assert not unchecked, f"rules without a named contract test: {unchecked}"


@pytest.mark.parametrize("rule", sorted(RULES))
def test_named_tests_exist(rule: str) -> None:
    for named in NAMED_TEST.finditer(checked_by()[rule]):
        module = CONTRACT_TESTS / named["module"]
        assert module.is_file(), f"{rule}: {module} does not exist"
        source = Path(module).read_text(encoding="utf-8")
        assert re.search(rf"^(async )?def {named['test']}\(", source, re.M), (
            f"{rule}: {named['module']} has no {named['test']}"
        )

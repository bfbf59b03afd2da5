"""openapi/TRACEABILITY.md stays true: every rule names its one check in octopus_qa.rules and
the contract tests that check it, and every test it names exists in contract_tests/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from contract_runs import REPO_ROOT

from octopus_qa import rules
from octopus_qa.rules import CHECKS_BY_RULE, RULES

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


NAMED_CHECK = re.compile(r"`rules\.(?P<name>\w+)`")


def test_every_rule_has_its_one_named_check() -> None:
    assert set(CHECKS_BY_RULE) == set(RULES)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_table_names_the_rules_checks_and_they_exist(rule: str) -> None:
    check_part = checked_by()[rule].split(";")[0]  # "check `rules.a`, `rules.b`; tests…"
    named = [match["name"] for match in NAMED_CHECK.finditer(check_part)]
    assert named == [check.__name__ for check in CHECKS_BY_RULE[rule]], rule
    assert all(getattr(rules, name) in CHECKS_BY_RULE[rule] for name in named)

"""Each rule is declared once, and everything that lists rules is read from the declarations.

A rule is a `Rule` in its check module; its checks are bound to it by `@judges`; the schemathesis
adapters name the checks they run. openapi/TRACEABILITY.md's rule table is held to those
declarations field by field, and every test it names exists in contract_tests/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from contract_runs import REPO_ROOT

from octopus_qa import rules
from octopus_qa.contract.deviations import spec_operations
from octopus_qa.contract.ledger import BUILTIN_CHECK_RULES, OPERATION_INPUT_RULES, PARAMETER_RULES
from octopus_qa.contract.schemathesis_checks import (
    ADAPTED,
    CHECKED_RULES,
    PROPERTY_RULES,
    SuiteChecks,
)
from octopus_qa.rules import CHECKS_BY_RULE, RULES, Rule
from octopus_qa.spec import load_spec

TRACEABILITY = REPO_ROOT / "openapi" / "TRACEABILITY.md"
CONTRACT_TESTS = REPO_ROOT / "contract_tests"
HEADER = ["Rule", "Basis", "From", "Encoded in the spec", "Checked by"]


def _cells(line: str) -> list[str]:
    """The cells of one Markdown table row; `\\|` is a pipe inside a cell."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


def rule_table() -> list[dict[str, str]]:
    """TRACEABILITY.md's rule table: the rows under its header, up to the first line that is
    not a row."""
    lines = TRACEABILITY.read_text(encoding="utf-8").splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith("|") and _cells(line) == HEADER
    )
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = _cells(line)
        assert len(cells) == len(HEADER), line
        rows.append(dict(zip(HEADER, cells, strict=True)))
    return rows


ROWS = {row["Rule"].strip("`"): row for row in rule_table()}


# --- The declarations ---------------------------------------------------------------------------


def test_every_rule_is_declared_once_as_an_object_importable_by_name() -> None:
    assert len(RULES) >= 40
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id
        assert getattr(rules, rule_id.upper().replace("-", "_")) is rule
        assert rule.title and rule.source and rule.quote
        assert rule.basis in ("documented", "assumed")


def test_every_rule_has_at_least_one_check() -> None:
    unchecked = [rule.id for rule, checks in CHECKS_BY_RULE.items() if not checks]
    assert unchecked == []
    assert list(CHECKS_BY_RULE) == list(RULES.values())


def test_every_schemathesis_adapter_judges_catalogued_rules() -> None:
    adapters = SuiteChecks.__new__(SuiteChecks).all()
    assert [adapter.__name__ for adapter in adapters] == list(ADAPTED)
    assert len(adapters) >= 20
    catalogued = set(RULES.values())
    for name, checks in ADAPTED.items():
        judged = rules.rules_judged_by(*checks)
        assert judged and set(judged) <= catalogued, name
    assert set(CHECKED_RULES) == {
        rule for checks in ADAPTED.values() for rule in rules.rules_judged_by(*checks)
    }


def test_the_ledgers_maps_come_from_the_declarations() -> None:
    for check, judged in BUILTIN_CHECK_RULES.items():
        assert judged == tuple(r for r in RULES.values() if check in r.builtin_checks)
    operations = spec_operations(load_spec())
    for operation, judged in OPERATION_INPUT_RULES.items():
        assert operation in operations, f"{operation} is not an operation of the spec"
        assert judged == tuple(r for r in RULES.values() if operation in r.bounds_input_of)
    assert {name: rule.id for name, rule in PARAMETER_RULES.items()} == {
        "page": "page-bounds",
        "limit": "limit-bounds",
        "sort": "sort-format",
        "id": "product-id-bounds",
    }


def test_the_property_test_judges_the_rules_of_its_checks() -> None:
    builtin = {rule for judged in BUILTIN_CHECK_RULES.values() for rule in judged}
    inputs = {rule for judged in OPERATION_INPUT_RULES.values() for rule in judged}
    assert set(PROPERTY_RULES) == set(CHECKED_RULES) | builtin | inputs


# --- Unknown rules fail loudly ------------------------------------------------------------------


def test_a_violation_of_an_unknown_rule_id_fails_at_once() -> None:
    with pytest.raises(rules.UnknownRule, match="no-such-rule"):
        rules.RuleViolation("no-such-rule", "detail")
    with pytest.raises(rules.UnknownRule):
        rules.RulesBroken(["auth-required", "no-such-rule"], "detail")


def test_expect_status_with_an_unknown_rule_id_fails_even_when_the_status_is_right() -> None:
    exchange = rules.Exchange("GET", "/api/v1/products", 200, {})
    with pytest.raises(rules.UnknownRule):
        rules.expect_status(exchange, 200, "no-such-rule", "a listing")
    rules.expect_status(exchange, 200, rules.PAGE_BOUNDS, "a listing")  # an object: no lookup


def test_a_check_bound_to_no_rule_or_to_text_is_refused() -> None:
    with pytest.raises(TypeError):
        rules.judges("auth-required")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        rules.rules_judged_by(lambda exchange: None)


class _Item:
    """What the contract plugin reads of a collected test: its rule marks (and no other)."""

    def __init__(self, *marked: object) -> None:
        self.nodeid = "contract_tests/test_x.py::test_x"
        self.user_properties: list[tuple[str, object]] = []
        self.marks = [SimpleNamespace(name="rule", args=marked, kwargs={})]

    def iter_markers(self, name: str) -> Iterator[SimpleNamespace]:
        return iter(self.marks if name == "rule" else [])

    def get_closest_marker(self, name: str) -> SimpleNamespace | None:
        return next(self.iter_markers(name), None)

    def add_marker(self, marker: object) -> None:
        pass


class _Config:
    """What the plugin's collection hook reads of a pytest config: no plan (nothing deselected)."""

    stash = pytest.Stash()

    def getoption(self, name: str) -> bool:
        return False


def test_a_contract_test_marked_with_an_unknown_rule_id_is_a_usage_error() -> None:
    from octopus_qa.contract.plugin import pytest_collection_modifyitems

    with pytest.raises(pytest.UsageError, match="no-such-rule"):
        pytest_collection_modifyitems(_Config(), [_Item("auth-required", "no-such-rule")])  # type: ignore[arg-type, list-item]


def test_a_contract_test_may_be_marked_with_rule_objects_or_ids() -> None:
    from octopus_qa.contract.plugin import pytest_collection_modifyitems

    item = _Item(rules.AUTH_REQUIRED, "unknown-path-404")
    pytest_collection_modifyitems(_Config(), [item])  # type: ignore[arg-type, list-item]
    assert item.user_properties == [("rule", "auth-required"), ("rule", "unknown-path-404")]


def test_rule_ids_as_text_resolve_to_the_same_objects() -> None:
    assert rules.rule_named("auth-required") is rules.AUTH_REQUIRED
    assert rules.rule_named(rules.AUTH_REQUIRED) is rules.AUTH_REQUIRED
    assert rules.RuleViolation("auth-required", "x").rule is rules.AUTH_REQUIRED


# --- TRACEABILITY.md, field by field ------------------------------------------------------------


def test_the_table_has_one_row_per_rule_in_catalogue_order() -> None:
    assert [row["Rule"] for row in rule_table()] == [f"`{rule_id}`" for rule_id in RULES]


def _basis(rule: Rule) -> str:
    if rule.assumed or not rule.assumption:
        return rule.basis
    return f"{rule.basis} ({', '.join(rule.assumption)})"


@pytest.mark.parametrize("rule", RULES.values(), ids=list(RULES))
def test_basis_is_the_declared_one(rule: Rule) -> None:
    assert ROWS[rule.id]["Basis"] == _basis(rule)


DOCUMENT = re.compile(r"[\w-]+\.txt")


@pytest.mark.parametrize("rule", RULES.values(), ids=list(RULES))
def test_from_names_the_rules_documents_or_assumptions(rule: Rule) -> None:
    cell = ROWS[rule.id]["From"]
    if rule.assumed:
        assert all(item in cell for item in rule.assumption), (cell, rule.assumption)
    else:
        documents = DOCUMENT.findall(rule.source)
        assert documents and all(document in cell for document in documents), (cell, rule.source)


@pytest.mark.parametrize("rule", RULES.values(), ids=list(RULES))
def test_checked_by_names_exactly_the_checks_bound_to_the_rule(rule: Rule) -> None:
    check_part, _, _ = ROWS[rule.id]["Checked by"].partition("; ")
    declared = ", ".join(f"`rules.{check.__name__}`" for check in CHECKS_BY_RULE[rule])
    assert check_part == f"check {declared}"


NAMED_TEST = re.compile(r"`(?P<module>test_\w+\.py)::(?P<test>test_\w+)`")


@pytest.mark.parametrize("rule", RULES.values(), ids=list(RULES))
def test_checked_by_names_contract_tests_that_exist(rule: Rule) -> None:
    _, _, tests = ROWS[rule.id]["Checked by"].partition("; ")
    named = list(NAMED_TEST.finditer(tests))
    assert named, f"{rule.id}: no contract test named"
    for match in named:
        module = CONTRACT_TESTS / match["module"]
        assert module.is_file(), f"{rule.id}: {module} does not exist"
        source = Path(module).read_text(encoding="utf-8")
        assert re.search(rf"^(async )?def {match['test']}\(", source, re.M), (
            f"{rule.id}: {match['module']} has no {match['test']}"
        )


@pytest.mark.parametrize("rule", RULES.values(), ids=list(RULES))
def test_the_property_test_is_named_where_it_judges_the_rule(rule: Rule) -> None:
    named = "`test_properties`" in ROWS[rule.id]["Checked by"]
    assert named == (rule in PROPERTY_RULES)

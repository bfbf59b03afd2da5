"""readings.py names exactly the values the documents leave undecided, and nothing they decide.

The contract suite relaxes "must be accepted" / "must be refused" only for requests this module
calls undecided, so a false positive here hides a bug and a false negative raises a false alarm.
"""

from __future__ import annotations

from typing import Any

import pytest

from octopus_qa.rules import RULES, RuleViolation
from octopus_qa.rules.readings import AMBIGUITIES, either_reading_answered, undecided_inputs

AVAILABILITY = "/api/v1/products/1001/availability"
LIST = "/api/v1/products"


def _ids(method: str, path: str, query: dict[str, str], body: Any) -> set[str]:
    return {u.ambiguity.id for u in undecided_inputs(method, path, query, body)}


def test_every_ambiguity_names_a_catalogued_rule() -> None:
    assert {a.rule for a in AMBIGUITIES.values()} <= set(RULES)


@pytest.mark.parametrize(
    "body,ambiguity",
    [
        ('{"denomination": 10, "quantity": 1.0}', "integral-float"),
        ('{"denomination": 10, "quantity": 1e2}', "integral-float"),
        ('{"denomination": 10, "quantity": 1.0000000000000001}', "integral-float"),
        ('{"denomination": 10, "quantity": 18446744073709551616}', "integer-past-double"),
        ('{"denomination": 0.00999999999999999999999, "quantity": 1}', "decimal-past-double"),
        ('{"denomination": 10, "quantity": 1, "note": "x"}', "extra-body-fields"),
        ('{"denomination": 10, "quantity": 0, "quantity": 1}', "duplicate-keys"),
    ],
)
def test_undecided_availability_bodies_are_named(body: str, ambiguity: str) -> None:
    assert ambiguity in _ids("POST", AVAILABILITY, {}, body)


@pytest.mark.parametrize(
    "body",
    [
        '{"denomination": 10, "quantity": 1}',
        '{"denomination": 10, "quantity": 1.5}',  # not an integer under any reading
        '{"denomination": 10, "quantity": 0.0}',  # below the minimum either way
        '{"denomination": 1e400, "quantity": 1}',  # past every bound
        '{"denomination": NaN, "quantity": 1}',  # not JSON
        '{"denomination": 1e2, "quantity": 1}',  # a number in range, however written
        '{"denomination": 0.009999999999999998, "quantity": 1}',  # below as a double and exactly
        '{"denomination": 10, "quantity": 9007199254740992}',  # 2**53: exact in a double
    ],
)
def test_decided_availability_bodies_are_not_named(body: str) -> None:
    assert _ids("POST", AVAILABILITY, {}, body) == set()


@pytest.mark.parametrize(
    "query,ambiguity",
    [
        ({"limit": " 5"}, "lenient-integer-text"),
        ({"limit": "+5"}, "lenient-integer-text"),
        ({"limit": "05"}, "lenient-integer-text"),
        ({"page": "1e2"}, "lenient-integer-text"),
        ({"page": "\uff15"}, "lenient-integer-text"),
        ({"page": str(2**63)}, "integer-past-64-bits"),
        ({"sort": '{"field": "name"}'}, "partial-sort"),
        ({"sort": '{"field": "id", "direction": "ASC", "x": 1}'}, "sort-extra-key"),
        ({"sort": '{"field": "Name", "direction": "ASC"}'}, "sort-field-case"),
        ({"sort": '{"field": "currency_code", "direction": "ASC"}'}, "sort-other-field"),
        ({"sort": '{"field": "id", "Field": "name", "direction": "ASC"}'}, "duplicate-keys"),
    ],
)
def test_undecided_list_queries_are_named(query: dict[str, str], ambiguity: str) -> None:
    assert ambiguity in _ids("GET", LIST, query, None)


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "5", "page": "2"},
        {"limit": "1e5"},  # 100,000: too large under every reading
        {"limit": "2.5"},
        {"page": "0x10"},
        {"page": "-0"},
        {"limit": str(2**64)},  # past the documented maximum anyway
        {"sort": '{"field": "name", "direction": "ASC"}'},
        {"sort": '{"field": "no_such_field", "direction": "ASC"}'},
        {"sort": "not json"},
    ],
)
def test_decided_list_queries_are_not_named(query: dict[str, str]) -> None:
    assert _ids("GET", LIST, query, None) == set()


def test_path_ids_are_read_as_sent() -> None:
    assert _ids("GET", f"{LIST}/1e3", {}, None) == {"lenient-integer-text"}
    assert _ids("GET", f"{LIST}/%2B7", {}, None) == {"lenient-integer-text"}
    assert _ids("GET", f"{LIST}/{2**64}/availability", {}, None) == {"integer-past-64-bits"}
    assert _ids("GET", f"{LIST}/abc", {}, None) == set()


def test_an_undecided_value_names_the_rule_of_its_place() -> None:
    (page,) = undecided_inputs("GET", LIST, {"page": "+2"}, None)
    (product,) = undecided_inputs("GET", f"{LIST}/+2", {}, None)
    assert (page.rule, product.rule) == ("page-bounds", "product-id-bounds")


def test_either_reading_allows_acceptance_or_refusal_but_not_a_server_error() -> None:
    undecided = undecided_inputs("POST", AVAILABILITY, {}, '{"denomination": 1, "quantity": 1.0}')
    for status in (200, 400, 404):
        either_reading_answered(status, undecided)
    with pytest.raises(RuleViolation) as broken:
        either_reading_answered(500, undecided)
    assert broken.value.rule.id == "quantity-bounds"
    either_reading_answered(500, ())  # nothing undecided: other checks judge the 500

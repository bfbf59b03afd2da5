"""Product details and availability (products-api.txt; ASSUMPTIONS P1-P5)."""

from __future__ import annotations

from typing import Any

import pytest
from documented_examples import DETAIL_1001
from sandbox_client import Api
from sandbox_probes import product_schema_holds

from octopus_qa.rules import (
    Exchange,
    availability_false_outside_ranges,
    denomination_ranges_are_sane,
    error_envelope_is_documented,
    product_matches_list_entry,
)

AVAILABILITY_1001 = "/api/v1/products/1001/availability"


# --- Product data -----------------------------------------------------------------------------


def test_product_schema_of_the_documented_example(api: Api) -> None:
    assert api.get("/api/v1/products/1001").json == DETAIL_1001


def test_product_schema_of_every_listed_product(api: Api) -> None:
    for page in ("1", "2"):
        for product in api.products(limit="10000", page=page).json:
            product_schema_holds(product)
            assert not {"terms", "details", "how_to_use"} & set(product)


def test_denomination_ranges_sane_across_the_catalog(api: Api) -> None:
    for page in ("1", "2"):
        for product in api.products(limit="10000", page=page).json:
            denomination_ranges_are_sane(product)
            assert product["available_denominations"]


def test_details_match_list(api: Api) -> None:
    for entry in api.products(limit="40", sort='{"field": "name", "direction": "ASC"}').json:
        detail = api.get(f"/api/v1/products/{entry['id']}").json
        product_matches_list_entry(detail, entry)
        product_schema_holds(detail)


def both_id_operations(api: Api, product_id: str) -> tuple[Exchange, Exchange]:
    """P1 holds for both operations that take a product id in the path."""
    return (
        api.get(f"/api/v1/products/{product_id}"),
        api.post(
            f"/api/v1/products/{product_id}/availability", json={"denomination": 10, "quantity": 1}
        ),
    )


# --- P1: the path id ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "product_id", ["0", "-1", "-1001", "abc", "1.5", "1001.0", "1e3", "+1001", "0x3e9"]
)
def test_product_id_bounds(api: Api, product_id: str) -> None:
    for exchange in both_id_operations(api, product_id):
        assert exchange.status == 400
        error_envelope_is_documented(exchange)


@pytest.mark.parametrize("product_id", ["999999", "100000", "123456789012345678901234567890"])
def test_unknown_product_404(api: Api, product_id: str) -> None:
    for exchange in both_id_operations(api, product_id):
        assert exchange.status == 404
        error_envelope_is_documented(exchange)
        assert exchange.json["error"]["message"] == "Product not found"


def test_product_id_with_leading_zeros_is_the_same_product(api: Api) -> None:
    assert api.get("/api/v1/products/001001").json == DETAIL_1001


# --- P4: the availability body ------------------------------------------------------------------


@pytest.mark.parametrize("denomination", [0.01, 10, 100.0, 999_999_999.99, 1e9, 1_000_000_000])
def test_denomination_bounds_accept_the_documented_range(api: Api, denomination: float) -> None:
    exchange = api.availability(1001, {"denomination": denomination, "quantity": 1})
    assert exchange.status == 200


@pytest.mark.parametrize(
    "denomination",
    [0.0099999, 0.009, 0, -0.01, -100, 1000000000.01, 1e10, "100", True, False, None, [], {}],
)
def test_denomination_bounds_reject_everything_else(api: Api, denomination: Any) -> None:
    exchange = api.availability(1001, {"denomination": denomination, "quantity": 1})
    assert exchange.status == 400
    error_envelope_is_documented(exchange)


@pytest.mark.parametrize("quantity", [1, 2, 2.0, 1_000_000, 10**30])
def test_quantity_bounds_accept_integers_from_one(api: Api, quantity: Any) -> None:
    assert api.availability(1001, {"denomination": 100, "quantity": quantity}).status == 200


@pytest.mark.parametrize("quantity", [0, -1, 1.5, 0.5, "2", True, False, None, [1], {"n": 1}])
def test_quantity_bounds_reject_everything_else(api: Api, quantity: Any) -> None:
    exchange = api.availability(1001, {"denomination": 100, "quantity": quantity})
    assert exchange.status == 400
    error_envelope_is_documented(exchange)


@pytest.mark.parametrize(
    "body", [{}, {"denomination": 100}, {"quantity": 1}, [100, 1], "100", 100], ids=repr
)
def test_availability_body_must_be_an_object_with_both_fields(api: Api, body: Any) -> None:
    assert api.availability(1001, body).status == 400


def test_availability_ignores_fields_it_does_not_know(api: Api) -> None:
    body = {"denomination": 100, "quantity": 1, "currency": "USD"}
    assert api.availability(1001, body).status == 200


# --- P5: the availability answer ----------------------------------------------------------------


@pytest.mark.parametrize(
    "denomination, quantity, expected",
    [
        (10.0, 1, True),
        (500.0, 50, True),  # the documented example holds 50 in stock
        (100.0, 51, False),
        (9.99, 1, False),
        (500.01, 1, False),
    ],
)
def test_availability_response(
    api: Api, denomination: float, quantity: int, expected: bool
) -> None:
    exchange = api.availability(1001, {"denomination": denomination, "quantity": quantity})
    assert exchange.status == 200
    assert exchange.json == {"is_available": expected}
    assert exchange.headers["content-type"] == "application/json"


def test_availability_false_outside_ranges(api: Api) -> None:
    for entry in api.products(limit="60").json:
        ranges = entry["available_denominations"]
        outside = [ranges[-1]["max_value"] + 0.01, ranges[-1]["max_value"] * 3, 1e9]
        if ranges[0]["min_value"] > 0.02:
            outside.append(round(ranges[0]["min_value"] - 0.01, 2))
        for denomination in outside:
            answer = api.availability(entry["id"], {"denomination": denomination, "quantity": 1})
            availability_false_outside_ranges(entry, denomination, answer.json["is_available"])


def test_availability_can_be_true_inside_a_range(api: Api) -> None:
    answers = []
    for entry in api.products(limit="30").json:
        low = entry["available_denominations"][0]["min_value"]
        answers.append(api.availability(entry["id"], {"denomination": low, "quantity": 1}).json)
    assert {"is_available": True} in answers

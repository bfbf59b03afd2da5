"""Catalogue semantics: sorting (L4, L5), filters (L6), paging partitions (L7), products (P2, P3,
P5) and the product schema, on values discovered from what the target serves."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from octopus_qa import rules
from octopus_qa.contract.client import ApiClient
from octopus_qa.contract.fixtures import LIST, CatalogSample, SmallListing
from octopus_qa.rules import expect_status

SORT_SPELLINGS = [
    pytest.param("field", "direction", id="products-page-spelling"),
    pytest.param("Field", "Direction", id="getting-started-spelling"),
]


def _sorted_listing(
    api: ApiClient, field_key: str, field: str, direction_key: str, direction: str
) -> list[Any]:
    sort = json.dumps({field_key: field, direction_key: direction})
    exchange = api.get(LIST, params={"sort": sort, "limit": 200})
    rules.well_formed_sort_is_accepted(exchange)  # the query is ours and valid: a 400 is L4's
    expect_status(exchange, 200, "sort-format", f"sort={sort}")
    return list(exchange.json)


@pytest.mark.rule("sort-orders-results")
@pytest.mark.parametrize("field_key,direction_key", SORT_SPELLINGS)
@pytest.mark.parametrize("field", ["id", "name"])
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_sort_orders_results(
    api: ApiClient, field_key: str, direction_key: str, field: str, direction: str
) -> None:
    items = _sorted_listing(api, field_key, field, direction_key, direction)
    rules.items_are_sorted(items, field, direction)


@pytest.mark.rule("sort-format")
@pytest.mark.parametrize("field_key,direction_key", SORT_SPELLINGS)
@pytest.mark.parametrize("direction", ["ASC", "desc", "Asc"])
def test_sort_keys_and_direction_are_case_insensitive(
    api: ApiClient, field_key: str, direction_key: str, direction: str
) -> None:
    sort = json.dumps({field_key: "name", direction_key: direction})
    exchange = api.get(LIST, params={"sort": sort, "limit": 5})
    expect_status(exchange, 200, "sort-format", f"sort={sort}")


@pytest.mark.rule("sort-format")
@pytest.mark.parametrize(
    "sort",
    [
        "name",
        "id DESC",
        '["name", "ASC"]',
        '{"field": "name"',
        json.dumps({"field": "no_such_field", "direction": "ASC"}),
        json.dumps({"field": "name", "direction": "UP"}),
        json.dumps({"field": "name", "direction": ""}),
        "",
    ],
    ids=[
        "word",
        "sql-like",
        "array",
        "truncated",
        "unknown-field",
        "bad-direction",
        "empty-direction",
        "empty",
    ],
)
def test_malformed_sort_is_rejected(api: ApiClient, sort: str) -> None:
    exchange = api.get(LIST, params={"sort": sort})
    expect_status(exchange, 400, "sort-format", f"sort={sort!r}")


@pytest.mark.rule(rules.DEFAULT_ORDER_ID_DESC)  # a mark takes the Rule, or its id
def test_default_order_is_id_descending(api: ApiClient) -> None:
    exchange = api.get(LIST, params={"limit": 200})
    rules.items_are_sorted(exchange.json, "id", "DESC", rule=rules.DEFAULT_ORDER_ID_DESC)


@pytest.mark.rule("filters-match")
@pytest.mark.parametrize(
    "parameter,field",
    [("category", "category"), ("country_id", "country_code"), ("currency_id", "currency_code")],
)
def test_each_filter_returns_only_matches(
    api: ApiClient, catalog: CatalogSample, parameter: str, field: str
) -> None:
    for value in (catalog.common(field), catalog.rare(field)):
        exchange = api.get(LIST, params={parameter: value, "limit": 500})
        expect_status(exchange, 200, "filters-match", f"{parameter}={value!r}")
        if not exchange.json:
            raise rules.RuleViolation(
                "filters-match", f"{parameter}={value!r}, taken from a product, matched nothing"
            )
        rules.listing_matches_filters(exchange)


@pytest.mark.rule("filters-match")
@pytest.mark.parametrize(
    "parameter,field", [("category", "category"), ("country_id", "country_code")]
)
def test_filters_match_exactly_not_ignoring_case(
    api: ApiClient, catalog: CatalogSample, parameter: str, field: str
) -> None:
    value = catalog.common(field)
    twisted = value.swapcase()
    exchange = api.get(LIST, params={parameter: twisted, "limit": 50})
    rules.items_match_filters(exchange.json, {parameter: twisted})


@pytest.mark.rule("filters-match")
def test_filter_matching_nothing_is_an_empty_page(api: ApiClient) -> None:
    exchange = api.get(LIST, params={"category": "No Such Category \u2603"})
    expect_status(exchange, 200, "filters-match", "a filter matching nothing")
    if exchange.json != []:
        raise rules.RuleViolation(
            "filters-match", f"a filter matching nothing listed {len(exchange.json)} items"
        )


@pytest.mark.rule("pages-partition-listing")
def test_walking_all_pages_yields_each_item_once(
    api: ApiClient, small_listing: SmallListing
) -> None:
    # The partition is judged first; the headers of each page (L2) after, so a broken partition
    # is reported as such even when it also unsettles the headers.
    pages = [
        api.get(
            LIST,
            params={**small_listing.filters, "page": page, "limit": small_listing.limit},
            check=False,
        )
        for page in range(1, small_listing.pages + 1)
    ]
    total = int(pages[0].headers["x-total-count"])
    rules.pages_partition_listing(
        [list(exchange.json) for exchange in pages], total, f"{small_listing.filters}"
    )
    for exchange in pages:
        rules.cheap_response_checks(exchange)


@pytest.mark.rule("product-schema")
def test_listed_products_carry_the_documented_fields(catalog: CatalogSample) -> None:
    for product in catalog.products:
        rules.product_has_documented_shape(product)


@pytest.mark.rule("denomination-ranges-sane")
def test_denomination_ranges_are_sane(catalog: CatalogSample) -> None:
    for product in catalog.products:
        rules.denomination_ranges_are_sane(product)


@pytest.mark.rule("details-match-list", "product-schema")
@given(index=st.integers(min_value=0, max_value=10_000))
def test_details_equal_the_list_entry(api: ApiClient, catalog: CatalogSample, index: int) -> None:
    entry = catalog.products[index % len(catalog.products)]
    exchange = api.get(f"{LIST}/{entry['id']}")
    expect_status(exchange, 200, "details-match-list", f"product {entry['id']} from the list")
    rules.product_has_documented_shape(exchange.json)
    rules.denomination_ranges_are_sane(exchange.json)
    rules.product_matches_list_entry(exchange.json, entry)


def _outside_every_range(product: dict[str, Any]) -> list[float]:
    """Denominations just below min, just above max and between ranges, within 0.01..1e9."""
    ranges = sorted(
        (r["min_value"], r["max_value"]) for r in product.get("available_denominations") or ()
    )
    candidates = [low - 0.01 for low, _ in ranges] + [high + 0.01 for _, high in ranges]
    candidates += [0.01, 1_000_000_000]
    return [
        round(value, 2)
        for value in candidates
        if 0.01 <= value <= 1_000_000_000 and not any(low <= value <= high for low, high in ranges)
    ]


@pytest.mark.rule("availability-false-outside-ranges")
@given(index=st.integers(min_value=0, max_value=10_000))
def test_availability_is_false_outside_every_range(
    api: ApiClient, catalog: CatalogSample, index: int
) -> None:
    product = catalog.products[index % len(catalog.products)]
    for denomination in _outside_every_range(product):
        exchange = api.post(
            f"{LIST}/{product['id']}/availability",
            json={"denomination": denomination, "quantity": 1},
        )
        expect_status(
            exchange,
            200,
            "denomination-bounds",
            f"availability of {product['id']} at {denomination}",
        )
        rules.availability_false_outside_ranges(
            product, denomination, exchange.json.get("is_available")
        )


@pytest.mark.rule("availability-response")
def test_availability_answers_a_boolean(api: ApiClient, catalog: CatalogSample) -> None:
    product = catalog.products[0]
    low = product["available_denominations"][0]["min_value"]
    for denomination in (low, 1_000_000_000):
        exchange = api.post(
            f"{LIST}/{product['id']}/availability",
            json={"denomination": denomination, "quantity": 2},
        )
        expect_status(exchange, 200, "availability-response", f"denomination {denomination}")
        rules.availability_is_boolean(exchange)

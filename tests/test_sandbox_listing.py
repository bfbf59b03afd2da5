"""GET /api/v1/products: paging (L1-L3), sorting (L4, L5), filtering (L6) and how they compose
(L7), as getting-started.txt § Pagination and products-api.txt § List Products describe them."""

from __future__ import annotations

import json

import pytest
from sandbox_client import Api

from octopus_qa.rules import (
    items_are_sorted,
    items_match_filters,
    pagination_headers_are_consistent,
)

CATALOG_SIZE = 10_500


def sort_param(field: str, direction: str, keys: tuple[str, str] = ("field", "direction")) -> str:
    return json.dumps({keys[0]: field, keys[1]: direction})


# --- L1: page and limit ---------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["1", "2", "210", "01"])
def test_page_bounds_accept_integers_from_one(api: Api, page: str) -> None:
    exchange = api.products(page=page)
    assert exchange.status == 200
    pagination_headers_are_consistent(exchange)


@pytest.mark.parametrize("page", ["0", "-1", "1.5", "1.0", "abc", "", "+1", " 1", "1e2", "0x1"])
def test_page_bounds_reject_anything_else(api: Api, page: str) -> None:
    assert api.products(page=page).status == 400


@pytest.mark.parametrize("limit", ["1", "2", "9999", "10000"])
def test_limit_bounds_accept_one_to_ten_thousand(api: Api, limit: str) -> None:
    exchange = api.products(limit=limit)
    assert exchange.status == 200
    assert len(exchange.json) == int(limit)
    pagination_headers_are_consistent(exchange)


@pytest.mark.parametrize(
    "limit", ["0", "-1", "10001", "2.5", "abc", "", "1e3", "99999999999999999999"]
)
def test_limit_bounds_reject_anything_else(api: Api, limit: str) -> None:
    assert api.products(limit=limit).status == 400


def test_paging_defaults_are_page_one_of_fifty(api: Api) -> None:
    exchange = api.products()
    pagination_headers_are_consistent(exchange)
    assert exchange.headers["x-page"] == "1"
    assert exchange.headers["x-per-page"] == "50"
    assert len(exchange.json) == 50


# --- L2, L3: the pagination headers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "page, size, has_more",
    [
        pytest.param(1, 64, "true", id="first"),
        pytest.param(80, 64, "true", id="middle"),
        pytest.param(165, CATALOG_SIZE - 164 * 64, "false", id="last"),
        pytest.param(166, 0, "false", id="past-last"),
        pytest.param(10_000, 0, "false", id="far-past-last"),
    ],
)
def test_pagination_headers_consistent(api: Api, page: int, size: int, has_more: str) -> None:
    exchange = api.products(page=str(page), limit="64")
    assert exchange.status == 200
    pagination_headers_are_consistent(exchange)
    assert exchange.headers["x-total-count"] == str(CATALOG_SIZE)
    assert exchange.headers["x-total-pages"] == "165"
    assert exchange.headers["x-page-size"] == str(size) == str(len(exchange.json))
    assert exchange.headers["x-has-more"] == has_more


def test_pagination_headers_present_on_an_empty_filter(api: Api) -> None:
    exchange = api.products(category="No Such Category")
    pagination_headers_are_consistent(exchange)
    assert exchange.json == []
    assert exchange.headers["x-total-count"] == "0"
    assert exchange.headers["x-total-pages"] == "0"
    assert exchange.headers["x-has-more"] == "false"


def test_page_past_last_is_empty(api: Api) -> None:
    exchange = api.products(page="3", limit="10000")
    assert exchange.status == 200 and exchange.json == []
    pagination_headers_are_consistent(exchange)


def test_page_ending_exactly_at_the_total_has_no_more(api: Api) -> None:
    exchange = api.products(page="210")  # 10,500 / 50
    pagination_headers_are_consistent(exchange)
    assert exchange.headers["x-has-more"] == "false" and len(exchange.json) == 50


# --- L4, L5: sorting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "keys", [("field", "direction"), ("Field", "Direction"), ("FIELD", "direction")]
)
@pytest.mark.parametrize("field", ["id", "name"])
@pytest.mark.parametrize("direction", ["ASC", "DESC", "asc", "Desc"])
def test_sort_orders_results(api: Api, keys: tuple[str, str], field: str, direction: str) -> None:
    exchange = api.products(sort=sort_param(field, direction, keys), limit="500")
    assert exchange.status == 200
    items_are_sorted(exchange.json, field, direction)
    pagination_headers_are_consistent(exchange)


@pytest.mark.parametrize("field", ["id", "name"])
def test_sort_orders_results_across_pages(api: Api, field: str) -> None:
    sort = sort_param(field, "ASC")
    first = api.products(sort=sort, limit="100", page="1").json
    second = api.products(sort=sort, limit="100", page="2").json
    items_are_sorted(first + second, field, "ASC")


def test_sort_missing_keys_take_the_defaults(api: Api) -> None:
    by_name = api.products(sort='{"field": "name"}', limit="200").json
    items_are_sorted(by_name, "name", "DESC")
    ascending = api.products(sort='{"direction": "ASC"}', limit="200").json
    items_are_sorted(ascending, "id", "ASC")


@pytest.mark.parametrize(
    "sort",
    [
        '"name"',
        "name",
        "",
        "[]",
        '["name", "ASC"]',
        "null",
        '{"field": "colour"}',
        '{"field": "id", "direction": "UP"}',
        '{"field": 1}',
        '{"field": "id", "direction": null}',
        '{"order": "id"}',
        '{"field": "id", "Field": "name"}',
        '{"field": "id"',
        '{"field": NaN}',
    ],
)
def test_sort_format_rejects_anything_but_the_documented_object(api: Api, sort: str) -> None:
    assert api.products(sort=sort).status == 400


def test_default_order_id_desc(api: Api) -> None:
    items = api.products(limit="1000").json
    items_are_sorted(items, "id", "DESC", "default-order-id-desc")
    assert items[0]["id"] == max(p["id"] for p in api.products(limit="10000").json)


# --- L6, L7: filtering and how it composes with paging ---------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [
        {"category": "Gift Cards"},
        {"category": "Mobile Top-up"},
        {"country_id": "USA"},
        {"currency_id": "EUR"},
        {"category": "Gift Cards", "country_id": "USA", "currency_id": "USD"},
    ],
)
def test_filters_match_exactly(api: Api, filters: dict[str, str]) -> None:
    exchange = api.products(limit="10000", **filters)
    assert exchange.status == 200 and exchange.json
    items_match_filters(exchange.json, filters)
    pagination_headers_are_consistent(exchange)


@pytest.mark.parametrize(
    "filters",
    [{"category": "gift cards"}, {"country_id": "usa"}, {"currency_id": "US"}, {"category": ""}],
)
def test_filters_match_nothing_but_the_exact_value(api: Api, filters: dict[str, str]) -> None:
    exchange = api.products(**filters)
    assert exchange.status == 200 and exchange.json == []
    pagination_headers_are_consistent(exchange)


def test_filters_partition_the_catalog_by_category(api: Api) -> None:
    categories = {p["category"] for p in api.products(limit="10000").json}
    totals = [int(api.products(category=c, limit="1").headers["x-total-count"]) for c in categories]
    assert sum(totals) == CATALOG_SIZE


def test_pages_partition_listing(api: Api) -> None:
    filters = {"category": "Gift Cards", "sort": sort_param("name", "ASC")}
    whole = [p["id"] for p in api.products(limit="10000", **filters).json]
    walked: list[int] = []
    page = 1
    while True:
        exchange = api.products(limit="97", page=str(page), **filters)
        pagination_headers_are_consistent(exchange)
        walked += [p["id"] for p in exchange.json]
        if exchange.headers["x-has-more"] == "false":
            break
        page += 1
    assert walked == whole
    assert len(set(walked)) == len(walked)

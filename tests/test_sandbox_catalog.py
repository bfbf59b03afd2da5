"""The sandbox catalog: the data the sandbox serves, and the rules it must keep while serving it.

The catalog is built once per module (seed 0) and read by every test; tests that need another
build (determinism, speed) make their own.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections import defaultdict
from decimal import Decimal

import pycountry
import pytest
from documented_examples import DETAIL_FIELDS_1001, LIST_ENTRIES

from octopus_qa.rules import (
    RuleViolation,
    availability_false_outside_ranges,
    denomination_ranges_are_sane,
    items_are_sorted,
    items_match_filters,
    product_matches_list_entry,
)
from octopus_qa.sandbox.catalog import Catalog, Product, build_catalog

OPTIONAL_FIELDS = ("terms", "details", "how_to_use")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build_catalog(seed=0)


@pytest.fixture(scope="module")
def rebuilt(catalog: Catalog) -> tuple[Catalog, float]:
    """Seed 0 built a second time, and how long that took (reference data already loaded, as
    in a process that starts many sandboxes)."""
    started = time.perf_counter()
    again = build_catalog(seed=0)
    return again, time.perf_counter() - started


def _every_page(catalog: Catalog, products: tuple[Product, ...], limit: int) -> list[dict]:
    items: list[dict] = []
    for page in range(1, math.ceil(len(products) / limit) + 1):
        items += json.loads(catalog.page_json(products, page, limit))
    return items


# --- Size and reference data ----------------------------------------------------------------


def test_catalog_holds_more_than_ten_thousand_products(catalog: Catalog) -> None:
    assert len(catalog) == 10_500
    assert len(catalog.query()) == 10_500


def test_products_span_more_than_a_hundred_real_countries(catalog: Catalog) -> None:
    assert len(catalog.countries) > 100
    unknown = [code for code in catalog.countries if pycountry.countries.get(alpha_3=code) is None]
    assert unknown == []
    assert {p.country_code for p in catalog.products} == set(catalog.countries)


def test_currencies_are_iso_4217_codes(catalog: Catalog) -> None:
    unknown = [
        code for code in catalog.currencies if pycountry.currencies.get(alpha_3=code) is None
    ]
    assert unknown == []
    assert len(catalog.currencies) > 50
    assert {p.currency_code for p in catalog.products} == set(catalog.currencies)


def test_each_country_is_sold_in_one_currency_its_own(catalog: Catalog) -> None:
    currencies_by_country: dict[str, set[str]] = defaultdict(set)
    for product in catalog.products:
        currencies_by_country[product.country_code].add(product.currency_code)
    assert all(len(codes) == 1 for codes in currencies_by_country.values())
    assert currencies_by_country["USA"] == {"USD"}
    assert currencies_by_country["GBR"] == {"GBP"}
    assert currencies_by_country["JPN"] == {"JPY"}


def test_several_categories_and_sub_categories_exist(catalog: Catalog) -> None:
    assert {"Gift Cards", "Mobile Top-up", "Gaming", "Travel"} <= set(catalog.categories)
    sub_categories = {(p.category, p.sub_category) for p in catalog.products}
    for category in catalog.categories:
        assert len({sub for cat, sub in sub_categories if cat == category}) >= 2, category


# --- Determinism ------------------------------------------------------------------------------


def test_same_seed_builds_the_same_catalog(
    catalog: Catalog, rebuilt: tuple[Catalog, float]
) -> None:
    again, _ = rebuilt
    assert again.products == catalog.products
    assert again.page_json(again.query(), 1, 10_000) == catalog.page_json(
        catalog.query(), 1, 10_000
    )


def test_another_seed_builds_another_catalog(catalog: Catalog) -> None:
    other = build_catalog(seed=1)
    assert len(other) == len(catalog)
    assert other.products != catalog.products
    assert other.get(1001) == catalog.get(1001)


# --- The documented examples ------------------------------------------------------------------


@pytest.mark.parametrize("product_id", sorted(LIST_ENTRIES))
def test_documented_example_is_listed_exactly_as_documented(
    catalog: Catalog, product_id: int
) -> None:
    product = catalog.get(product_id)
    assert product is not None
    assert product.list_entry() == LIST_ENTRIES[product_id]
    served = _every_page(catalog, catalog.query(), 10_000)
    assert LIST_ENTRIES[product_id] in served


def test_documented_example_1001_detail_is_exactly_as_documented(catalog: Catalog) -> None:
    product = catalog.get(1001)
    assert product is not None
    expected = LIST_ENTRIES[1001] | DETAIL_FIELDS_1001
    assert json.loads(catalog.detail_json(product)) == expected
    documented_order = [
        *[name for name in LIST_ENTRIES[1001] if name != "available_denominations"],
        *OPTIONAL_FIELDS,
        "available_denominations",
    ]
    assert list(json.loads(catalog.detail_json(product))) == documented_order


def test_documented_amounts_are_written_with_two_decimals(catalog: Catalog) -> None:
    product = catalog.get(1001)
    assert product is not None
    assert b'{"min_value":10.00,"max_value":500.00,"discount":2.5}' in catalog.detail_json(product)


def test_documented_example_2001_has_detail_fields(catalog: Catalog) -> None:
    product = catalog.get(2001)
    assert product is not None
    detail = json.loads(catalog.detail_json(product))
    assert all(isinstance(detail[name], str) and detail[name] for name in OPTIONAL_FIELDS)
    product_matches_list_entry(detail, LIST_ENTRIES[2001])


# --- Product shape ----------------------------------------------------------------------------


def test_ids_are_unique_positive_and_not_contiguous(catalog: Catalog) -> None:
    ids = [p.id for p in catalog.products]
    assert len(set(ids)) == len(ids)
    assert min(ids) > 0
    assert max(ids) - min(ids) + 1 > len(ids)
    assert all(
        catalog.get(product_id) is product
        for product_id, product in zip(ids, catalog.products, strict=True)
    )


def test_unknown_id_finds_no_product(catalog: Catalog) -> None:
    missing = next(i for i in range(1, 200_000) if catalog.get(i) is None)
    assert catalog.get(missing) is None


def test_products_carry_https_images_and_documented_delivery_modes(catalog: Catalog) -> None:
    assert all(
        p.image_url.startswith("https://") and p.image_url.isascii() for p in catalog.products
    )
    assert {p.delivery_mode for p in catalog.products} == {"Digital", "Physical"}
    assert all(p.delivery_time and p.validity for p in catalog.products)


def test_optional_fields_are_present_on_some_products_and_absent_on_others(
    catalog: Catalog,
) -> None:
    for name in OPTIONAL_FIELDS:
        present = sum(1 for p in catalog.products if getattr(p, name))
        assert 0 < present < len(catalog), name


def test_list_entries_omit_optional_fields_and_details_add_those_set(catalog: Catalog) -> None:
    for product in catalog.products[::50]:
        entry = json.loads(catalog.page_json((product,), 1, 1))[0]
        detail = json.loads(catalog.detail_json(product))
        assert entry == product.list_entry()
        assert detail == product.detail()
        assert not set(OPTIONAL_FIELDS) & set(entry)
        assert {name for name in OPTIONAL_FIELDS if getattr(product, name)} == set(detail) & set(
            OPTIONAL_FIELDS
        )
        product_matches_list_entry(detail, entry)


def test_an_altered_copy_of_a_product_is_served_as_altered(catalog: Catalog) -> None:
    """Faults serve altered copies of products; stored bytes must not mask the alteration."""
    original = catalog.get(1001)
    assert original is not None
    altered = dataclasses.replace(original, name="Altered", terms=None)
    assert json.loads(catalog.page_json((altered,), 1, 1))[0]["name"] == "Altered"
    assert "terms" not in json.loads(catalog.detail_json(altered))
    assert json.loads(catalog.detail_json(original))["name"] == original.name


def test_stock_is_never_serialised(catalog: Catalog) -> None:
    product = catalog.products[0]
    assert b"stock" not in catalog.detail_json(product)
    assert "stock" not in product.detail()


def test_names_include_non_ascii_and_mixed_case_initials(catalog: Catalog) -> None:
    names = [p.name for p in catalog.products]
    assert any(not name.isascii() for name in names)
    assert any(name[0].islower() for name in names)
    assert any(name[0].isupper() for name in names)
    assert sorted(names, key=str.casefold) != sorted(names), "casefold order must differ"


def test_json_is_compact_utf8_without_escapes(catalog: Catalog) -> None:
    product = next(p for p in catalog.products if not p.name.isascii())
    body = catalog.page_json((product,), 1, 1)
    assert product.name.encode() in body
    assert b"\\u" not in body
    assert b'": ' not in body
    assert b', "' not in body


# --- Denominations ----------------------------------------------------------------------------


def test_denomination_ranges_are_sane(catalog: Catalog) -> None:
    for product in catalog.products:
        assert product.available_denominations, product.id
        denomination_ranges_are_sane(product.list_entry())


def test_denomination_amounts_have_two_decimals_within_documented_bounds(catalog: Catalog) -> None:
    for product in catalog.products:
        for entry in product.available_denominations:
            for amount in (entry.min_value, entry.max_value):
                assert Decimal(str(amount)) == Decimal(str(amount)).quantize(Decimal("0.01"))
                assert 0.01 <= amount <= 1_000_000_000


def test_some_products_offer_several_ranges(catalog: Catalog) -> None:
    assert any(len(p.available_denominations) > 1 for p in catalog.products)


# --- Filters (L6) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "keyword"),
    [("category", "category"), ("country_id", "country"), ("currency_id", "currency")],
)
def test_filters_match_exactly(catalog: Catalog, parameter: str, keyword: str) -> None:
    values = {
        "category": catalog.categories,
        "country": catalog.countries,
        "currency": catalog.currencies,
    }
    for value in values[keyword][:10]:
        found = catalog.query(**{keyword: value})
        assert found
        items_match_filters([p.list_entry() for p in found], {parameter: value})
        field = {"category": "category", "country": "country_code", "currency": "currency_code"}[
            keyword
        ]
        assert len(found) == sum(1 for p in catalog.products if getattr(p, field) == value)


@pytest.mark.parametrize(
    "filters",
    [{"category": "gift cards"}, {"country": "usa"}, {"currency": "US"}, {"category": "Gift"}],
    ids=["category-lowercase", "country-lowercase", "currency-prefix", "category-prefix"],
)
def test_filters_do_not_match_loosely(catalog: Catalog, filters: dict[str, str]) -> None:
    assert catalog.query(**filters) == ()


def test_filters_combine_as_an_intersection(catalog: Catalog) -> None:
    found = catalog.query(category="Gift Cards", country="USA", currency="USD")
    expected = {
        p.id
        for p in catalog.products
        if (p.category, p.country_code, p.currency_code) == ("Gift Cards", "USA", "USD")
    }
    assert {p.id for p in found} == expected
    assert {1001, 2001} <= expected
    items_match_filters(
        [p.list_entry() for p in found],
        {"category": "Gift Cards", "country_id": "USA", "currency_id": "USD"},
    )


# --- Sorting (L5) -----------------------------------------------------------------------------


def test_default_order_is_id_descending(catalog: Catalog) -> None:
    listed = catalog.query()
    items_are_sorted([p.list_entry() for p in listed], "id", "DESC", rule="default-order-id-desc")
    assert [p.id for p in listed] == sorted((p.id for p in catalog.products), reverse=True)


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize("field", ["id", "name", "category", "country_code", "currency_code"])
def test_sort_orders_results(catalog: Catalog, field: str, direction: str) -> None:
    assert field in catalog.sortable_fields
    listed = catalog.query(sort_field=field, descending=direction == "DESC")
    assert len(listed) == len(catalog)
    items_are_sorted([p.list_entry() for p in listed], field, direction)


def test_name_sort_is_case_insensitive_not_naive(catalog: Catalog) -> None:
    listed = [p.name for p in catalog.query(sort_field="name", descending=False)]
    assert listed == sorted(listed, key=str.casefold)
    assert listed != sorted(listed)


def test_sorting_applies_within_a_filter(catalog: Catalog) -> None:
    listed = catalog.query(category="Gaming", sort_field="name", descending=True)
    entries = [p.list_entry() for p in listed]
    items_match_filters(entries, {"category": "Gaming"})
    items_are_sorted(entries, "name", "DESC")


def test_unknown_sort_field_is_refused(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="cannot sort"):
        catalog.query(sort_field="price")


def test_a_query_returns_the_same_sequence_every_time(catalog: Catalog) -> None:
    first = catalog.query(currency="EUR", sort_field="name")
    assert catalog.query(currency="EUR", sort_field="name") == first


def test_sort_check_fails_on_a_naive_name_order(catalog: Catalog) -> None:
    """Guard on the guard: the rule check used above does catch a code-point name order."""
    naive = sorted((p.list_entry() for p in catalog.products), key=lambda item: item["name"])
    with pytest.raises(RuleViolation, match="sort-orders-results"):
        items_are_sorted(naive, "name", "ASC")


# --- Pages (L2, L3, L7) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "limit"),
    [
        (1, 1),
        (1, 50),
        (2, 50),
        (210, 50),
        (211, 50),
        (1, 10_000),
        (2, 10_000),
        (3, 10_000),
        (6, 1_750),
        (7, 1_750),
    ],
)
def test_page_holds_the_documented_number_of_items(catalog: Catalog, page: int, limit: int) -> None:
    listed = catalog.query()
    items = json.loads(catalog.page_json(listed, page, limit))
    expected_size = max(0, min(limit, len(listed) - (page - 1) * limit))
    assert len(items) == expected_size
    assert [item["id"] for item in items] == [p.id for p in listed[(page - 1) * limit :][:limit]]


def test_page_past_the_last_is_an_empty_array(catalog: Catalog) -> None:
    assert catalog.page_json(catalog.query(), 1_000, 50) == b"[]"
    assert catalog.page_json(catalog.query(country="nowhere"), 1, 50) == b"[]"


@pytest.mark.parametrize("limit", [7, 50, 333])
def test_pages_partition_a_filtered_listing(catalog: Catalog, limit: int) -> None:
    listed = catalog.query(category="Travel", sort_field="name", descending=False)
    items = _every_page(catalog, listed, limit)
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) == len(listed)
    assert ids == [p.id for p in listed]


@pytest.mark.parametrize(("page", "limit"), [(0, 50), (1, 0), (-1, 10)])
def test_page_and_limit_start_at_one(catalog: Catalog, page: int, limit: int) -> None:
    with pytest.raises(ValueError):
        catalog.page_json(catalog.query(), page, limit)


# --- Availability (P5) ------------------------------------------------------------------------


def _outside_points(product: Product) -> list[float]:
    """Amounts just below, between and above the product's ranges."""
    ranges = product.available_denominations
    points = [round(ranges[0].min_value - 0.01, 2), round(ranges[-1].max_value + 0.01, 2)]
    points += [
        round(low.max_value + 0.005, 3)
        for low, high in zip(ranges, ranges[1:], strict=False)
        if high.min_value > low.max_value + 0.005
    ]
    return [point for point in points if point > 0]


def test_availability_is_false_outside_every_range(catalog: Catalog) -> None:
    checked = 0
    for product in catalog.products[::7]:
        entry = product.list_entry()
        for amount in _outside_points(product):
            available = catalog.is_available(product, amount, 1)
            availability_false_outside_ranges(entry, amount, available)
            checked += 1
    assert checked > 1_500


def test_availability_inside_a_range_follows_stock(catalog: Catalog) -> None:
    in_stock = next(p for p in catalog.products if p.stock >= 2)
    sold_out = next(p for p in catalog.products if p.stock == 0)
    for product in (in_stock, sold_out):
        inside = product.available_denominations[0].min_value
        assert catalog.is_available(product, inside, 1) is (product.stock >= 1)
        assert catalog.is_available(product, inside, product.stock + 1) is False
    assert catalog.is_available(in_stock, in_stock.available_denominations[-1].max_value, 2)


def test_availability_inside_a_range_is_sometimes_false_and_sometimes_true(
    catalog: Catalog,
) -> None:
    answers = {
        catalog.is_available(p, p.available_denominations[0].min_value, 10)
        for p in catalog.products
    }
    assert answers == {True, False}


def test_documented_availability_examples_show_both_answers(catalog: Catalog) -> None:
    """products-api.txt checks 1001 at 100.00 × 2 (standard) and 50.00 × 100 (bulk)."""
    product = catalog.get(1001)
    assert product is not None
    assert catalog.is_available(product, 100.00, 2) is True
    assert catalog.is_available(product, 50.00, 100) is False
    assert catalog.is_available(product, 500.01, 1) is False
    assert catalog.is_available(product, 9.99, 1) is False


# --- Speed ------------------------------------------------------------------------------------


def test_a_catalog_builds_in_well_under_a_second(rebuilt: tuple[Catalog, float]) -> None:
    """The contract suite starts about 40 sandboxes, each building a catalog: the target is
    under 0.5 s; the bound leaves room for a busy shared machine."""
    _, seconds = rebuilt
    assert seconds < 2.0


def test_a_ten_thousand_item_page_takes_milliseconds(catalog: Catalog) -> None:
    listed = catalog.query()
    catalog.page_json(listed, 1, 10_000)
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        catalog.page_json(catalog.query(), 1, 10_000)
        best = min(best, time.perf_counter() - started)
    assert best < 0.1

"""Paging at its edges (L2, L3): first, second, middle, last, one past the last and far past it,
for page sizes that make the edges differ (1, small primes, the default, both divisors of the
total so the last page is exactly full, a prime above a thousand, the documented maximum), on
the whole listing, a filtered one, an empty one and one of a single product. The pinned edges
come from X-Total-Count, so they hold on any target; hypothesis explores the rest on top.

Every response is judged by rules.pagination_headers_are_consistent (the client applies it, with
the other cheap rules, to every response); these tests choose the requests that reach the edges.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from octopus_qa import rules
from octopus_qa.contract.client import ApiClient
from octopus_qa.contract.fixtures import LIST, MAX_LIMIT, CatalogSample, SmallListing, WholeCatalog


def _smallest_divisor(total: int) -> int:
    """The smallest divisor of `total` above 1 (`total` itself when it is prime)."""
    return next((d for d in range(2, math.isqrt(total) + 1) if total % d == 0), total)


#: Page sizes by what makes them interesting, each a function of the listing's total.
PAGE_SIZES: Mapping[str, Callable[[int], int]] = {
    "one": lambda total: 1,
    "prime-7": lambda total: 7,
    "prime-13": lambda total: 13,
    "default-50": lambda total: 50,
    "small-divisor": lambda total: _smallest_divisor(max(total, 2)),
    "large-divisor": lambda total: max(1, total // _smallest_divisor(max(total, 2))),
    "prime-above-a-thousand": lambda total: 1009,
    "documented-max": lambda total: MAX_LIMIT,
}


def edge_pages(total: int, limit: int) -> dict[str, int]:
    """The pages where paging bugs live, for a listing of `total` items in pages of `limit`."""
    last = max(1, math.ceil(total / limit))
    return {
        "first": 1,
        "second": 2,
        "middle": max(1, (last + 1) // 2),
        "last": last,
        "one-past-last": last + 1,
        "far-past-last": last + 1000,
    }


def walk_edges(api: ApiClient, filters: Mapping[str, str], total: int, limit: int) -> None:
    """Request every edge page of a listing of `total` items (its X-Total-Count as first read);
    the client judges L2/L3 on each response, this judges that each page is served (200)."""
    limit = min(limit, MAX_LIMIT)
    pages = -(-total // limit)
    for where, page in edge_pages(total, limit).items():
        exchange = api.get(LIST, params={**filters, "page": page, "limit": limit})
        past = page > pages
        rules.expect_status(
            exchange,
            200,
            "page-past-last-is-empty" if past else "pagination-headers-consistent",
            f"the {where} page ({page} of {pages}, limit {limit}, filters {dict(filters)})",
        )


@pytest.mark.rule("pagination-headers-consistent", "page-past-last-is-empty")
@pytest.mark.parametrize("size", PAGE_SIZES)
def test_pagination_holds_at_the_edges_of_the_whole_listing(
    api: ApiClient, whole_catalog: WholeCatalog, size: str
) -> None:
    walk_edges(api, {}, whole_catalog.total, PAGE_SIZES[size](whole_catalog.total))


@pytest.mark.rule("pagination-headers-consistent", "page-past-last-is-empty")
@pytest.mark.parametrize("size", PAGE_SIZES)
def test_pagination_holds_at_the_edges_of_a_filtered_listing(
    api: ApiClient, small_listing: SmallListing, size: str
) -> None:
    total = small_listing.total
    walk_edges(api, small_listing.filters, total, PAGE_SIZES[size](total))


@pytest.mark.rule("pagination-headers-consistent", "page-past-last-is-empty", "filters-match")
@pytest.mark.parametrize("limit", [1, 50, MAX_LIMIT])
def test_pagination_holds_on_a_listing_that_matches_nothing(api: ApiClient, limit: int) -> None:
    filters = {"category": "No Such Category \u2603", "country_id": "USA"}
    first = api.get(LIST, params={**filters, "limit": limit})
    if first.status != 200 or first.json != []:
        raise rules.RuleViolation(
            "filters-match", f"{filters} answered {first.status} with {len(first.json or [])} items"
        )
    walk_edges(api, filters, 0, limit)


def _single_product_filters(whole_catalog: WholeCatalog) -> tuple[dict[str, str], int]:
    """Filters that match exactly one product of the catalog, and that product's id."""
    combos = Counter(
        (p["category"], p["country_code"], p["currency_code"]) for p in whole_catalog.products
    )
    single = sorted(combo for combo, count in combos.items() if count == 1)
    if not single:
        pytest.skip("no filter combination matches exactly one product")
    category, country, currency = single[0]
    product = next(
        p
        for p in whole_catalog.products
        if (p["category"], p["country_code"], p["currency_code"]) == single[0]
    )
    return {"category": category, "country_id": country, "currency_id": currency}, product["id"]


@pytest.mark.rule("pagination-headers-consistent", "page-past-last-is-empty", "filters-match")
@pytest.mark.parametrize("limit", [1, 2, MAX_LIMIT])
def test_pagination_holds_on_a_listing_of_one_product(
    api: ApiClient, whole_catalog: WholeCatalog, limit: int
) -> None:
    filters, product_id = _single_product_filters(whole_catalog)
    walk_edges(api, filters, 1, limit)
    listed = api.get(LIST, params={**filters, "limit": limit}).json
    if [item.get("id") for item in listed] != [product_id]:
        raise rules.RuleViolation(
            "filters-match",
            f"{filters} matches product {product_id} alone; the listing holds "
            f"{[item.get('id') for item in listed][:10]}",
        )


def _listings(catalog: CatalogSample) -> list[dict[str, str]]:
    """Listings for the exploration: all, one filter, two filters (values from real products)."""
    product = catalog.products[0]
    return [
        {},
        {"category": catalog.common("category")},
        {"country_id": product["country_code"]},
        {"category": product["category"], "currency_id": product["currency_code"]},
    ]


@pytest.mark.rule("pagination-headers-consistent", "page-past-last-is-empty")
@given(data=st.data())
def test_pagination_holds_on_any_page_of_any_listing(
    api: ApiClient, catalog: CatalogSample, data: st.DataObject
) -> None:
    filters = data.draw(st.sampled_from(_listings(catalog)), label="filters")
    total = int(api.get(LIST, params={**filters, "limit": 1}).headers["x-total-count"])
    limit = data.draw(
        st.one_of(
            st.integers(1, 60),
            st.integers(990, 1010),
            st.integers(MAX_LIMIT - 10, MAX_LIMIT),
            st.sampled_from(
                [d for d in range(1, min(total, MAX_LIMIT) + 1) if total % d == 0] or [1]
            ),
        ),
        label="limit",
    )
    pages = -(-total // limit)
    page = data.draw(
        st.one_of(
            st.integers(1, pages + 2),
            st.sampled_from([max(1, pages), pages + 1]),
            st.integers(pages + 1, pages + 10**6),
        ),
        label="page",
    )
    exchange = api.get(LIST, params={**filters, "page": page, "limit": limit})
    rules.expect_status(
        exchange, 200, "pagination-headers-consistent", f"page {page}, limit {limit}"
    )

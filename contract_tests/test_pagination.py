"""Pagination headers (L2) on every page the walk reaches: first, middle, last, past-last (L3)
and an empty filter; the documented defaults (page 1, 50 per page). The arithmetic is
rules.pagination_headers_are_consistent, which the client applies to every list response."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from octopus_qa import rules
from octopus_qa.contract.client import ApiClient
from octopus_qa.contract.fixtures import LIST, SmallListing


@pytest.mark.rule("paging-defaults")
def test_without_page_and_limit_the_first_page_of_fifty(api: ApiClient) -> None:
    # With no page or limit in the query, the check holds X-Page to 1 and X-Per-Page to 50 (a
    # mismatch is paging-defaults), and the body to min(50, X-Total-Count) items.
    rules.pagination_headers_are_consistent(api.get(LIST, check=False))


@pytest.mark.rule("pagination-headers-present", "pagination-headers-consistent")
@pytest.mark.parametrize("where", ["first", "middle", "last", "past-last"])
def test_pagination_headers_hold_on_every_page(
    api: ApiClient, small_listing: SmallListing, where: str
) -> None:
    pages = small_listing.pages
    page = {"first": 1, "middle": max(1, pages // 2), "last": pages, "past-last": pages + 1}[where]
    exchange = api.get(
        LIST, params={**small_listing.filters, "page": page, "limit": small_listing.limit}
    )
    rules.pagination_headers_are_consistent(exchange)
    assert exchange.headers["x-total-count"] == str(small_listing.total)


@pytest.mark.rule("pagination-headers-present", "pagination-headers-consistent")
@given(page=st.integers(min_value=1, max_value=400), limit=st.integers(min_value=1, max_value=500))
def test_pagination_headers_hold_on_any_page(api: ApiClient, page: int, limit: int) -> None:
    exchange = api.get(LIST, params={"page": page, "limit": limit})
    rules.pagination_headers_are_consistent(exchange)


@pytest.mark.rule("pagination-headers-present", "pagination-headers-consistent", "filters-match")
def test_pagination_headers_hold_when_nothing_matches(api: ApiClient) -> None:
    exchange = api.get(LIST, params={"currency_id": "XXX-none", "page": 1, "limit": 10})
    rules.pagination_headers_are_consistent(exchange)
    if exchange.headers["x-total-count"] != "0":
        raise rules.RuleViolation(
            "filters-match", f"currency_id=XXX-none matched {exchange.headers['x-total-count']}"
        )


@pytest.mark.rule("page-past-last-is-empty")
def test_page_past_the_last_is_empty(api: ApiClient, small_listing: SmallListing) -> None:
    for page in (small_listing.pages + 1, small_listing.pages + 50):
        exchange = api.get(
            LIST, params={**small_listing.filters, "page": page, "limit": small_listing.limit}
        )
        rules.expect_status(
            exchange, 200, "page-past-last-is-empty", f"page {page} of {small_listing.pages}"
        )
        rules.pagination_headers_are_consistent(exchange)  # past the last: no items (L3)

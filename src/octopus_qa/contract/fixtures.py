"""Facts about the target's catalogue that tests need, discovered from the data it serves.

Nothing here knows the sandbox: values for filters, sizes for paging walks and products for
availability checks all come from what the target returns, so the suite works on any target.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import pytest

from .. import rules
from ..rules import expect_status
from .client import ApiClient

LIST = "/api/v1/products"
#: How many products the sample page holds (one request, within the documented limit).
SAMPLE_SIZE = 500
#: L7 walks a filtered listing with at most this many items (a few pages, a few hundred items).
PARTITION_MAX_ITEMS = 300


@dataclass(frozen=True)
class CatalogSample:
    products: list[dict[str, Any]]
    total: int

    def common(self, field: str) -> str:
        """The most frequent value of a product field in the sample (a filter that matches)."""
        return Counter(str(p[field]) for p in self.products).most_common(1)[0][0]

    def rare(self, field: str) -> str:
        return Counter(str(p[field]) for p in self.products).most_common()[-1][0]


@pytest.fixture(scope="session")
def catalog(api: ApiClient) -> CatalogSample:
    exchange = api.get(LIST, params={"limit": SAMPLE_SIZE})
    expect_status(exchange, 200, rules.LIMIT_BOUNDS, f"GET {LIST}?limit={SAMPLE_SIZE}")
    products = [p for p in exchange.json if isinstance(p, dict)]
    if len(products) < 3:
        pytest.skip("the target's catalogue has fewer than 3 products: nothing to compare")
    return CatalogSample(products, int(exchange.headers.get("x-total-count", len(products))))


@dataclass(frozen=True)
class SmallListing:
    """A filter combination matching a few items, and a limit that spreads them over pages."""

    filters: dict[str, str]
    total: int
    limit: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.limit)


@pytest.fixture(scope="session")
def small_listing(api: ApiClient, catalog: CatalogSample) -> SmallListing:
    """The first filter combination, taken from real products, whose listing is small (L7)."""
    seen: set[tuple[tuple[str, str], ...]] = set()
    for product in catalog.products:
        for filters in (
            {"country_id": product["country_code"], "currency_id": product["currency_code"]},
            {"category": product["category"], "country_id": product["country_code"]},
            {"country_id": product["country_code"]},
            {"category": product["category"]},
        ):
            key = tuple(sorted(filters.items()))
            if key in seen:
                continue
            seen.add(key)
            total = int(api.get(LIST, params={**filters, "limit": 1}).headers["x-total-count"])
            if 4 <= total <= PARTITION_MAX_ITEMS:
                return SmallListing(filters, total, limit=max(1, math.ceil(total / 4)))
        if len(seen) > 40:
            break
    pytest.skip("no filter combination with 4 to 300 products found in the sample")


#: The documented maximum page size: a handful of requests read the whole catalog.
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class WholeCatalog:
    """Every product the target lists (default order), read with the documented maximum limit."""

    pages: list[list[dict[str, Any]]]
    total: int

    @property
    def products(self) -> list[dict[str, Any]]:
        return [product for page in self.pages for product in page]


@cache
def read_whole_catalog(api: ApiClient) -> WholeCatalog:
    """The whole catalog in ceil(total / 10,000) requests, read once per run."""
    first = api.get(LIST, params={"limit": MAX_LIMIT})
    expect_status(
        first, 200, rules.LIMIT_BOUNDS, f"GET {LIST}?limit={MAX_LIMIT} (the documented maximum)"
    )
    total = int(first.headers["x-total-count"])
    pages = [first.json]
    for page in range(2, math.ceil(total / MAX_LIMIT) + 1):
        pages.append(api.get(LIST, params={"limit": MAX_LIMIT, "page": page}).json)
    products = [[p for p in page if isinstance(p, dict)] for page in pages]
    return WholeCatalog(products, total)


class ListedIds:
    """The ids of every listed product, read on first use; None when the listing could not be
    read whole (a broken listing is its own tests' failure, and without the ids no id can be
    called unknown)."""

    def __init__(self, api: ApiClient) -> None:
        self._api = api

    @cached_property
    def ids(self) -> frozenset[int] | None:
        try:
            return frozenset(int(p["id"]) for p in read_whole_catalog(self._api).products)
        except (AssertionError, KeyError, TypeError, ValueError):
            return None


@pytest.fixture(scope="session")
def whole_catalog(api: ApiClient) -> WholeCatalog:
    """The whole catalog (test_whole_catalog.py judges L7 on it)."""
    catalog = read_whole_catalog(api)
    if len(catalog.products) < 3:
        pytest.skip("the target's catalogue has fewer than 3 products: nothing to compare")
    return catalog

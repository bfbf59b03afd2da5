"""The whole catalog, cheaply: the documents allow limit=10,000, so a handful of requests read
every product. Every product is judged for the schema and its denomination ranges (P2); details
(P3) are compared on a sample that always holds the unusual products (non-ASCII and lower-case
names, the smallest and largest ids, every id length, the most ranges), plus a seeded random
share whose size the profile sets (deep: every product)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from octopus_qa import rules
from octopus_qa.contract.client import ApiClient
from octopus_qa.contract.fixtures import LIST, WholeCatalog
from octopus_qa.contract.suite import Suite


def unusual_products(products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The products where bugs that depend on data show first, each kind a few times."""
    by_id = sorted(products, key=lambda p: p["id"])
    picks = by_id[:3] + by_id[-3:]
    by_length: dict[int, dict[str, Any]] = {}
    for product in by_id:
        by_length.setdefault(len(str(product["id"])), product)
    picks += by_length.values()
    picks += [p for p in products if not str(p["name"]).isascii()][:8]
    picks += [p for p in products if str(p["name"])[:1].islower()][:3]
    by_ranges = sorted(products, key=lambda p: len(p.get("available_denominations") or ()))
    picks += by_ranges[:2] + by_ranges[-3:]
    return list({p["id"]: p for p in picks}.values())


@pytest.mark.rule("pages-partition-listing")
def test_reading_the_whole_catalog_yields_each_product_once(whole_catalog: WholeCatalog) -> None:
    rules.pages_partition_listing(
        whole_catalog.pages, whole_catalog.total, "the whole catalog, pages of 10000"
    )


@pytest.mark.rule("product-schema")
def test_every_product_carries_the_documented_fields(whole_catalog: WholeCatalog) -> None:
    for product in whole_catalog.products:
        rules.product_has_documented_shape(product)


@pytest.mark.rule("denomination-ranges-sane")
def test_every_product_has_sane_denomination_ranges(whole_catalog: WholeCatalog) -> None:
    for product in whole_catalog.products:
        rules.denomination_ranges_are_sane(product)


@pytest.mark.rule("details-match-list", "product-schema", "denomination-ranges-sane")
def test_details_equal_the_list_entry_on_unusual_and_sampled_products(
    api: ApiClient, suite: Suite, whole_catalog: WholeCatalog
) -> None:
    products = whole_catalog.products
    unusual = unusual_products(products)
    size = min(suite.profile.details_sample, len(products))
    sampled = random.Random(suite.seed).sample(products, size)
    for entry in list({p["id"]: p for p in unusual + sampled}.values()):
        exchange = api.get(f"{LIST}/{entry['id']}")
        rules.expect_status(exchange, 200, "details-match-list", f"product {entry['id']}")
        rules.product_has_documented_shape(exchange.json)
        rules.denomination_ranges_are_sane(exchange.json)
        rules.product_matches_list_entry(exchange.json, entry)

"""Parameters in combination: two and three filters at once (L6), filters with sort and paging
(L5, L7), every sortable field the documents name in both directions and both key spellings,
ordered across page boundaries on the whole catalog (where ids of one to five digits and mixed
case and non-ASCII names make a wrong order visible), and the whole catalog walked page by page
in more than one order and page size (the profile says which sizes).

Combinations come from the products the target serves, so every filter value exists; where a
combination of existing values matches nothing, the answer must be an empty page.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from octopus_qa import rules
from octopus_qa.contract.client import ApiClient
from octopus_qa.contract.fixtures import LIST, MAX_LIMIT, SmallListing, WholeCatalog
from octopus_qa.contract.suite import Suite

#: Query parameter → the product field it filters on (L6).
FIELDS = dict(rules.FILTER_FIELDS)
COMBINATIONS = {
    "category+country": ("category", "country_id"),
    "category+currency": ("category", "currency_id"),
    "country+currency": ("country_id", "currency_id"),
    "all-three": ("category", "country_id", "currency_id"),
}
#: (field, direction, spelling of the keys): every combination the documents allow (L4, L5).
SORTS = [
    pytest.param(field, direction, keys, id=f"{field}-{direction}-{keys[0]}")
    for field in ("id", "name")
    for direction in ("ASC", "DESC")
    for keys in (("field", "direction"), ("Field", "Direction"))
]


def _sort(field: str, direction: str, keys: Sequence[str] = ("field", "direction")) -> str:
    return json.dumps({keys[0]: field, keys[1]: direction})


def walk(
    api: ApiClient, params: Mapping[str, Any], limit: int
) -> tuple[list[list[dict[str, Any]]], int]:
    """Every page of a listing in pages of `limit`: the pages and the listing's X-Total-Count.

    Each page is judged on the way: the cheap rules (the client), its filters and its order.
    """
    first = api.get(LIST, params={**params, "limit": limit})
    refused = "sort-format" if "sort" in params else "filters-match"  # a valid query, refused
    rules.expect_status(first, 200, refused, f"{dict(params)} page 1")
    total = int(first.headers["x-total-count"])
    exchanges = [first] + [
        api.get(LIST, params={**params, "limit": limit, "page": page})
        for page in range(2, math.ceil(total / limit) + 1)
    ]
    for exchange in exchanges:
        rules.listing_matches_filters(exchange)
        rules.listing_is_in_requested_order(exchange)
    return [list(exchange.json) for exchange in exchanges], total


def _combinations(
    whole_catalog: WholeCatalog, parameters: Sequence[str], how_many: int, seed: int
) -> list[tuple[dict[str, str], int | None]]:
    """Filter combinations with the product they were taken from (None: built to match none).

    The most common combination, the rarest, seeded random ones, and one that pairs values
    which each exist but never together.
    """
    products = whole_catalog.products
    combos = Counter(tuple(p[FIELDS[name]] for name in parameters) for p in products)
    ordered = [combo for combo, _ in combos.most_common()]
    draw = random.Random(seed)
    chosen = [ordered[0], ordered[-1]] + draw.sample(ordered, min(len(ordered), how_many))
    result: list[tuple[dict[str, str], int | None]] = []
    for combo in dict.fromkeys(chosen[: max(2, how_many)]):
        source = next(p for p in products if tuple(p[FIELDS[n]] for n in parameters) == combo)
        result.append((dict(zip(parameters, combo, strict=True)), source["id"]))
    if len({p.get("id") for p in products}) != whole_catalog.total:
        return result  # the catalog did not read whole (its own test says so): no "none" here
    # Values that exist one by one but never together must compose to an empty listing.
    values = [sorted({p[FIELDS[name]] for p in products}) for name in parameters]
    for _ in range(200):
        combo = tuple(draw.choice(options) for options in values)
        if combo not in combos:
            result.append((dict(zip(parameters, combo, strict=True)), None))
            break
    return result


@pytest.mark.rule("filters-match")
@pytest.mark.parametrize("kind", COMBINATIONS)
def test_filters_in_combination_match_every_filter(
    api: ApiClient, suite: Suite, whole_catalog: WholeCatalog, kind: str
) -> None:
    for filters, source in _combinations(
        whole_catalog, COMBINATIONS[kind], suite.profile.filter_combinations, suite.seed
    ):
        pages, _ = walk(api, filters, MAX_LIMIT)  # every item judged against every filter
        ids = [item.get("id") for page in pages for item in page]
        if source is not None and source not in ids:
            raise rules.RuleViolation(
                "filters-match", f"{filters}, taken from product {source}, does not list it"
            )
        if source is None and ids:
            raise rules.RuleViolation(
                "filters-match", f"{filters} matches no product, yet lists {ids[:10]}"
            )


@pytest.mark.rule("filters-match", "sort-orders-results", "pages-partition-listing")
@pytest.mark.parametrize("field,direction,keys", SORTS)
def test_filtered_sorted_pages_compose(
    api: ApiClient, small_listing: SmallListing, field: str, direction: str, keys: Sequence[str]
) -> None:
    params = {**small_listing.filters, "sort": _sort(field, direction, keys)}
    for limit in (7, small_listing.limit):
        pages, total = walk(api, params, limit)
        what = f"{small_listing.filters} sorted {field} {direction}, pages of {limit}"
        rules.pages_partition_listing(pages, total, what)
        rules.items_are_sorted([item for page in pages for item in page], field, direction)


@pytest.mark.rule("sort-orders-results", "pages-partition-listing")
@pytest.mark.parametrize("field,direction,keys", SORTS)
def test_sort_orders_the_whole_catalog(
    api: ApiClient, field: str, direction: str, keys: Sequence[str]
) -> None:
    pages, total = walk(api, {"sort": _sort(field, direction, keys)}, MAX_LIMIT)
    rules.pages_partition_listing(pages, total, f"the whole catalog sorted {field} {direction}")
    rules.items_are_sorted([item for page in pages for item in page], field, direction)


@pytest.mark.rule("pages-partition-listing", "sort-orders-results", "default-order-id-desc")
@pytest.mark.parametrize("order", ["default", "name-ASC"])
def test_walking_the_whole_catalog_yields_each_product_once(
    api: ApiClient, suite: Suite, order: str
) -> None:
    params = {} if order == "default" else {"sort": _sort("name", "ASC")}
    field, direction = ("id", "DESC") if order == "default" else ("name", "ASC")
    rule_id = "default-order-id-desc" if order == "default" else "sort-orders-results"
    for limit in suite.profile.catalog_walk_limits:
        pages, total = walk(api, params, limit)
        rules.pages_partition_listing(pages, total, f"the whole catalog, {order}, pages of {limit}")
        joined = [item for page in pages for item in page]
        rules.items_are_sorted(joined, field, direction, rule=rule_id)

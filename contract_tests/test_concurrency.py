"""A short concurrent burst inside the contract suite: a few hundred requests (the profile says
how many, and how many at once) of every kind, with every cheap rule judged on every response,
and the request ids judged across the burst (echoed to the request that sent them, generated
ones never twice). Bugs that only show when requests overlap (a buffer shared between requests,
a counter that races) pass a sequential suite; the load suite catches them too, but only in a
pipeline that runs it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from octopus_qa import rules
from octopus_qa.contract.exchanges import from_httpx
from octopus_qa.contract.fixtures import LIST, CatalogSample
from octopus_qa.contract.suite import Suite
from octopus_qa.ksuids import new_ksuid
from octopus_qa.rules import Exchange, RuleViolation


@dataclass(frozen=True)
class Planned:
    method: str
    path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    with_token: bool = True
    request_id: str | None = None


def plan_burst(catalog: CatalogSample, count: int, seed: int) -> list[Planned]:
    """`count` requests of every kind the API answers: pages (filtered, sorted), details, 400s,
    401s and 404s, half of them with a client KSUID."""
    draw = random.Random(seed)
    products = catalog.products
    planned = []
    for index in range(count):
        request_id = new_ksuid() if index % 2 else None
        kind = draw.random()
        if kind < 0.5:
            params: dict[str, Any] = {
                "page": draw.randint(1, 4),
                "limit": draw.choice([1, 7, 50, 200]),
            }
            if draw.random() < 0.4:
                product = draw.choice(products)
                params["country_id"] = product["country_code"]
            if draw.random() < 0.4:
                field_name = draw.choice(["id", "name"])
                params["sort"] = (
                    f'{{"field":"{field_name}","direction":"{draw.choice(["ASC", "DESC"])}"}}'
                )
            planned.append(Planned("GET", LIST, params, request_id=request_id))
        elif kind < 0.8:
            product = draw.choice(products)
            planned.append(Planned("GET", f"{LIST}/{product['id']}", request_id=request_id))
        elif kind < 0.87:
            planned.append(Planned("GET", f"{LIST}/0", request_id=request_id))
        elif kind < 0.94:
            planned.append(Planned("GET", LIST, with_token=False, request_id=request_id))
        else:
            planned.append(Planned("GET", f"{LIST}/999999999", request_id=request_id))
    return planned


async def _send_all(
    base_url: str, token: str, planned: list[Planned], concurrency: int
) -> list[Exchange]:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits) as client:

        async def send(request: Planned) -> Exchange:
            headers = {"Authorization": f"Bearer {token}"} if request.with_token else {}
            if request.request_id is not None:
                headers["X-Request-Id"] = request.request_id
            async with gate:
                response = await client.request(
                    request.method, request.path, params=dict(request.params), headers=headers
                )
            return from_httpx(response)

        return list(await asyncio.gather(*(send(request) for request in planned)))


def _judge(exchange: Exchange, entries: Mapping[Any, Mapping[str, Any]]) -> None:
    rules.cheap_response_checks(exchange)
    rules.listing_matches_filters(exchange)
    rules.listing_is_in_requested_order(exchange)
    if exchange.method == "GET" and exchange.status == 200 and not exchange.is_list:
        detail = exchange.json
        entry = entries.get(detail.get("id")) if isinstance(detail, dict) else None
        if entry is not None:
            rules.product_matches_list_entry(detail, entry)


@pytest.mark.rule(
    "request-id-present",
    "request-id-echoed",
    "request-id-generated",
    "pagination-headers-consistent",
    "filters-match",
    "sort-orders-results",
    "details-match-list",
)
def test_a_concurrent_burst_keeps_every_rule(suite: Suite, catalog: CatalogSample) -> None:
    profile = suite.profile
    planned = plan_burst(catalog, profile.burst_requests, suite.seed)
    token = suite.shared_login.access_token()
    exchanges = asyncio.run(_send_all(suite.base_url, token, planned, profile.burst_concurrency))
    entries = {product["id"]: product for product in catalog.products}
    violations: dict[str, list[str]] = {}
    judged = []
    for exchange in exchanges:
        if exchange.status == rules.RETRY_LATER:
            continue  # E4: retry later, never judged
        suite.coverage.record(exchange.method, exchange.path, exchange.status)
        judged.append(exchange)
        try:
            _judge(exchange, entries)
        except RuleViolation as violation:
            violations.setdefault(violation.rule.id, []).append(str(violation))
    try:
        rules.request_ids_are_fresh(judged)
    except RuleViolation as violation:
        violations.setdefault(violation.rule.id, []).append(str(violation))
    assert not violations, (
        f"{sum(map(len, violations.values()))} violations in a burst of {len(planned)} requests, "
        f"{profile.burst_concurrency} at a time:\n"
        + "\n".join(f"{len(found)} × {found[0]}" for found in violations.values())
    )

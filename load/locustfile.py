"""Who uses the Octopus Cards API, and how often: the load scenario.

Three kinds of client, weighted like real traffic:

- Browser (most users): logs in once, lists products with random pages, limits, filters and
  sort orders, opens the details of products it saw, checks their availability at
  denominations inside and outside their ranges, and thinks between steps.
- CatalogCrawler (a partner syncing the catalog): walks every page with large limits.
- TokenChurner (short-lived clients): logs in, refreshes, logs out, again.

The rest is octoqa's, plugged in by importing `octopus_qa.loadtest.locust_plugin`: the run's plan
(`--plan`, or built from the options), tokens renewed before `exp` and after a 401, every response
judged by the contract suite's rule checks, `--load-profile` shapes or Locust's own -u/-r/-t and
web UI, exact latencies, and the SLO gates judging the run as Locust quits (exit 0 or 1). Run it
as `octoqa load --load-profile smoke`, or with plain Locust against a target you name:

    locust -f load/locustfile.py --host http://127.0.0.1:8080 -u 20 -r 5 -t 30s --headless
    locust -f load/locustfile.py --host http://127.0.0.1:8080 --load-profile smoke --headless

Credentials come from OCTOPUS_USERNAME / OCTOPUS_PASSWORD (default: the sandbox's demo account);
a host neither loopback nor in `allowed-hosts.toml` is refused unless `--allow-any-host`.
"""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from typing import Any

from locust import between, task

from octopus_qa.loadtest import locust_plugin  # noqa: F401  (octoqa's options, plan and gates)
from octopus_qa.loadtest.judged_once import judged_once
from octopus_qa.loadtest.shapes import ProfileShape
from octopus_qa.loadtest.tokens import ExpiryProbe
from octopus_qa.loadtest.users import ApiUser
from octopus_qa.loadtest.validation import send
from octopus_qa.plan.endpoints import ENDPOINTS
from octopus_qa.rules import (
    Exchange,
    availability_false_outside_ranges,
    listing_is_in_requested_order,
    listing_matches_filters,
    product_matches_list_entry,
)
from octopus_qa.target.credentials import Credentials

__all__ = ["Browser", "CatalogCrawler", "ProfileShape", "TokenChurner"]

PRODUCTS = "/api/v1/products"
LIST, CRAWL, DETAIL, AVAILABILITY = (
    ENDPOINTS[key] for key in ("list", "crawl", "detail", "availability")
)
#: How many products a browser remembers to open and check later.
REMEMBERED_PRODUCTS = 50
SORT_FIELDS = ("id", "name")
BROWSE_LIMITS = (10, 20, 50, 100)
CRAWL_LIMITS = (500, 1000, 2000)


def random_sort() -> dict[str, str]:
    """A sort object as either document writes it: keys and direction in any case (L4)."""
    field_key, direction_key = random.choice((("field", "direction"), ("Field", "Direction")))
    direction = random.choice(("ASC", "DESC", "asc", "desc"))
    return {field_key: random.choice(SORT_FIELDS), direction_key: direction}


#: A browsed page keeps its filters (L6) and its order (L5): the page is parsed anyway. Both
#: read only the request and the body, so a page that held is not walked again for the same
#: request (`judged_once`).
listing_holds = judged_once(listing_matches_filters, listing_is_in_requested_order)


class Browser(ApiUser):
    """Someone choosing a gift card: browse, look closer, check the amount they want."""

    weight = 8
    endpoints = ("login", "list", "detail", "availability")

    def on_start(self) -> None:
        super().on_start()
        self.seen: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self.facets: dict[str, set[str]] = {
            "category": set(),
            "country_id": set(),
            "currency_id": set(),
        }
        self.total_pages = 1
        self.tokens.login()

    @task(5)
    def browse_products(self) -> None:
        query = {"page": str(random.randint(1, max(1, min(self.total_pages, 20))))}
        if random.random() < 0.7:
            query["limit"] = str(random.choice(BROWSE_LIMITS))
        if random.random() < 0.4:
            query["sort"] = json.dumps(random_sort(), separators=(",", ":"))
        known = [name for name, values in self.facets.items() if values]
        if known and random.random() < 0.3:
            parameter = random.choice(known)
            query[parameter] = random.choice(sorted(self.facets[parameter]))
            query["page"] = "1"
        auth = self.authorized()
        if auth is None:
            return
        reply = send(self.client, LIST, PRODUCTS, query=query, headers=auth, judge=listing_holds)
        self.after(reply.status)
        # Under a contract fault the page still lists products: keep browsing them.
        if reply.status == 200 and reply.exchange is not None and isinstance(reply.json, list):
            self.remember(reply.exchange)

    def remember(self, exchange: Exchange) -> None:
        unfiltered = not any(name in exchange.query for name in self.facets)
        pages = exchange.headers.get("x-total-pages", "")
        if unfiltered and pages.isdigit():  # an unfiltered listing tells how far paging goes
            self.total_pages = int(pages)
        for product in exchange.json or ():
            self.seen[product["id"]] = product
            self.facets["category"].add(product["category"])
            self.facets["country_id"].add(product["country_code"])
            self.facets["currency_id"].add(product["currency_code"])
        while len(self.seen) > REMEMBERED_PRODUCTS:
            self.seen.popitem(last=False)
        for values in self.facets.values():
            while len(values) > REMEMBERED_PRODUCTS:
                values.pop()

    def pick_seen_product(self) -> dict[str, Any] | None:
        return random.choice(list(self.seen.values())) if self.seen else None

    @task(3)
    def open_product(self) -> None:
        entry = self.pick_seen_product()
        auth = self.authorized() if entry else None
        if entry is None or auth is None:
            return

        def same_as_list_entry(exchange: Exchange) -> None:
            product_matches_list_entry(exchange.json, entry)

        reply = send(
            self.client, DETAIL, f"{PRODUCTS}/{entry['id']}", headers=auth, judge=same_as_list_entry
        )
        self.after(reply.status)

    @task(2)
    def check_availability(self) -> None:
        product = self.pick_seen_product()
        auth = self.authorized() if product else None
        if product is None or auth is None:
            return
        denomination = choose_denomination(product["available_denominations"])

        def false_outside_ranges(exchange: Exchange) -> None:
            body = exchange.json
            is_available = body.get("is_available") if isinstance(body, dict) else None
            availability_false_outside_ranges(product, denomination, is_available)

        reply = send(
            self.client,
            AVAILABILITY,
            f"{PRODUCTS}/{product['id']}/availability",
            body={"denomination": denomination, "quantity": random.randint(1, 5)},
            headers=auth,
            judge=false_outside_ranges,
        )
        self.after(reply.status)


def choose_denomination(ranges: list[dict[str, float]]) -> float:
    """Mostly an amount inside one of the ranges; sometimes one below or above all of them."""
    low = min(r["min_value"] for r in ranges)
    high = max(r["max_value"] for r in ranges)
    roll = random.random()
    if roll < 0.15 and low >= 0.04:
        return round(low / 2, 2)  # below every range, still a valid denomination (P4)
    if roll < 0.3:
        return round(min(high * 2 + 1, 1_000_000_000), 2)  # above every range
    chosen = random.choice(ranges)
    amount = round(random.uniform(chosen["min_value"], chosen["max_value"]), 2)
    return min(max(amount, chosen["min_value"]), chosen["max_value"])


class CatalogCrawler(ApiUser):
    """A partner mirroring the catalog: every page, large limits, one sort order per pass."""

    weight = 1
    endpoints = ("login", "crawl")
    think_time = between(0.2, 1.0)

    def on_start(self) -> None:
        super().on_start()
        self.tokens.login()
        self.start_pass()

    def start_pass(self) -> None:
        self.page = 1
        self.pass_query = {"limit": str(random.choice(CRAWL_LIMITS))}
        if random.random() < 0.5:
            self.pass_query["sort"] = json.dumps(random_sort(), separators=(",", ":"))

    @task
    def fetch_next_page(self) -> None:
        auth = self.authorized()
        if auth is None:
            return
        query = {**self.pass_query, "page": str(self.page)}
        reply = send(self.client, CRAWL, PRODUCTS, query=query, headers=auth)
        self.after(reply.status)
        exchange = reply.exchange
        more = exchange is not None and exchange.headers.get("x-has-more") == "true"
        # Counted, not parsed: a crawl page holds up to 2,000 products the crawler never reads.
        if reply.status == 200 and more and exchange.array_length:
            self.page += 1
        else:
            self.start_pass()


class TokenChurner(ApiUser):
    """A short-lived client: log in, refresh twice, log out, and start over; once the login it
    kept from its start has expired, it presents that token (ExpiryProbe: A4 under load)."""

    weight = 1
    endpoints = ("login", "refresh", "logout")
    think_time = between(0.2, 0.6)
    REFRESHES_PER_LOGIN = 2

    def on_start(self) -> None:
        super().on_start()
        self.refreshes = 0
        self.expiry = ExpiryProbe(self.client, Credentials.from_env())

    @task
    def next_auth_step(self) -> None:
        if self.expiry.due():  # a run that outlives a token shows whether expiry is checked
            self.expiry.present()
        elif not self.tokens.logged_in:
            self.tokens.login()
            self.refreshes = 0
        elif self.refreshes < self.REFRESHES_PER_LOGIN:
            self.tokens.refresh()
            self.refreshes += 1
        else:
            self.tokens.logout()

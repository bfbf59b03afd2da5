"""The endpoints a load run measures, and the request names Locust reports them under.

The locustfile sends every request under one of these names (`name=` groups URLs with ids), and
the gates find each endpoint's statistics by the same name: one table, no string kept in two
places.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    key: str
    method: str
    name: str  # the Locust request name (`name=`), a URL pattern with ids as [id]
    #: Whether slo.toml gives it objectives: a probe sent once or twice a run is judged by its
    #: rules, not by latency or throughput.
    gated: bool = True


ENDPOINTS: Mapping[str, Endpoint] = {
    endpoint.key: endpoint
    for endpoint in (
        Endpoint("login", "POST", "/auth/login"),
        Endpoint("refresh", "POST", "/auth/refresh"),
        Endpoint("logout", "POST", "/auth/logout"),
        Endpoint("list", "GET", "/api/v1/products"),
        # The catalog crawler pages with large limits: slower by design, judged apart from list.
        Endpoint("crawl", "GET", "/api/v1/products [crawl]"),
        Endpoint("detail", "GET", "/api/v1/products/[id]"),
        Endpoint("availability", "POST", "/api/v1/products/[id]/availability"),
        # A login kept unused from a client's start and presented once it has expired (A4):
        # a 401 is its expected answer, reported apart so it bends no latency of the list.
        Endpoint("expired", "GET", "/api/v1/products [expired token]", gated=False),
    )
}

#: A 429 is reported under its endpoint's name with this prefix, so "retry later" answers
#: neither count as failures nor bend the endpoint's latency percentiles (ASSUMPTIONS E4).
RATE_LIMITED_PREFIX = "429 "


def rate_limited_name(endpoint: Endpoint) -> str:
    return RATE_LIMITED_PREFIX + endpoint.name


def endpoint_for_name(name: str) -> Endpoint | None:
    """The endpoint whose Locust request name is `name`, if any."""
    for endpoint in ENDPOINTS.values():
        if endpoint.name == name:
            return endpoint
    return None

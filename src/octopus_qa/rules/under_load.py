"""The checks cheap enough to run on every response under load."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .dates import _auth_dates_are_rfc3339
from .errors import RETRY_LATER, error_envelope_is_documented, status_is_documented
from .evidence import is_recording
from .exchange import BoundedMemo, Exchange
from .headers import json_content_type, request_id_follows_rules
from .listing import (
    pagination_headers_are_consistent,
    paging_parameters_are_bounded,
    sort_is_well_formed,
)
from .products import (
    availability_is_boolean,
    denomination_is_bounded,
    product_id_is_bounded,
    quantity_is_bounded,
)

# --- What the load suite runs on every response -------------------------------------------------

#: A check added here or to CHEAP_REQUEST_CHECKS that reads more of a 200 GET than its path,
#: query, response headers and body, and the request id (the request's other headers, the
#: clock), must be keyed in `_held_key` too.
CHEAP_CHECKS = (
    status_is_documented,
    request_id_follows_rules,
    json_content_type,
    error_envelope_is_documented,
    paging_parameters_are_bounded,
    sort_is_well_formed,
    pagination_headers_are_consistent,
    _auth_dates_are_rfc3339,
    availability_is_boolean,
)


def run_checks(checks: tuple[Callable[[Exchange], None], ...], exchange: Exchange) -> None:
    """Each check on one exchange, in order; a 429 is "retry later" (E4) and not judged."""
    if exchange.status == RETRY_LATER:
        return
    for check in checks:
        check(exchange)


def cheap_response_checks(exchange: Exchange) -> None:
    """The checks cheap enough to run on every response under load, in order of cost."""
    run_checks(CHEAP_CHECKS, exchange)


#: What the request asked decides the answer (per_request.py), judged where the load users' own
#: requests make it cheap: their ids and bodies are valid, so a 400 names the bound it broke.
CHEAP_REQUEST_CHECKS = (product_id_is_bounded, denomination_is_bounded, quantity_is_bounded)


def cheap_request_checks(exchange: Exchange) -> None:
    """The request checks cheap enough under load (a 429 is not judged)."""
    run_checks(CHEAP_REQUEST_CHECKS, exchange)


#: The body that held every cheap check, by the rest of the exchange but its request id. A load
#: run gets the same page for the same request over and over, byte for byte but for the fresh
#: X-Request-Id and the Date: those answers hold again, and only the id, new every time, is
#: judged again. The body is compared, not hashed (a hash reads all of it, a compare
#: stops at the first byte that differs). Bounded in body bytes, oldest out first.
_HELD = BoundedMemo(max_bytes=32 * 1024 * 1024)
#: Response headers left out of the memo's key: the request id, judged on every response, and
#: Date, new every second and read by no cheap check (tests/test_load_judged_once.py).
_UNKEYED = frozenset({"x-request-id", "date"})


def cheap_checks(exchange: Exchange) -> None:
    """`cheap_response_checks` then `cheap_request_checks`, in that order, on every response;
    a GET answered 200 that is the same as one that held, in everything the checks read but
    the request id (the request's path and query, the response's headers and body, compared
    whole), had every check but the request id's hold already, so `request_id_follows_rules`
    alone judges it. A response that broke a rule is never remembered, nor one judged while
    evidence is recorded."""
    if exchange.status == RETRY_LATER:
        return
    key = _held_key(exchange)
    if key is not None and _HELD.get(key) == exchange.body:
        request_id_follows_rules(exchange)
        return
    run_checks(CHEAP_CHECKS, exchange)
    run_checks(CHEAP_REQUEST_CHECKS, exchange)
    if key is not None:
        _HELD.put(key, bytes(exchange.body), len(exchange.body))


def _held_key(exchange: Exchange) -> tuple[Any, ...] | None:
    """What the cheap checks but the request id's read of a bodiless GET answered 200 (its 200
    spares the HTTP layer's size limits, which read the request's headers whole): its path,
    query and response headers but the unkeyed, the body aside; None for anything else, judged
    every time."""
    if (
        exchange.status != 200
        or exchange.method != "GET"
        or exchange.request_body_sent
        or exchange.request_body
        or exchange.request_json is not None
        or is_recording()
    ):
        return None
    # The request's headers are left out: on a 200 no cheap check reads them but for the
    # request id (tests/test_load_judged_once.py holds them to that), so every user's token
    # shares the page that held.
    keyed = dict(exchange.headers)  # copied and popped in C: no Python step per header
    for name in _UNKEYED:
        keyed.pop(name, None)
    return (exchange.path, tuple(exchange.query.items()), tuple(keyed.items()))

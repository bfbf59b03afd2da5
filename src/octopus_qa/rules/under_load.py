"""The checks cheap enough to run on every response under load."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from .dates import _auth_dates_are_rfc3339
from .errors import RETRY_LATER, error_envelope_is_documented, status_is_documented
from .evidence import is_recording
from .exchange import MISSING, BoundedMemo, Exchange
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
#: clock), must be compared in `_Held` too.
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


#: What held every cheap check, by request (path and query): the answer's headers and body. A
#: load run gets the same page for the same request over and over, byte for byte but for the
#: fresh X-Request-Id and the Date: those answers hold again, and only the id, new every time, is
#: judged again. Headers and body are compared whole, not hashed (a compare stops at the first
#: byte that differs). One answer per request, the last that held; bounded in body bytes, oldest
#: out first.
_HELD = BoundedMemo(max_bytes=32 * 1024 * 1024)
#: Response headers left out of the comparison: the request id, judged on every response, and
#: Date, new every second and read by no cheap check (tests/test_load_judged_once.py).
_UNKEYED = frozenset({"x-request-id", "date"})


class _Held(NamedTuple):
    """An answer that held: its headers, those of them left out of the comparison, its body."""

    headers: dict[str, str]
    unkeyed: dict[str, str]
    body: bytes

    @classmethod
    def of(cls, exchange: Exchange) -> _Held:
        headers = dict(exchange.headers)
        unkeyed = {name: headers[name] for name in _UNKEYED if name in headers}
        return cls(headers, unkeyed, bytes(exchange.body))

    def is_like(self, exchange: Exchange) -> bool:
        """The same body and the same headers but for the unkeyed ones: the answer's own values
        of those replaced by the held ones, the two dicts compare equal (in C, with no Python step
        per header, on every response of a run). An answer without an id or a Date the held one
        had still compares equal: the id is judged anyway, and no cheap check reads the Date."""
        return self.body == exchange.body and {**exchange.headers, **self.unkeyed} == self.headers


def cheap_checks(exchange: Exchange) -> None:
    """`cheap_response_checks` then `cheap_request_checks`, in that order, on every response;
    a GET answered 200 that is the same as one that held, in everything the checks read but
    the request id (the request's path and query, the response's headers and body, compared
    whole), had every check but the request id's hold already, so `request_id_follows_rules`
    alone judges it. A response that broke a rule is never remembered, nor one judged while
    evidence is recorded."""
    if exchange.status == RETRY_LATER:
        return
    request = _request_of(exchange)
    if request is not None:
        held = _HELD.get(request)
        if held is not MISSING and held.is_like(exchange):
            request_id_follows_rules(exchange)
            return
    run_checks(CHEAP_CHECKS, exchange)
    run_checks(CHEAP_REQUEST_CHECKS, exchange)
    if request is not None:
        _HELD.put(request, _Held.of(exchange), len(exchange.body))


def _request_of(exchange: Exchange) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """The request a bodiless GET answered 200 is remembered by (its 200 spares the HTTP
    layer's size limits, which read the request's headers whole): its path and query; None for
    anything else, judged every time."""
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
    return (exchange.path, tuple(exchange.query.items()))

"""Requests too big for the HTTP layer (rules/http_layer.py): the one notion every exchange check
consults. An oversized request's 4xx (or no answer) may be the layer's and is not judged; a
request of ordinary size is judged whatever came back, and so is any 2xx or 5xx."""

from __future__ import annotations

from typing import Any

import pytest

from octopus_qa.rules import (
    RuleViolation,
    TokenLedger,
    auth_is_checked_first,
    denomination_is_bounded,
    error_envelope_is_documented,
    expect_status,
    product_id_is_bounded,
    request_id_follows_rules,
    status_is_documented,
)
from octopus_qa.rules.exchange import Exchange
from octopus_qa.rules.http_layer import (
    BODY_LIMIT,
    HEADER_COUNT_LIMIT,
    HEADER_SECTION_LIMIT,
    NO_ANSWER,
    REQUEST_LINE_LIMIT,
    oversized_for_http_layer,
    refused_by_http_layer,
)

LIST = "/api/v1/products"
BEARER = {"authorization": "Bearer a.b.c", "host": "127.0.0.1:8080"}
#: What uvicorn's h11 and aiohttp answer in place of the API: plain text, no X-Request-Id.
LAYER_400 = {"content-type": "text/plain; charset=utf-8"}


def exchange(status: int = 400, **request: Any) -> Exchange:
    request.setdefault("method", "GET")
    request.setdefault("path", f"{LIST}/1001")
    request.setdefault("request_headers", BEARER)
    return Exchange(status=status, headers=LAYER_400, body=b"Invalid HTTP request", **request)


OVERSIZED = {
    "header-line": {"request_headers": {**BEARER, "authorization": "Bearer " + "A" * 1_000_000}},
    "header-section": {"request_headers": {**BEARER, **{f"x-{n}": "v" * 90 for n in range(90)}}},
    "header-count": {"request_headers": {f"x-{n}": "v" for n in range(HEADER_COUNT_LIMIT + 1)}},
    "request-line-path": {"path": f"{LIST}/{'1' * REQUEST_LINE_LIMIT}"},
    "request-line-query": {"path": LIST, "query": {"category": "x" * REQUEST_LINE_LIMIT}},
    "body": {
        "method": "POST",
        "path": f"{LIST}/1001/availability",
        "request_headers": {**BEARER, "content-type": "application/json"},
        "request_body": b'{"denomination": 10, "quantity": 1' + b" " * BODY_LIMIT + b"}",
    },
}


@pytest.mark.parametrize("request_parts", OVERSIZED.values(), ids=OVERSIZED.keys())
def test_each_limit_makes_a_request_oversized(request_parts: dict[str, Any]) -> None:
    assert oversized_for_http_layer(exchange(**request_parts))


def test_the_largest_ordinary_requests_are_not_oversized() -> None:
    just_under = {
        "path": f"{LIST}/1001",
        "query": {"sort": "x" * (REQUEST_LINE_LIMIT - 200)},
        "request_headers": {"x-pad": "v" * (HEADER_SECTION_LIMIT - 200)},
        "request_body": b" " * BODY_LIMIT,
    }
    assert oversized_for_http_layer(exchange(**just_under)) is None


@pytest.mark.parametrize("status", [400, 413, 414, 431, NO_ANSWER])
def test_a_4xx_or_no_answer_to_an_oversized_request_may_be_the_layers(status: int) -> None:
    assert refused_by_http_layer(exchange(status, **OVERSIZED["header-line"]))


@pytest.mark.parametrize("status", [200, 500, 503])
def test_a_success_or_a_server_error_is_the_apis_whatever_the_size(status: int) -> None:
    assert not refused_by_http_layer(exchange(status, **OVERSIZED["header-line"]))


CHECKS = [
    status_is_documented,
    request_id_follows_rules,
    error_envelope_is_documented,
    product_id_is_bounded,
    auth_is_checked_first,
    TokenLedger().judge,
]


@pytest.mark.parametrize("status", [400, 413, 431, NO_ANSWER])
def test_the_checks_leave_the_layers_refusal_of_an_oversized_request_alone(status: int) -> None:
    for parts in OVERSIZED.values():
        refused = exchange(status, **parts)
        for check in CHECKS:
            check(refused)
        denomination_is_bounded(refused)
        expect_status(refused, 401, "auth-required", "an oversized request")


def test_the_same_answer_to_an_ordinary_request_is_judged() -> None:
    """The h11 400 for the megabyte token, given to a request of ordinary size, breaks the
    rules it broke before the notion existed: nothing is excused by its answer alone."""
    ordinary = exchange(400)
    with pytest.raises(RuleViolation, match="request-id-present"):
        request_id_follows_rules(ordinary)
    with pytest.raises(RuleViolation, match="error-envelope"):
        error_envelope_is_documented(ordinary)
    with pytest.raises(RuleViolation, match="product-id-bounds"):
        product_id_is_bounded(ordinary)
    with pytest.raises(RuleViolation, match="documented-status-codes"):
        status_is_documented(exchange(431))
    with pytest.raises(RuleViolation, match="auth-required"):
        expect_status(ordinary, 401, "auth-required", "an ordinary request")

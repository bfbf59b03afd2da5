"""The checks cheap enough to run on every response under load."""

from __future__ import annotations

from collections.abc import Callable

from .dates import _auth_dates_are_rfc3339
from .errors import RETRY_LATER, error_envelope_is_documented, status_is_documented
from .exchange import Exchange
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

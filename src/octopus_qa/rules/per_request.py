"""The checks that judge a request by what it asked for: run by the contract client on every
exchange it sees and registered as schemathesis checks, so a generated case is judged as much as
a hand-written one.

Each decides from the request alone (its path, token and body) what the answer must be, and
judges only what every reading of the documents agrees on (readings.py).
"""

from __future__ import annotations

from .auth import (
    auth_is_checked_first,
    auth_is_required,
    expired_token_is_rejected,
    login_rejects_malformed_body,
)
from .errors import post_requires_json, unknown_path_is_404
from .exchange import Exchange
from .products import (
    denomination_is_bounded,
    product_id_is_bounded,
    products_have_documented_shape,
    quantity_is_bounded,
)
from .under_load import run_checks

#: Authentication first, as the API checks it first (A6): a request without a token that was
#: served breaks auth-required whatever else it broke (an unknown path, a bad id).
REQUEST_CHECKS = (
    auth_is_required,
    auth_is_checked_first,
    expired_token_is_rejected,
    unknown_path_is_404,
    post_requires_json,
    login_rejects_malformed_body,
    product_id_is_bounded,
    denomination_is_bounded,
    quantity_is_bounded,
    products_have_documented_shape,
)


def request_checks(exchange: Exchange) -> None:
    """Every check of REQUEST_CHECKS on one exchange (a 429 is "retry later", not judged)."""
    run_checks(REQUEST_CHECKS, exchange)

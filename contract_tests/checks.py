"""The rules of octopus_qa.rules registered as schemathesis checks: one thin adapter per rule.

Each adapter turns schemathesis's (case, response) into a `rules.Exchange` read from the request
as it went on the wire (the coverage phase sends undeclared methods and mutated queries under an
operation's label) and calls the one implementation in `octopus_qa.rules`. A 429 is "retry later"
(ASSUMPTIONS E4), never judged. Under `--documented-only` a violation of an assumed rule is not
reported. Registered on import: conftest.py lists this module in `pytest_plugins`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import schemathesis

from octopus_qa import rules
from octopus_qa.contract.exchanges import from_schemathesis
from octopus_qa.rules import RULES, Exchange, RuleViolation

from .fixtures import ListedIds
from .plugin import checked_client, current_suite


def _judge(response: Any, check: Callable[[Exchange], None]) -> None:
    exchange = from_schemathesis(response)
    if exchange.status == rules.RETRY_LATER:
        return
    current_suite().coverage.record(exchange.method, exchange.path, exchange.status)
    _report(check, exchange)


def _report(check: Callable[[Exchange], None], exchange: Exchange) -> None:
    try:
        check(exchange)
    except RuleViolation as violation:
        if current_suite().documented_only and violation.rule.assumed:
            return
        violation.exchange = violation.exchange or exchange
        raise


@schemathesis.check
def request_id_follows_rules(ctx: Any, response: Any, case: Any) -> None:
    """H1-H3: X-Request-Id present, echoed when a KSUID was sent, else a fresh KSUID."""
    _judge(response, rules.request_id_follows_rules)


#: Every request id the property tests have seen, for freshness across the whole run (H3).
_REQUEST_IDS = rules.RequestIdLedger()


@schemathesis.check
def request_ids_are_fresh(ctx: Any, response: Any, case: Any) -> None:
    """H3: no generated X-Request-Id repeats one seen earlier in the run."""
    _judge(response, _REQUEST_IDS.judge)


@schemathesis.check
def json_content_type(ctx: Any, response: Any, case: Any) -> None:
    """H4: JSON bodies are served as application/json."""
    _judge(response, rules.json_content_type)


@schemathesis.check
def status_is_documented(ctx: Any, response: Any, case: Any) -> None:
    """E4: only documented status codes (204 from logout only)."""
    _judge(response, rules.status_is_documented)


@schemathesis.check
def error_envelope_is_documented(ctx: Any, response: Any, case: Any) -> None:
    """E1: every 4xx/5xx body is the documented envelope with the documented name/code pair."""
    _judge(response, rules.error_envelope_is_documented)


@schemathesis.check
def pagination_headers_are_consistent(ctx: Any, response: Any, case: Any) -> None:
    """L2/L3: the pagination headers agree with the request, each other and the body."""
    _judge(response, rules.pagination_headers_are_consistent)


@schemathesis.check
def paging_parameters_are_bounded(ctx: Any, response: Any, case: Any) -> None:
    """L1: a page or limit clearly outside its bounds is not accepted."""
    _judge(response, rules.paging_parameters_are_bounded)


@schemathesis.check
def sort_is_well_formed(ctx: Any, response: Any, case: Any) -> None:
    """L4: a sort that is clearly not the documented object is not accepted."""
    _judge(response, rules.sort_is_well_formed)


@schemathesis.check
def items_are_sorted(ctx: Any, response: Any, case: Any) -> None:
    """L5: a list comes in the order its `sort` asks for (default id DESC)."""
    _judge(response, rules.listing_is_in_requested_order)


@schemathesis.check
def items_match_filters(ctx: Any, response: Any, case: Any) -> None:
    """L6: every listed item matches every filter of the query."""
    _judge(response, rules.listing_matches_filters)


@schemathesis.check
def denomination_ranges_are_sane(ctx: Any, response: Any, case: Any) -> None:
    """P2: every product body (list entry or details) has sane denomination ranges."""

    def check(exchange: Exchange) -> None:
        if exchange.method != "GET" or exchange.status != 200:
            return
        body = exchange.json
        products = body if isinstance(body, list) else [body]
        for product in products:
            if isinstance(product, dict) and isinstance(
                product.get("available_denominations"), list
            ):
                rules.denomination_ranges_are_sane(product)

    _judge(response, check)


@schemathesis.check
def dates_are_rfc3339(ctx: Any, response: Any, case: Any) -> None:
    """getting-started.txt § Date Format: every date-time in a body is RFC 3339."""
    _judge(response, rules.dates_are_rfc3339)


@schemathesis.check
def auth_is_required(ctx: Any, response: Any, case: Any) -> None:
    """A6: a protected operation called without Authorization is not served."""
    _judge(response, rules.auth_is_required)


@schemathesis.check
def post_requires_json(ctx: Any, response: Any, case: Any) -> None:
    """E3: a POST body under a Content-Type other than JSON is not served."""
    _judge(response, rules.post_requires_json)


@schemathesis.check
def availability_is_boolean(ctx: Any, response: Any, case: Any) -> None:
    """products-api.txt: a 200 from availability is {"is_available": boolean}."""
    _judge(response, rules.availability_is_boolean)


@schemathesis.check
def token_body_is_complete(ctx: Any, response: Any, case: Any) -> None:
    """A1/A2: a 200 from login or refresh carries the token fields, typed."""

    def check(exchange: Exchange) -> None:
        if exchange.status != 200 or exchange.method != "POST":
            return
        if exchange.path.rstrip("/").endswith("/auth/login"):
            rules.token_body_is_complete(exchange, "login-issues-tokens")
        elif exchange.path.rstrip("/").endswith("/auth/refresh"):
            rules.token_body_is_complete(exchange, "refresh-issues-new-tokens")

    _judge(response, check)


@schemathesis.check
def request_checks(ctx: Any, response: Any, case: Any) -> None:
    """What the request asked decides the answer (rules/per_request.py): authentication first
    (A6), expired tokens (A4), malformed logins (A1), id and body bounds (P1, P4), unknown paths
    (E2), and the documented fields of every product a 200 carries."""
    _judge(response, rules.request_checks)


@schemathesis.check
def login_rejects_bad_credentials(ctx: Any, response: Any, case: Any) -> None:
    """A1: a generated login with credentials other than the account's → 401."""
    account = current_suite().credentials
    _judge(
        response,
        lambda exchange: rules.login_rejects_bad_credentials(
            exchange, account.username, account.password
        ),
    )


@schemathesis.check
def unknown_product_is_404(ctx: Any, response: Any, case: Any) -> None:
    """P1, P4: a generated well-formed id that no listed product has → 404 (the listing is read
    once, on the first such request)."""

    def check(exchange: Exchange) -> None:
        if rules.names_a_product(exchange) and (ids := _listed_ids().ids) is not None:
            rules.unknown_product_is_404(exchange, ids)

    _judge(response, check)


@cache
def _listed_ids() -> ListedIds:
    return ListedIds(checked_client())


@schemathesis.check
def token_lifecycle(ctx: Any, response: Any, case: Any) -> None:
    """A2, A3: generated calls reusing the run's spent, revoked or misplaced tokens → 401."""
    _judge(response, current_suite().tokens.judge)


#: The rules these checks judge, for the property test's rule marks.
CHECKED_RULES = tuple(
    rule_id
    for rule_id in (
        "request-id-present",
        "request-id-echoed",
        "request-id-generated",
        "request-id-invalid-replaced",
        "json-content-type",
        "documented-status-codes",
        "error-envelope",
        "pagination-headers-present",
        "pagination-headers-consistent",
        "page-past-last-is-empty",
        "paging-defaults",
        "page-bounds",
        "limit-bounds",
        "sort-format",
        "sort-orders-results",
        "default-order-id-desc",
        "filters-match",
        "denomination-ranges-sane",
        "dates-are-rfc3339",
        "auth-required",
        "post-requires-json",
        "availability-response",
        "login-issues-tokens",
        "refresh-issues-new-tokens",
        "auth-checked-first",
        "expired-token-rejected",
        "unknown-path-404",
        "login-rejects-malformed-body",
        "login-rejects-bad-credentials",
        "product-id-bounds",
        "denomination-bounds",
        "quantity-bounds",
        "product-schema",
        "unknown-product-404",
        "refresh-token-single-use",
        "refresh-rejects-access-token",
        "logout-revokes-tokens",
    )
    if rule_id in RULES
)

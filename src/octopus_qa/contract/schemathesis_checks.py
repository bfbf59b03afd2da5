"""The rules of octopus_qa.rules registered as schemathesis checks: one thin adapter per rule.

Each adapter turns schemathesis's (case, response) into a `rules.Exchange` read from the request
as it went on the wire (the coverage phase sends undeclared methods and mutated queries under an
operation's label) and calls the one implementation in `octopus_qa.rules`. A 429 is "retry later"
(ASSUMPTIONS E4), never judged, and a response validated again is judged once (`_once`). Under
`--documented-only` a violation of an assumed rule is not reported. Bound to one run: the plugin
hands `SuiteChecks(suite).all()` to each generated case (`additional_checks`), so nothing is
registered globally and no check reads module state.

Each adapter names the rule checks it runs (`@adapts`), and judges the rules those are bound to
(`@judges` in octopus_qa.rules): CHECKED_RULES, the property test's rules, is read from them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

from .. import rules
from ..rules import Exchange, Rule, RuleViolation, rules_judged_by
from ..rules.per_request import REQUEST_CHECKS
from .exchanges import from_schemathesis
from .fixtures import ListedIds
from .ledger import BUILTIN_CHECK_RULES, OPERATION_INPUT_RULES
from .suite import Suite

Adapter = TypeVar("Adapter", bound=Callable[..., None])
#: Each adapter (by name, in the order SuiteChecks defines them) → the rule checks it runs.
ADAPTED: dict[str, tuple[Any, ...]] = {}


def adapts(*checks: Any) -> Callable[[Adapter], Adapter]:
    """Declares the rule checks (or ledgers) a SuiteChecks method runs: it judges their rules.
    A check bound to no rule is an error at import (rules.rules_judged_by)."""
    rules_judged_by(*checks)  # each check is bound to its rules, or this fails at import

    def declare(adapter: Adapter) -> Adapter:
        ADAPTED[adapter.__name__] = checks
        return adapter

    return declare


class SuiteChecks:
    """The rule checks schemathesis runs on every generated case, bound to one run's Suite."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        #: Every request id the property tests have seen, for freshness across the run (H3).
        self._request_ids = rules.RequestIdLedger()
        #: The response judged last, and each check's verdict on it (None: it held).
        self._judged: tuple[Any, dict[str, AssertionError | None]] = (None, {})

    def all(self) -> list[Callable[[Any, Any, Any], None]]:
        """Every check (each method declared with `@adapts`, in order), for
        `case.validate_response(additional_checks=...)`, each judging a response once."""
        return [self._once(getattr(self, name)) for name in ADAPTED]

    def _once(self, adapter: Callable[[Any, Any, Any], None]) -> Callable[[Any, Any, Any], None]:
        """`adapter`, judging each response once: validated again (test_properties retries the
        validation when a check's probe met a 429), the same response gets the verdict it got,
        rather than being judged as a second exchange by the ledgers, which would see its
        refresh token spent twice and its request id generated twice."""

        @functools.wraps(adapter)  # schemathesis names a failed check by its function's name
        def judged_once(ctx: Any, response: Any, case: Any) -> None:
            judged, verdicts = self._judged
            if judged is not response:
                verdicts = {}
                self._judged = (response, verdicts)
            name = adapter.__name__
            if name not in verdicts:
                try:
                    adapter(ctx, response, case)
                except AssertionError as broken:
                    verdicts[name] = broken
                else:
                    verdicts[name] = None
            if (verdict := verdicts[name]) is not None:
                raise verdict

        return judged_once

    def _judge(self, response: Any, check: Callable[[Exchange], None]) -> None:
        exchange = from_schemathesis(response)
        if exchange.status == rules.RETRY_LATER:
            return
        self.suite.coverage.record(exchange.method, exchange.path, exchange.status)
        self._report(check, exchange)

    def _report(self, check: Callable[[Exchange], None], exchange: Exchange) -> None:
        try:
            check(exchange)
        except RuleViolation as violation:
            if self.suite.documented_only and violation.rule.assumed:
                return
            violation.exchange = violation.exchange or exchange
            raise

    @adapts(rules.request_id_follows_rules)
    def request_id_follows_rules(self, ctx: Any, response: Any, case: Any) -> None:
        """H1-H3: X-Request-Id present, echoed when a KSUID was sent, else a fresh KSUID."""
        self._judge(response, rules.request_id_follows_rules)

    @adapts(rules.RequestIdLedger)
    def request_ids_are_fresh(self, ctx: Any, response: Any, case: Any) -> None:
        """H3: no generated X-Request-Id repeats one seen earlier in the run."""
        self._judge(response, self._request_ids.judge)

    @adapts(rules.json_content_type)
    def json_content_type(self, ctx: Any, response: Any, case: Any) -> None:
        """H4: JSON bodies are served as application/json."""
        self._judge(response, rules.json_content_type)

    @adapts(rules.status_is_documented)
    def status_is_documented(self, ctx: Any, response: Any, case: Any) -> None:
        """E4: only documented status codes (204 from logout only)."""
        self._judge(response, rules.status_is_documented)

    @adapts(rules.error_envelope_is_documented)
    def error_envelope_is_documented(self, ctx: Any, response: Any, case: Any) -> None:
        """E1: every 4xx/5xx body is the documented envelope with the documented name/code pair."""
        self._judge(response, rules.error_envelope_is_documented)

    @adapts(rules.pagination_headers_are_consistent)
    def pagination_headers_are_consistent(self, ctx: Any, response: Any, case: Any) -> None:
        """L2/L3: the pagination headers agree with the request, each other and the body."""
        self._judge(response, rules.pagination_headers_are_consistent)

    @adapts(rules.paging_parameters_are_bounded)
    def paging_parameters_are_bounded(self, ctx: Any, response: Any, case: Any) -> None:
        """L1: a page or limit clearly outside its bounds is not accepted."""
        self._judge(response, rules.paging_parameters_are_bounded)

    @adapts(rules.sort_is_well_formed)
    def sort_is_well_formed(self, ctx: Any, response: Any, case: Any) -> None:
        """L4: a sort that is clearly not the documented object is not accepted."""
        self._judge(response, rules.sort_is_well_formed)

    @adapts(rules.listing_is_in_requested_order)
    def items_are_sorted(self, ctx: Any, response: Any, case: Any) -> None:
        """L5: a list comes in the order its `sort` asks for (default id DESC)."""
        self._judge(response, rules.listing_is_in_requested_order)

    @adapts(rules.listing_matches_filters)
    def items_match_filters(self, ctx: Any, response: Any, case: Any) -> None:
        """L6: every listed item matches every filter of the query."""
        self._judge(response, rules.listing_matches_filters)

    @adapts(rules.denomination_ranges_are_sane)
    def denomination_ranges_are_sane(self, ctx: Any, response: Any, case: Any) -> None:
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

        self._judge(response, check)

    @adapts(rules.dates_are_rfc3339)
    def dates_are_rfc3339(self, ctx: Any, response: Any, case: Any) -> None:
        """getting-started.txt § Date Format: every date-time in a body is RFC 3339."""
        self._judge(response, rules.dates_are_rfc3339)

    @adapts(rules.auth_is_required)
    def auth_is_required(self, ctx: Any, response: Any, case: Any) -> None:
        """A6: a protected operation called without Authorization is not served."""
        self._judge(response, rules.auth_is_required)

    @adapts(rules.post_requires_json)
    def post_requires_json(self, ctx: Any, response: Any, case: Any) -> None:
        """E3: a POST body under a Content-Type other than JSON is not served."""
        self._judge(response, rules.post_requires_json)

    @adapts(rules.availability_is_boolean)
    def availability_is_boolean(self, ctx: Any, response: Any, case: Any) -> None:
        """products-api.txt: a 200 from availability is {"is_available": boolean}."""
        self._judge(response, rules.availability_is_boolean)

    @adapts(rules.token_body_is_complete)
    def token_body_is_complete(self, ctx: Any, response: Any, case: Any) -> None:
        """A1/A2: a 200 from login or refresh carries the token fields, typed."""

        def check(exchange: Exchange) -> None:
            if exchange.status != 200 or exchange.method != "POST":
                return
            if exchange.path.rstrip("/").endswith("/auth/login"):
                rules.token_body_is_complete(exchange, rules.LOGIN_ISSUES_TOKENS)
            elif exchange.path.rstrip("/").endswith("/auth/refresh"):
                rules.token_body_is_complete(exchange, rules.REFRESH_ISSUES_NEW_TOKENS)

        self._judge(response, check)

    @adapts(*REQUEST_CHECKS)
    def request_checks(self, ctx: Any, response: Any, case: Any) -> None:
        """What the request asked decides the answer (rules/per_request.py): authentication first
        (A6), expired tokens (A4), malformed logins (A1), id and body bounds (P1, P4), unknown paths
        (E2), and the documented fields of every product a 200 carries."""
        self._judge(response, rules.request_checks)

    @adapts(rules.login_rejects_bad_credentials)
    def login_rejects_bad_credentials(self, ctx: Any, response: Any, case: Any) -> None:
        """A1: a generated login with credentials other than the account's → 401."""
        account = self.suite.credentials
        self._judge(
            response,
            lambda exchange: rules.login_rejects_bad_credentials(
                exchange, account.username, account.password
            ),
        )

    @adapts(rules.unknown_product_is_404)
    def unknown_product_is_404(self, ctx: Any, response: Any, case: Any) -> None:
        """P1, P4: a generated well-formed id that no listed product has → 404 (the listing is read
        once, on the first such request)."""

        def check(exchange: Exchange) -> None:
            if rules.names_a_product(exchange) and (ids := self._listed_ids.ids) is not None:
                rules.unknown_product_is_404(exchange, ids)

        self._judge(response, check)

    @cached_property
    def _listed_ids(self) -> ListedIds:
        return ListedIds(self.suite.client)

    @adapts(rules.TokenLedger)
    def token_lifecycle(self, ctx: Any, response: Any, case: Any) -> None:
        """A2, A3: generated calls reusing the run's spent, revoked or misplaced tokens → 401."""
        self._judge(response, self.suite.tokens.judge)


#: The rules these checks judge.
CHECKED_RULES: tuple[Rule, ...] = rules_judged_by(
    *(check for checks in ADAPTED.values() for check in checks)
)
#: Every rule the property test judges (its rule marks): these checks', and those of the
#: built-in checks and of the operations' input bounds, as the rules declare them.
PROPERTY_RULES: tuple[Rule, ...] = tuple(
    dict.fromkeys(
        CHECKED_RULES
        + tuple(rule for judged in BUILTIN_CHECK_RULES.values() for rule in judged)
        + tuple(rule for judged in OPERATION_INPUT_RULES.values() for rule in judged)
    )
)

"""The documented rules and the one implementation of each check.

Each rule is a `Rule` declared once, in the module of its part of the documents (auth, errors,
headers, listing, products, dates), beside the checks that judge it (`@judges`, catalogue.py);
`RULES` gathers them in the documents' order. The checks decide whether one HTTP exchange keeps
a rule. The contract suite runs them as schemathesis checks and from its tests; the load suite
runs the cheap ones on every response under load. Neither keeps a second copy, of a check or of
a list of rules.

Every check raises `RuleViolation`, an `AssertionError` (so schemathesis and pytest report it as
a failure, not an error) whose message starts with the rule id and quotes the numbers that broke
it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import auth, dates, errors, headers, listing, products, readings
from .auth import (
    ACCESS_TOKEN_IS_JWT,
    AUTH_CHECKED_FIRST,
    AUTH_REQUIRED,
    EXPIRED_TOKEN_REJECTED,
    LOGIN_ISSUES_TOKENS,
    LOGIN_REJECTS_BAD_CREDENTIALS,
    LOGIN_REJECTS_MALFORMED_BODY,
    LOGOUT_REVOKES_TOKENS,
    REFRESH_ISSUES_NEW_TOKENS,
    REFRESH_REJECTS_ACCESS_TOKEN,
    REFRESH_TOKEN_SINGLE_USE,
    TokenLedger,
    access_token_exp_matches,
    auth_is_checked_first,
    auth_is_required,
    expired_token_is_rejected,
    login_rejects_bad_credentials,
    login_rejects_malformed_body,
    logout_succeeded,
    refresh_issues_new_tokens,
    token_body_is_complete,
)
from .catalogue import (
    Rule,
    RulesBroken,
    RuleViolation,
    UnknownRule,
    checks_by_rule,
    gather,
    judges,
    rule_named,
    rules_broken_by,
    rules_judged_by,
)
from .dates import (
    DATES_ARE_RFC3339,
    dates_are_rfc3339,
    is_rfc3339,
)
from .errors import (
    DOCUMENTED_STATUS_CODES,
    ERROR_ENVELOPE,
    POST_REQUIRES_JSON,
    RETRY_LATER,
    UNKNOWN_PATH_404,
    error_envelope_is_documented,
    post_requires_json,
    status_is_documented,
    unknown_path_is_404,
)
from .exchange import Exchange, expect_status, lower_headers
from .headers import (
    JSON_CONTENT_TYPE,
    REQUEST_ID_ECHOED,
    REQUEST_ID_GENERATED,
    REQUEST_ID_INVALID_REPLACED,
    REQUEST_ID_PRESENT,
    RequestIdLedger,
    json_content_type,
    request_id_follows_rules,
    request_ids_are_fresh,
)
from .listing import (
    DEFAULT_ORDER_ID_DESC,
    FILTER_FIELDS,
    FILTERS_MATCH,
    LIMIT_BOUNDS,
    PAGE_BOUNDS,
    PAGE_PAST_LAST_IS_EMPTY,
    PAGES_PARTITION_LISTING,
    PAGINATION_HEADERS_CONSISTENT,
    PAGINATION_HEADERS_PRESENT,
    PAGING_DEFAULTS,
    SORT_FORMAT,
    SORT_ORDERS_RESULTS,
    items_are_sorted,
    items_match_filters,
    listing_is_in_requested_order,
    listing_matches_filters,
    pages_partition_listing,
    pagination_headers_are_consistent,
    paging_parameters_are_bounded,
    requested_sort,
    sort_is_well_formed,
    well_formed_sort_is_accepted,
)
from .per_request import request_checks
from .products import (
    AVAILABILITY_FALSE_OUTSIDE_RANGES,
    AVAILABILITY_RESPONSE,
    DENOMINATION_BOUNDS,
    DENOMINATION_RANGES_SANE,
    DETAILS_MATCH_LIST,
    PRODUCT_ID_BOUNDS,
    PRODUCT_SCHEMA,
    QUANTITY_BOUNDS,
    UNKNOWN_PRODUCT_404,
    availability_false_outside_ranges,
    availability_is_boolean,
    denomination_is_bounded,
    denomination_ranges_are_sane,
    names_a_product,
    product_has_documented_shape,
    product_id_is_bounded,
    product_matches_list_entry,
    products_have_documented_shape,
    quantity_is_bounded,
    unknown_product_is_404,
)
from .under_load import cheap_checks, cheap_request_checks, cheap_response_checks

__all__ = [
    "ACCESS_TOKEN_IS_JWT",
    "AUTH_CHECKED_FIRST",
    "AUTH_REQUIRED",
    "AVAILABILITY_FALSE_OUTSIDE_RANGES",
    "AVAILABILITY_RESPONSE",
    "CHECKS_BY_RULE",
    "DATES_ARE_RFC3339",
    "DEFAULT_ORDER_ID_DESC",
    "DENOMINATION_BOUNDS",
    "DENOMINATION_RANGES_SANE",
    "DETAILS_MATCH_LIST",
    "DOCUMENTED_STATUS_CODES",
    "ERROR_ENVELOPE",
    "EXPIRED_TOKEN_REJECTED",
    "Exchange",
    "FILTERS_MATCH",
    "FILTER_FIELDS",
    "JSON_CONTENT_TYPE",
    "LIMIT_BOUNDS",
    "LOGIN_ISSUES_TOKENS",
    "LOGIN_REJECTS_BAD_CREDENTIALS",
    "LOGIN_REJECTS_MALFORMED_BODY",
    "LOGOUT_REVOKES_TOKENS",
    "PAGES_PARTITION_LISTING",
    "PAGE_BOUNDS",
    "PAGE_PAST_LAST_IS_EMPTY",
    "PAGINATION_HEADERS_CONSISTENT",
    "PAGINATION_HEADERS_PRESENT",
    "PAGING_DEFAULTS",
    "POST_REQUIRES_JSON",
    "PRODUCT_ID_BOUNDS",
    "PRODUCT_SCHEMA",
    "QUANTITY_BOUNDS",
    "REFRESH_ISSUES_NEW_TOKENS",
    "REFRESH_REJECTS_ACCESS_TOKEN",
    "REFRESH_TOKEN_SINGLE_USE",
    "REQUEST_ID_ECHOED",
    "REQUEST_ID_GENERATED",
    "REQUEST_ID_INVALID_REPLACED",
    "REQUEST_ID_PRESENT",
    "RETRY_LATER",
    "RULES",
    "RequestIdLedger",
    "Rule",
    "RuleViolation",
    "RulesBroken",
    "SORT_FORMAT",
    "SORT_ORDERS_RESULTS",
    "TokenLedger",
    "UNKNOWN_PATH_404",
    "UNKNOWN_PRODUCT_404",
    "UnknownRule",
    "access_token_exp_matches",
    "auth_is_checked_first",
    "auth_is_required",
    "availability_false_outside_ranges",
    "availability_is_boolean",
    "cheap_checks",
    "cheap_request_checks",
    "cheap_response_checks",
    "dates_are_rfc3339",
    "denomination_is_bounded",
    "denomination_ranges_are_sane",
    "error_envelope_is_documented",
    "expect_status",
    "expired_token_is_rejected",
    "is_rfc3339",
    "items_are_sorted",
    "items_match_filters",
    "json_content_type",
    "judges",
    "listing_is_in_requested_order",
    "listing_matches_filters",
    "login_rejects_bad_credentials",
    "login_rejects_malformed_body",
    "logout_succeeded",
    "lower_headers",
    "names_a_product",
    "pages_partition_listing",
    "pagination_headers_are_consistent",
    "paging_parameters_are_bounded",
    "post_requires_json",
    "product_has_documented_shape",
    "product_id_is_bounded",
    "product_matches_list_entry",
    "products_have_documented_shape",
    "quantity_is_bounded",
    "refresh_issues_new_tokens",
    "request_checks",
    "request_id_follows_rules",
    "request_ids_are_fresh",
    "requested_sort",
    "rule_named",
    "rules_broken_by",
    "rules_judged_by",
    "sort_is_well_formed",
    "status_is_documented",
    "token_body_is_complete",
    "unknown_path_is_404",
    "unknown_product_is_404",
    "well_formed_sort_is_accepted",
]

#: The catalogue: every declared rule by id, in the documents' order (auth, errors, headers,
#: listing, products, dates: the order of openapi/TRACEABILITY.md and of the report).
RULES: Mapping[str, Rule] = gather((auth, errors, headers, listing, products, dates))
#: The one implementation of each rule: the functions (or ledgers) bound to it by `@judges`.
#: openapi/TRACEABILITY.md names them in its "Checked by" column (tests/test_rules_traceability.py).
CHECKS_BY_RULE: Mapping[Rule, tuple[Callable[..., Any], ...]] = checks_by_rule()

# readings.py sits below the modules that declare the rules, so it names its rules by id.
for _rule_id in sorted(readings.RULE_IDS):
    rule_named(_rule_id)

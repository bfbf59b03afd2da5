"""The documented rules and the one implementation of each check.

The catalogue (`rules.toml`, catalogue.py) says what each rule is and where it comes from; the
checks, one module per part of the documents, decide whether one HTTP exchange keeps it. The
contract suite registers them as schemathesis checks and calls them from its property tests;
the load suite calls the cheap ones on every response under load. Neither keeps a second copy.

Every check raises `RuleViolation`, an `AssertionError` (so schemathesis and pytest report it as
a failure, not an error) whose message starts with the rule id and quotes the numbers that broke
it.
"""

from __future__ import annotations

from collections.abc import Callable

from .auth import (
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
from .catalogue import RULES, Rule, RulesBroken, RuleViolation, rules_broken_by
from .dates import dates_are_rfc3339, is_rfc3339
from .errors import (
    RETRY_LATER,
    error_envelope_is_documented,
    post_requires_json,
    status_is_documented,
    unknown_path_is_404,
)
from .exchange import Exchange, expect_status, lower_headers
from .headers import (
    RequestIdLedger,
    json_content_type,
    request_id_follows_rules,
    request_ids_are_fresh,
)
from .listing import (
    FILTER_FIELDS,
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
from .under_load import cheap_request_checks, cheap_response_checks

__all__ = [
    "CHECKS_BY_RULE",
    "Exchange",
    "FILTER_FIELDS",
    "RETRY_LATER",
    "RULES",
    "RequestIdLedger",
    "Rule",
    "RuleViolation",
    "RulesBroken",
    "TokenLedger",
    "access_token_exp_matches",
    "auth_is_checked_first",
    "auth_is_required",
    "availability_false_outside_ranges",
    "availability_is_boolean",
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
    "refresh_issues_new_tokens",
    "quantity_is_bounded",
    "request_checks",
    "request_id_follows_rules",
    "request_ids_are_fresh",
    "requested_sort",
    "rules_broken_by",
    "sort_is_well_formed",
    "status_is_documented",
    "token_body_is_complete",
    "unknown_path_is_404",
    "unknown_product_is_404",
    "well_formed_sort_is_accepted",
]

#: The one implementation of each rule, by rule id: the function (or the ledger) that judges it.
#: openapi/TRACEABILITY.md names each in its "Checked by" column; tests/test_traceability.py
#: holds the two together.
CHECKS_BY_RULE: dict[str, tuple[Callable[..., None] | type, ...]] = {
    "auth-required": (auth_is_required,),
    "auth-checked-first": (auth_is_checked_first,),
    "expired-token-rejected": (expired_token_is_rejected,),
    "login-issues-tokens": (token_body_is_complete,),
    "login-rejects-bad-credentials": (login_rejects_bad_credentials,),
    "login-rejects-malformed-body": (login_rejects_malformed_body,),
    "access-token-is-jwt": (access_token_exp_matches,),
    "refresh-issues-new-tokens": (refresh_issues_new_tokens, token_body_is_complete),
    "refresh-token-single-use": (TokenLedger,),
    "refresh-rejects-access-token": (TokenLedger,),
    "logout-revokes-tokens": (TokenLedger, logout_succeeded),
    "error-envelope": (error_envelope_is_documented,),
    "unknown-path-404": (unknown_path_is_404,),
    "post-requires-json": (post_requires_json,),
    "documented-status-codes": (status_is_documented,),
    "request-id-present": (request_id_follows_rules,),
    "request-id-echoed": (request_id_follows_rules,),
    "request-id-generated": (request_id_follows_rules, RequestIdLedger),
    "request-id-invalid-replaced": (request_id_follows_rules,),
    "json-content-type": (json_content_type,),
    "page-bounds": (paging_parameters_are_bounded,),
    "limit-bounds": (paging_parameters_are_bounded,),
    "paging-defaults": (pagination_headers_are_consistent,),
    "pagination-headers-present": (pagination_headers_are_consistent,),
    "pagination-headers-consistent": (pagination_headers_are_consistent,),
    "page-past-last-is-empty": (pagination_headers_are_consistent,),
    "sort-format": (sort_is_well_formed, well_formed_sort_is_accepted),
    "sort-orders-results": (listing_is_in_requested_order, items_are_sorted),
    "default-order-id-desc": (listing_is_in_requested_order,),
    "filters-match": (listing_matches_filters, items_match_filters),
    "pages-partition-listing": (pages_partition_listing,),
    "product-schema": (product_has_documented_shape,),
    "product-id-bounds": (product_id_is_bounded,),
    "unknown-product-404": (unknown_product_is_404,),
    "denomination-ranges-sane": (denomination_ranges_are_sane,),
    "details-match-list": (product_matches_list_entry,),
    "denomination-bounds": (denomination_is_bounded,),
    "quantity-bounds": (quantity_is_bounded,),
    "availability-response": (availability_is_boolean,),
    "availability-false-outside-ranges": (availability_false_outside_ranges,),
    "dates-are-rfc3339": (dates_are_rfc3339,),
}

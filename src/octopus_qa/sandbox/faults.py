"""The sandbox's catalogue of planted bugs: each fault breaks one documented rule.

A contract suite proves it can fail only by failing: `octoqa sandbox --fault NAME` serves the API
with one rule broken, and the suite run against it must report that rule (tests/
test_sandbox_faults.py shows each fault breaks its rule and the clean sandbox keeps it). Every
rule id in rules.toml is broken by at least one fault. A fault acts at one point of the code (an
`if NAME in faults:` hook where the rule is kept) and leaves the other rules alone as far as the
rule allows (where a fault cannot help breaking a neighbour, its description says so).

Modelled on schemathesis's `test/apps` catalogue of apps with planted, named bugs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Fault:
    name: str
    #: The rules.toml id of the rule this fault breaks.
    rule: str
    description: str
    #: Extra `octoqa sandbox` options the fault needs to be observable (e.g. a short token ttl).
    sandbox_args: tuple[str, ...] = ()
    #: The cheapest contract profile that must catch it (tests/test_contract_kill_rate.py runs
    #: that one); "quick" unless the fault only shows on more of the data than a PR can read.
    profile: str = "quick"


_CATALOGUE = (
    # --- Authentication ---------------------------------------------------------------------
    Fault(
        "auth-not-enforced",
        "auth-required",
        "Requests without an Authorization header are served as if logged in "
        "(which also lets a bad request without a token reach validation).",
    ),
    Fault(
        "validation-before-auth",
        "auth-checked-first",
        "Without a valid token the request is validated first: GET /api/v1/products/0 → 400, "
        "unknown /api/ paths → 404; only a valid request gets its 401.",
    ),
    Fault(
        "expired-token-accepted",
        "expired-token-rejected",
        "The access token's exp claim is not checked: expired tokens keep working.",
        sandbox_args=("--token-ttl", "2"),
    ),
    Fault(
        "login-broken",
        "login-issues-tokens",
        "The login body lacks token_type (the tokens themselves still work).",
    ),
    Fault(
        "any-password-accepted",
        "login-rejects-bad-credentials",
        "Login checks the username only: any password is accepted.",
    ),
    Fault(
        "login-malformed-body-500",
        "login-rejects-malformed-body",
        "A login body with a missing or non-string username/password → 500 instead of 400.",
    ),
    Fault(
        "access-token-exp-mismatch",
        "access-token-is-jwt",
        "expires_at and expires_in claim one hour more than the token's exp.",
    ),
    Fault(
        "refresh-returns-same-tokens",
        "refresh-issues-new-tokens",
        "Refresh hands back the access token already issued instead of a new one.",
    ),
    Fault(
        "refresh-token-reusable",
        "refresh-token-single-use",
        "A refresh token is not consumed: it works any number of times.",
    ),
    Fault(
        "refresh-accepts-access-token",
        "refresh-rejects-access-token",
        "/auth/refresh also accepts a valid access token and issues new tokens for it.",
    ),
    Fault(
        "logout-does-not-revoke",
        "logout-revokes-tokens",
        "Logout answers 204 but revokes nothing.",
    ),
    # --- Errors -----------------------------------------------------------------------------
    Fault(
        "error-envelope-flat",
        "error-envelope",
        'Error bodies are flat: {"message": ...} instead of {"error": {name, code, message}}.',
    ),
    Fault(
        "unknown-path-400",
        "unknown-path-404",
        "A path that matches no operation → 400 BadRequestError instead of 404.",
    ),
    Fault(
        "post-any-content-type",
        "post-requires-json",
        "POST bodies are parsed as JSON whatever their Content-Type (text/plain accepted).",
    ),
    Fault(
        "method-not-allowed-405",
        "documented-status-codes",
        "A documented path called with another method → 405 (undocumented) instead of 404.",
    ),
    # --- Headers ----------------------------------------------------------------------------
    Fault(
        "request-id-missing",
        "request-id-present",
        "Responses carry no X-Request-Id.",
    ),
    Fault(
        "request-id-not-echoed",
        "request-id-echoed",
        "A valid KSUID sent in X-Request-Id is replaced by a fresh one.",
    ),
    Fault(
        "request-id-not-ksuid",
        "request-id-generated",
        "Server-generated request ids are UUIDs, not KSUIDs.",
    ),
    Fault(
        "request-id-invalid-echoed",
        "request-id-invalid-replaced",
        "Any X-Request-Id is echoed, KSUID or not.",
    ),
    Fault(
        "content-type-text-plain",
        "json-content-type",
        "JSON bodies are served as Content-Type: text/plain.",
    ),
    # --- Listing, paging, sorting, filtering ------------------------------------------------
    Fault(
        "page-zero-accepted",
        "page-bounds",
        "page=0 is accepted (and served as the first page, X-Page: 0).",
    ),
    Fault(
        "limit-off-by-one",
        "limit-bounds",
        "limit=10001 is accepted: the maximum is compared off by one.",
    ),
    Fault(
        "default-limit-20",
        "paging-defaults",
        "Without limit, pages hold 20 items instead of 50.",
    ),
    Fault(
        "pagination-headers-missing",
        "pagination-headers-present",
        "List responses lack X-Has-More.",
    ),
    Fault(
        "total-pages-off-by-one",
        "pagination-headers-consistent",
        "X-Total-Pages is one more than ceil(X-Total-Count / X-Per-Page).",
    ),
    Fault(
        "past-last-page-repeats",
        "page-past-last-is-empty",
        "A page past the last serves the last page's items again (headers still say 0 items).",
    ),
    Fault(
        "sort-ignored",
        "sort-orders-results",
        "A valid sort is accepted and ignored: results stay in id DESC order.",
    ),
    Fault(
        "sort-keys-case-sensitive",
        "sort-format",
        'Only lower-case sort keys are understood: {"Field": ..., "Direction": ...} → 400.',
    ),
    Fault(
        "sort-direction-unchecked",
        "sort-format",
        'A sort direction that is neither ASC nor DESC ("UP", "") is read as ascending and '
        "answered 200; every well-formed sort is served right (only malformed data shows it).",
    ),
    Fault(
        "default-order-ascending",
        "default-order-id-desc",
        "Without sort, results come in id ascending order.",
    ),
    Fault(
        "filter-case-insensitive",
        "filters-match",
        "Filters compare case-insensitively: category=gift cards returns 'Gift Cards' products.",
    ),
    Fault(
        "page-overlap",
        "pages-partition-listing",
        "Each page after the first starts with the last item of the page before "
        "(the headers stay consistent).",
    ),
    # --- Products ---------------------------------------------------------------------------
    Fault(
        "product-field-missing",
        "product-schema",
        "Products (list and detail alike) lack sub_category.",
    ),
    Fault(
        "product-id-zero-accepted",
        "product-id-bounds",
        "Product id 0 passes validation (→ 404 Product not found instead of 400).",
    ),
    Fault(
        "unknown-product-500",
        "unknown-product-404",
        "A well-formed id that no product has → 500 instead of 404.",
    ),
    Fault(
        "denomination-range-inverted",
        "denomination-ranges-sane",
        "Every denomination range is served with min_value and max_value swapped "
        "(list and detail alike).",
    ),
    Fault(
        "details-differ-from-list",
        "details-match-list",
        "The detail of a product shows another delivery_time than its list entry.",
    ),
    Fault(
        "denomination-max-off-by-one",
        "denomination-bounds",
        "The maximum denomination is exclusive: 1,000,000,000 → 400.",
    ),
    Fault(
        "quantity-zero-accepted",
        "quantity-bounds",
        "quantity 0 is accepted (→ 200 is_available false).",
    ),
    Fault(
        "availability-string",
        "availability-response",
        'is_available is the string "yes" or "no", not a boolean.',
    ),
    Fault(
        "available-outside-range",
        "availability-false-outside-ranges",
        "Every valid availability check answers is_available true, in range or not.",
    ),
    # --- Faults that hide (issue 9): each shows only on some data, some sequences, some share
    # of responses or under concurrency, the way real regressions do. -----------------------
    Fault(
        "has-more-on-full-last-page",
        "pagination-headers-consistent",
        "X-Has-More is computed as page × limit ≤ total: true on a last page that is exactly "
        "full (limit divides the total), right everywhere else.",
    ),
    Fault(
        "request-id-sometimes-missing",
        "request-id-present",
        "About 3 % of responses (any endpoint, errors included) carry no X-Request-Id.",
    ),
    Fault(
        "request-id-sometimes-repeated",
        "request-id-generated",
        "Every 25th server-generated X-Request-Id repeats the one before (a racy last-id "
        "cache): each id is a valid KSUID, they are just not fresh.",
    ),
    Fault(
        "request-id-shared-buffer",
        "request-id-echoed",
        "The request id is kept in one attribute shared by all requests, set on arrival and read "
        "when the response starts, with an await between: requests in flight together get each "
        "other's ids. Sequential requests are answered right.",
    ),
    Fault(
        "filters-or-combined",
        "filters-match",
        "Two or three filters at once are combined with OR instead of AND; one filter alone is "
        "matched exactly.",
    ),
    Fault(
        "name-sort-accent-folded",
        "sort-orders-results",
        "Sorting by name folds accents first (an accent-insensitive collation): 'Étoile' sorts "
        "among the E's, not after 'z' as casefold puts it. Only non-ASCII names move.",
    ),
    Fault(
        "deep-pages-clamped",
        "pages-partition-listing",
        "A page whose window ends past the 10,000th item is cut from item 10,000 − limit "
        "instead (a search engine's max result window): only deep pages of a listing of more "
        "than 10,000 products repeat items; the headers stay consistent.",
    ),
    Fault(
        "name-sort-ties-unstable",
        "pages-partition-listing",
        "Products with the same name (casefold) come in a different order on every request, so "
        "walking a name-sorted listing page by page repeats some and skips others; id sorts "
        "and each single page stay right.",
    ),
    Fault(
        "detail-name-decomposed",
        "details-match-list",
        "The detail serves the name in Unicode NFD (decomposed) form, the list in NFC: they "
        "differ only for non-ASCII names.",
    ),
    Fault(
        "detail-stale-for-some",
        "details-match-list",
        "About 1 product in 500 (id % 499 == 7) shows a stale discount in its detail: found "
        "only by comparing many details with the list.",
        profile="default",
    ),
    Fault(
        "total-count-races",
        "pagination-headers-consistent",
        "A listing's total goes through one attribute shared by all requests, with an await "
        "between writing and reading it: listings in flight together swap X-Total-Count (and "
        "the pages count with it), so the headers no longer fit the body. Sequential requests "
        "are answered right.",
    ),
    # --- Hostile and extreme values (issue 9): each breaks its rule for one kind of literal ---
    Fault(
        "nan-literal-accepted",
        "post-requires-json",
        "Bodies are parsed leniently: NaN, Infinity and -Infinity (not JSON) are read as numbers "
        "(a NaN denomination slips past every bound → 200); strict JSON is unaffected.",
    ),
    Fault(
        "huge-exponent-500",
        "denomination-bounds",
        "A number literal with an exponent past a double's range (1e400) → 500 instead of 400; "
        "every other number is read as before.",
    ),
    Fault(
        "quantity-past-int64-500",
        "quantity-bounds",
        "A quantity past 2**63 − 1 overflows a 64-bit column → 500; smaller ones are fine "
        "(P4 gives quantity no maximum: 200, or 400 under a 64-bit reading, never 500).",
    ),
    # --- Dates (issue 9) ----------------------------------------------------------------------
    Fault(
        "refresh-expires-at-naive",
        "dates-are-rfc3339",
        "Refresh responses write expires_at without an offset (2026-12-01T20:45:00, ISO 8601 "
        "that any parser reads, but not RFC 3339); login's is right.",
    ),
    # --- Token lifecycle and the JWT attack matrix (issue 9) ----------------------------------
    Fault(
        "refresh-race-double-spend",
        "refresh-token-single-use",
        "Refresh checks the token, waits 50 ms (a database round trip), then spends it without "
        "checking again: simultaneous refreshes of one token all succeed; one after another, "
        "the second still gets its 401.",
    ),
    Fault(
        "alg-none-accepted",
        "auth-required",
        'An access token whose JWT header says alg "none" is read without verifying any '
        "signature; signed tokens (a wrong key included) are verified as before.",
    ),
    Fault(
        "logout-after-refresh-keeps-refresh",
        "logout-revokes-tokens",
        "Logout revokes the access tokens of a login that has been refreshed, but its current "
        "refresh token keeps working (the revocation reads the refresh token the login started "
        "with): only login → refresh → logout → refresh shows it; logout before any refresh is "
        "right.",
    ),
    Fault(
        "password-prefix-accepted",
        "login-rejects-bad-credentials",
        "The password is compared over the stored password's length only (strncmp-style): a "
        "wrong password that starts with the right one (a pasted newline, a suffix) logs in; "
        "every other wrong password gets its 401.",
    ),
    Fault(
        "product-id-fraction-truncated",
        "product-id-bounds",
        'An id with a fraction ("3.7") is read with float() then int() and serves product 3; '
        "0, negatives, words and integers are judged right.",
    ),
    Fault(
        "trailing-slash-skips-auth",
        "auth-required",
        "A protected path with a trailing slash (/api/v1/products/) skips the token check and is "
        "served as the path without it; every other spelling is checked.",
    ),
)

FAULTS: Mapping[str, Fault] = MappingProxyType({fault.name: fault for fault in _CATALOGUE})


def unknown_faults(names: Iterable[str]) -> list[str]:
    """The names that are not in the catalogue, in the order given."""
    return [name for name in names if name not in FAULTS]

"""One probe per rule: a few requests that raise `RuleViolation(rule)` when the sandbox breaks it.

The fault tests run each probe twice, against the clean sandbox (it must pass) and against the
fault that names the rule (it must raise that rule). Probes judge with `octopus_qa.rules` checks
where one exists, and otherwise with the document's own words (`expect`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import jwt
from sandbox_client import Api

from octopus_qa.ksuids import new_ksuid
from octopus_qa.rules import (
    Exchange,
    RuleViolation,
    availability_false_outside_ranges,
    dates_are_rfc3339,
    denomination_ranges_are_sane,
    error_envelope_is_documented,
    items_are_sorted,
    items_match_filters,
    json_content_type,
    pages_partition_listing,
    pagination_headers_are_consistent,
    product_matches_list_entry,
    request_id_follows_rules,
    request_ids_are_fresh,
    status_is_documented,
)

Probe = Callable[[Api], None]
PROBES: dict[str, Probe] = {}

#: The documents' example product (products-api.txt): one range, 10.00 to 500.00.
DOCUMENTED_ID = 1001
#: Ids are drawn from 1..99,999 (catalog.toml id_space): this one is well-formed and unknown.
UNKNOWN_ID = 999_999
VALID_AVAILABILITY = {"denomination": 100.0, "quantity": 2}


def probe(rule_id: str) -> Callable[[Probe], Probe]:
    def register(function: Probe) -> Probe:
        PROBES[rule_id] = function
        return function

    return register


def expect(rule_id: str, condition: bool, detail: str) -> None:
    if not condition:
        raise RuleViolation(rule_id, detail)


def expect_status(rule_id: str, exchange: Exchange, *expected: int) -> None:
    shown = f"{exchange.method} {exchange.path} {dict(exchange.query) or ''}".rstrip()
    expect(
        rule_id,
        exchange.status in expected,
        f"{shown} → {exchange.status} {exchange.body[:120]!r}, expected {expected}",
    )


PRODUCT_FIELDS: Mapping[str, type] = {
    "id": int,
    "name": str,
    "category": str,
    "sub_category": str,
    "country_code": str,
    "currency_code": str,
    "image_url": str,
    "delivery_mode": str,
    "delivery_time": str,
    "validity": str,
    "available_denominations": list,
}


def product_schema_holds(product: Mapping[str, Any]) -> None:
    """products-api.txt § Product Object Fields: the fields, their types, alpha-3 and ISO 4217."""
    for name, kind in PRODUCT_FIELDS.items():
        expect(
            "product-schema",
            isinstance(product.get(name), kind),
            f"product {product.get('id')} field {name} is {product.get(name)!r}",
        )
    for name in ("country_code", "currency_code"):
        code = product[name]
        expect(
            "product-schema",
            len(code) == 3 and code.isascii() and code.isalpha() and code.isupper(),
            f"product {product['id']} {name} {code!r} is not a three-letter ISO code",
        )


# --- Authentication -------------------------------------------------------------------------


@probe("auth-required")
def _auth_required(api: Api) -> None:
    for exchange in (
        api.get("/api/v1/products", token=None),
        api.get(f"/api/v1/products/{DOCUMENTED_ID}", token=None),
        api.post(f"/api/v1/products/{DOCUMENTED_ID}/availability", token=None, json={"x": 1}),
        api.get("/api/v1/products", token="not-a-token"),
        api.get("/api/v1/products/", token=None),  # a path a router may forgive
        api.get("/api/v1/products", token=_unsigned_copy(api.token)),
        # Doors beside the documented ones: HEAD, the token in the query, a format suffix.
        api.call("HEAD", "/api/v1/products", token=None),
        api.get("/api/v1/products", token=None, params={"access_token": api.token}),
        api.get("/api/v1/products.json", token=None),
    ):
        expect_status("auth-required", exchange, 401)


def _unsigned_copy(token: str) -> str:
    """The token's own claims under a header that says alg "none", and no signature."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(claims, key=None, algorithm="none")


@probe("auth-checked-first")
def _auth_checked_first(api: Api) -> None:
    for exchange in (
        api.get("/api/v1/products/0", token="expired-or-forged"),
        api.get("/api/v1/products", token="expired-or-forged", params={"limit": "0"}),
        api.post("/api/v1/products/0/availability", token="forged", content=b"not json"),
        api.get("/api/v1/no-such-operation", token="forged"),
    ):
        expect_status("auth-checked-first", exchange, 401)


@probe("expired-token-rejected")
def _expired_token_rejected(api: Api) -> None:
    expect_status("expired-token-rejected", api.products(), 200)
    expires = jwt.decode(api.token, options={"verify_signature": False})["exp"]
    assert expires - time.time() < 10, "run this probe with a short token ttl (--token-ttl 2)"
    time.sleep(max(0.0, expires - time.time()) + 0.2)
    expect_status("expired-token-rejected", api.products(), 401)


@probe("login-issues-tokens")
def _login_issues_tokens(api: Api) -> None:
    exchange = api.login()
    expect_status("login-issues-tokens", exchange, 200)
    body = exchange.json
    shapes = {
        "access_token": str,
        "refresh_token": str,
        "token_type": str,
        "expires_in": int,
        "expires_at": str,
    }
    for name, kind in shapes.items():
        expect("login-issues-tokens", isinstance(body.get(name), kind), f"{name} is missing")
    expect(
        "login-issues-tokens", body["token_type"] == "Bearer", f"token_type {body['token_type']}"
    )
    expect_status("login-issues-tokens", api.products(token=body["access_token"]), 200)


@probe("login-rejects-bad-credentials")
def _login_rejects_bad_credentials(api: Api) -> None:
    username = api.credentials.username
    expect_status("login-rejects-bad-credentials", api.login(username=username, password="x"), 401)
    expect_status(
        "login-rejects-bad-credentials",
        api.login(username="nobody@example.com", password=api.credentials.password),
        401,
    )
    suffixed = api.credentials.password + "\n"  # the right password and more is still wrong
    wrong = api.login(username=username, password=suffixed)
    expect_status("login-rejects-bad-credentials", wrong, 401)


@probe("login-rejects-malformed-body")
def _login_rejects_malformed_body(api: Api) -> None:
    for body in ({"username": api.credentials.username}, {"username": 1, "password": "x"}, []):
        exchange = api.post("/auth/login", token=None, json=body)
        expect_status("login-rejects-malformed-body", exchange, 400)
    exchange = api.post("/auth/login", token=None, content=b"username=a&password=b")
    expect_status("login-rejects-malformed-body", exchange, 400)


@probe("access-token-is-jwt")
def _access_token_is_jwt(api: Api) -> None:
    body = api.login().json
    try:
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise RuleViolation("access-token-is-jwt", f"not a JWT: {exc}") from None
    expires_at = datetime.fromisoformat(body["expires_at"]).timestamp()
    expect(
        "access-token-is-jwt",
        claims.get("exp") == expires_at,
        f"exp {claims.get('exp')} vs expires_at {body['expires_at']} ({expires_at})",
    )
    expect(
        "access-token-is-jwt",
        abs(claims["exp"] - time.time() - body["expires_in"]) <= 2,
        f"expires_in {body['expires_in']} does not match exp {claims['exp']}",
    )


@probe("refresh-issues-new-tokens")
def _refresh_issues_new_tokens(api: Api) -> None:
    old = api.tokens
    exchange = api.post("/auth/refresh", token=old["refresh_token"])
    expect_status("refresh-issues-new-tokens", exchange, 200)
    new = exchange.json
    for name in ("access_token", "refresh_token"):
        expect(
            "refresh-issues-new-tokens",
            isinstance(new.get(name), str) and new[name] != old[name],
            f"{name} was not renewed",
        )
    expect_status("refresh-issues-new-tokens", api.products(token=new["access_token"]), 200)


@probe("refresh-token-single-use")
def _refresh_token_single_use(api: Api) -> None:
    refresh = api.tokens["refresh_token"]
    expect_status("refresh-token-single-use", api.post("/auth/refresh", token=refresh), 200)
    expect_status("refresh-token-single-use", api.post("/auth/refresh", token=refresh), 401)
    # A2 under concurrency: of simultaneous refreshes of one token, exactly one succeeds.
    fresh = api.login().json["refresh_token"]
    statuses = api.statuses_at_once("POST", "/auth/refresh", [fresh] * 4)
    expect(
        "refresh-token-single-use",
        sorted(statuses) == [200, 401, 401, 401],
        f"4 simultaneous refreshes of one token answered {statuses}",
    )


@probe("refresh-rejects-access-token")
def _refresh_rejects_access_token(api: Api) -> None:
    exchange = api.post("/auth/refresh", token=api.token)
    expect_status("refresh-rejects-access-token", exchange, 401)


@probe("logout-revokes-tokens")
def _logout_revokes_tokens(api: Api) -> None:
    tokens = api.tokens
    exchange = api.post("/auth/logout")
    expect_status("logout-revokes-tokens", exchange, 204)
    expect("logout-revokes-tokens", exchange.body == b"", f"204 with body {exchange.body!r}")
    expect_status("logout-revokes-tokens", api.products(), 401)
    expect_status(
        "logout-revokes-tokens", api.post("/auth/refresh", token=tokens["refresh_token"]), 401
    )
    # After a refresh, logout revokes the login's current tokens (A3: "of the same login").
    renewed = api.post("/auth/refresh", token=api.login().json["refresh_token"]).json
    out = api.post("/auth/logout", token=renewed["access_token"])
    expect_status("logout-revokes-tokens", out, 204)
    again = api.post("/auth/refresh", token=renewed["refresh_token"])
    expect_status("logout-revokes-tokens", again, 401)


# --- Errors -----------------------------------------------------------------------------------


@probe("error-envelope")
def _error_envelope(api: Api) -> None:
    for exchange in (
        api.get("/api/v1/products", token=None),
        api.get("/api/v1/products/0"),
        api.get(f"/api/v1/products/{UNKNOWN_ID}"),
        api.get("/no-such-page"),
        api.login(username="nobody", password="nothing"),
    ):
        expect("error-envelope", exchange.status >= 400, f"{exchange.path} → {exchange.status}")
        error_envelope_is_documented(exchange)


@probe("unknown-path-404")
def _unknown_path_404(api: Api) -> None:
    for path in ("/api/v1/no-such-operation", "/api/v2/products", "/nothing-here"):
        exchange = api.get(path)
        expect_status("unknown-path-404", exchange, 404)


@probe("post-requires-json")
def _post_requires_json(api: Api) -> None:
    path = f"/api/v1/products/{DOCUMENTED_ID}/availability"
    as_text = api.post(
        path,
        content=b'{"denomination": 100, "quantity": 1}',
        headers={"Content-Type": "text/plain"},
    )
    expect_status("post-requires-json", as_text, 400)
    broken = api.post(path, content=b"{not json", headers={"Content-Type": "application/json"})
    expect_status("post-requires-json", broken, 400)
    for literal in (b"NaN", b"Infinity"):  # what a lenient parser reads, and JSON does not have
        lenient = api.post(
            path,
            content=b'{"denomination": %s, "quantity": 1}' % literal,
            headers={"Content-Type": "application/json"},
        )
        expect_status("post-requires-json", lenient, 400)


@probe("documented-status-codes")
def _documented_status_codes(api: Api) -> None:
    for method, path in (
        ("DELETE", "/api/v1/products"),
        ("PUT", f"/api/v1/products/{DOCUMENTED_ID}"),
        ("GET", "/auth/login"),
        ("GET", f"/api/v1/products/{DOCUMENTED_ID}/availability"),
    ):
        status_is_documented(api.call(method, path))
    # In process there is no HTTP layer: an answer no HTTP/1.1 server can write (a line break in a
    # header value, RFC 9110 § 5.5) is one the client would never get, a dropped connection.
    sort = json.dumps({"field": "name", "direction": "ASC"}, indent=2)
    _writable_over_http(api.products(sort=sort, limit="1"))


def _writable_over_http(exchange: Exchange) -> None:
    for name, value in exchange.headers.items():
        if any(character in value for character in "\r\n\0"):
            raise RuleViolation(
                "documented-status-codes",
                f"{exchange.method} {exchange.path}: the {name} header holds {value[:40]!r}, "
                "which no HTTP/1.1 server writes: the client gets no status at all",
            )


# --- Headers ----------------------------------------------------------------------------------


@probe("request-id-present")
def _request_id_present(api: Api) -> None:
    for exchange in (api.products(), api.get("/nothing-here"), api.get("/api/v1/products/0")):
        request_id_follows_rules(exchange)
    for _ in range(300):  # a bug that drops it on a few percent of responses
        request_id_follows_rules(api.products(limit="1"))


@probe("request-id-echoed")
def _request_id_echoed(api: Api) -> None:
    request_id_follows_rules(api.products(headers={"X-Request-Id": new_ksuid()}))
    # Also with requests in flight together: a shared buffer mixes their ids up.
    burst = [
        {"params": {"limit": "2"}, "headers": {"X-Request-Id": new_ksuid()}} for _ in range(20)
    ]
    for exchange in api.concurrently(burst):
        request_id_follows_rules(exchange)


@probe("request-id-generated")
def _request_id_generated(api: Api) -> None:
    request_id_follows_rules(api.products())
    sample = [api.products(limit="1") for _ in range(100)]
    for exchange in sample:
        request_id_follows_rules(exchange)
    request_ids_are_fresh(sample)


@probe("request-id-invalid-replaced")
def _request_id_invalid_replaced(api: Api) -> None:
    for sent in ("not-a-ksuid", "z" * 27):
        exchange = api.products(headers={"X-Request-Id": sent})
        returned = exchange.headers.get("x-request-id")
        # rules.request_id_follows_rules reports an echoed non-KSUID as request-id-generated.
        expect("request-id-invalid-replaced", returned != sent, f"{sent!r} was echoed")
        request_id_follows_rules(exchange)


@probe("json-content-type")
def _json_content_type(api: Api) -> None:
    for exchange in (api.products(limit="1"), api.get("/api/v1/products/0"), api.login()):
        json_content_type(exchange)


# --- Listing ----------------------------------------------------------------------------------


@probe("page-bounds")
def _page_bounds(api: Api) -> None:
    expect_status("page-bounds", api.products(page="1"), 200)
    for page in ("0", "-1", "1.5", "abc", ""):
        expect_status("page-bounds", api.products(page=page), 400)


@probe("limit-bounds")
def _limit_bounds(api: Api) -> None:
    for limit in ("1", "10000"):
        expect_status("limit-bounds", api.products(limit=limit), 200)
    for limit in ("0", "-1", "10001", "2.5", "abc", ""):
        expect_status("limit-bounds", api.products(limit=limit), 400)


@probe("paging-defaults")
def _paging_defaults(api: Api) -> None:
    exchange = api.products()
    pagination_headers_are_consistent(exchange)
    expect("paging-defaults", len(exchange.json) == 50, f"{len(exchange.json)} items")


@probe("pagination-headers-present")
def _pagination_headers_present(api: Api) -> None:
    pagination_headers_are_consistent(api.products(limit="5"))


@probe("pagination-headers-consistent")
def _pagination_headers_consistent(api: Api) -> None:
    total = int(api.products(limit="1").headers["x-total-count"])
    last = -(-total // 64)
    for page in ("1", "2", str(last), str(last + 1)):
        pagination_headers_are_consistent(api.products(page=page, limit="64"))
    # Listings of different sizes in flight together: a count that races shows here.
    burst = [{"params": {"limit": "10000", "currency_id": c}} for c in ("USD", "EUR", "GBP") * 5]
    for exchange in api.concurrently(burst):
        pagination_headers_are_consistent(exchange)
    divisor = next(d for d in range(2, total) if total % d == 0)
    for limit in (divisor, total // divisor):  # last pages that are exactly full
        pagination_headers_are_consistent(api.products(page=str(total // limit), limit=str(limit)))
    pagination_headers_are_consistent(api.products(category="No such category"))


@probe("page-past-last-is-empty")
def _page_past_last_is_empty(api: Api) -> None:
    total = int(api.products(limit="1").headers["x-total-count"])
    exchange = api.products(page=str(total // 100 + 2), limit="100")
    expect_status("page-past-last-is-empty", exchange, 200)
    expect("page-past-last-is-empty", exchange.json == [], f"{len(exchange.json)} items")


@probe("sort-format")
def _sort_format(api: Api) -> None:
    for sort in ('{"Field":"name","Direction":"ASC"}', '{"field":"name","direction":"asc"}'):
        expect_status("sort-format", api.products(sort=sort), 200)
    for sort in ('"name"', '{"field":"colour"}', '{"field":"id","direction":"UP"}', "name"):
        expect_status("sort-format", api.products(sort=sort), 400)


@probe("sort-orders-results")
def _sort_orders_results(api: Api) -> None:
    for field, direction in (("name", "ASC"), ("name", "DESC"), ("id", "ASC")):
        sort = f'{{"field":"{field}","direction":"{direction}"}}'
        items_are_sorted(api.products(sort=sort, limit="300").json, field, direction)
    # The whole catalog, where non-ASCII names meet ASCII ones.
    whole = api.products(sort='{"field":"name","direction":"ASC"}', limit="10000").json
    items_are_sorted(whole, "name", "ASC")


@probe("default-order-id-desc")
def _default_order_id_desc(api: Api) -> None:
    items_are_sorted(api.products(limit="300").json, "id", "DESC", "default-order-id-desc")


@probe("filters-match")
def _filters_match(api: Api) -> None:
    for filters in (
        {"category": "Gift Cards"},
        {"country_id": "USA", "currency_id": "USD"},
        {"category": "Gift Cards", "country_id": "USA"},
        {"category": "Travel", "country_id": "FRA", "currency_id": "EUR"},
        {"category": "gift cards"},
        {"currency_id": "usd"},
    ):
        exchange = api.products(limit="10000", **filters)
        expect_status("filters-match", exchange, 200)
        items_match_filters(exchange.json, filters)
    expect("filters-match", api.products(category="Gift Cards").json != [], "no Gift Cards")


@probe("pages-partition-listing")
def _pages_partition_listing(api: Api) -> None:
    whole = [item["id"] for item in api.products(currency_id="USD", limit="10000").json]
    walked: list[int] = []
    for page in range(1, len(whole) // 7 + 2):
        walked += [
            item["id"] for item in api.products(currency_id="USD", limit="7", page=str(page)).json
        ]
    expect(
        "pages-partition-listing",
        sorted(walked) == sorted(whole) and len(set(walked)) == len(walked),
        f"{len(whole)} products, pages of 7 gave {len(walked)} ({len(set(walked))} distinct)",
    )
    # The whole catalog, deep pages included, in two orders (ties in name order).
    total = int(api.products(limit="1").headers["x-total-count"])
    for sort in ('{"field":"id","direction":"DESC"}', '{"field":"name","direction":"ASC"}'):
        pages = [
            api.products(sort=sort, limit="1000", page=str(page)).json
            for page in range(1, total // 1000 + 2)
        ]
        pages_partition_listing(pages, total, f"sort={sort}, pages of 1000")


# --- Products ---------------------------------------------------------------------------------


@probe("product-schema")
def _product_schema(api: Api) -> None:
    for item in api.products(limit="100").json:
        product_schema_holds(item)
    product_schema_holds(api.get(f"/api/v1/products/{DOCUMENTED_ID}").json)


@probe("product-id-bounds")
def _product_id_bounds(api: Api) -> None:
    for bad in ("0", "-1", "abc", "1.5"):
        expect_status("product-id-bounds", api.get(f"/api/v1/products/{bad}"), 400)
        expect_status("product-id-bounds", api.availability(bad, VALID_AVAILABILITY), 400)


@probe("unknown-product-404")
def _unknown_product_404(api: Api) -> None:
    expect_status("unknown-product-404", api.get(f"/api/v1/products/{UNKNOWN_ID}"), 404)
    expect_status("unknown-product-404", api.availability(UNKNOWN_ID, VALID_AVAILABILITY), 404)


@probe("denomination-ranges-sane")
def _denomination_ranges_sane(api: Api) -> None:
    for item in api.products(limit="500").json:
        denomination_ranges_are_sane(item)


@probe("details-match-list")
def _details_match_list(api: Api) -> None:
    for entry in api.products(limit="5").json:
        product_matches_list_entry(api.get(f"/api/v1/products/{entry['id']}").json, entry)
    # Many of them, non-ASCII names among them: some bugs show on a few products only.
    for entry in api.products(limit="10000").json[::3]:
        product_matches_list_entry(api.get(f"/api/v1/products/{entry['id']}").json, entry)


@probe("denomination-bounds")
def _denomination_bounds(api: Api) -> None:
    for value in (0.01, 1e9, 1_000_000_000):
        exchange = api.availability(DOCUMENTED_ID, {"denomination": value, "quantity": 1})
        expect_status("denomination-bounds", exchange, 200)
    for value in (0.0099999, 1000000000.01, 0, -5, "100", True, None):
        exchange = api.availability(DOCUMENTED_ID, {"denomination": value, "quantity": 1})
        expect_status("denomination-bounds", exchange, 400)
    expect_status("denomination-bounds", api.availability(DOCUMENTED_ID, {"quantity": 1}), 400)
    for literal in (b"1e400", b"1e-400"):  # past every double: a 400, never a 500
        exchange = api.post(
            f"/api/v1/products/{DOCUMENTED_ID}/availability",
            content=b'{"denomination": %s, "quantity": 1}' % literal,
            headers={"Content-Type": "application/json"},
        )
        expect_status("denomination-bounds", exchange, 400)


@probe("quantity-bounds")
def _quantity_bounds(api: Api) -> None:
    expect_status(
        "quantity-bounds",
        api.availability(DOCUMENTED_ID, {"denomination": 100, "quantity": 1}),
        200,
    )
    for value in (0, -1, 1.5, "2", True, None):
        exchange = api.availability(DOCUMENTED_ID, {"denomination": 100, "quantity": value})
        expect_status("quantity-bounds", exchange, 400)
    expect_status("quantity-bounds", api.availability(DOCUMENTED_ID, {"denomination": 100}), 400)
    # No documented maximum (P4): past 64 bits, served or refused, never a 500.
    for value in (2**53, 2**64, 10**30):
        exchange = api.availability(DOCUMENTED_ID, {"denomination": 100, "quantity": value})
        expect_status("quantity-bounds", exchange, 200, 400)


@probe("availability-response")
def _availability_response(api: Api) -> None:
    for denomination in (100.0, 5000.0):
        exchange = api.availability(DOCUMENTED_ID, {"denomination": denomination, "quantity": 1})
        expect_status("availability-response", exchange, 200)
        body = exchange.json
        expect(
            "availability-response",
            isinstance(body, dict)
            and set(body) == {"is_available"}
            and isinstance(body["is_available"], bool),
            f"body {exchange.body!r}",
        )


@probe("availability-false-outside-ranges")
def _availability_false_outside_ranges(api: Api) -> None:
    for entry in api.products(limit="20").json:
        ranges = entry["available_denominations"]
        for denomination in (ranges[0]["min_value"] - 0.01, ranges[-1]["max_value"] + 0.01):
            if denomination < 0.01:
                continue
            body = {"denomination": round(denomination, 2), "quantity": 1}
            answer = api.availability(entry["id"], body).json["is_available"]
            availability_false_outside_ranges(entry, body["denomination"], answer)


@probe("dates-are-rfc3339")
def _dates_are_rfc3339(api: Api) -> None:
    login = api.login()
    dates_are_rfc3339(login)
    refreshed = api.post("/auth/refresh", token=login.json["refresh_token"])
    expect_status("dates-are-rfc3339", refreshed, 200)
    dates_are_rfc3339(refreshed)

"""The checks that judge a request by what it asked for (A1-A6, E2, P1, P4) and the token ledger
(A2, A3): each holds where every reading of the documents agrees the answer is right, names its
rule where none does, and leaves alone what the documents do not decide."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from octopus_qa import rules
from octopus_qa.ksuids import new_ksuid
from octopus_qa.rules import Exchange, RuleViolation

LIST = "/api/v1/products"
JSON = {"content-type": "application/json"}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def jwt_with(**claims: Any) -> str:
    return f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}.c2lnbmF0dXJl"


def exchange(
    status: int,
    method: str = "GET",
    path: str = LIST,
    *,
    token: str | None = None,
    authorization: str | None = None,
    body: bytes | None = None,
    response: Any = None,
) -> Exchange:
    request_headers = dict(JSON) if body is not None else {}
    if token is not None:
        request_headers["authorization"] = f"Bearer {token}"
    if authorization is not None:
        request_headers["authorization"] = authorization
    return Exchange(
        method=method,
        path=path,
        status=status,
        headers={"x-request-id": new_ksuid(), "content-type": "application/json"},
        body=b"" if response is None else json.dumps(response).encode(),
        request_headers=request_headers,
        request_body=body or b"",
        request_body_sent=body is not None,
    )


def broken(check: Any, *args: Any) -> str:
    with pytest.raises(RuleViolation) as caught:
        check(*args)
    return caught.value.rule.id


#: A token that is live whenever a test runs (a collected constant outlives a short exp).
TOKEN = jwt_with(sub="demo", exp=time.time() + 10 * 365 * 86_400)


# --- auth-checked-first (A6) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path,status",
    [
        ("GET", f"{LIST}/0", 400),
        ("GET", f"{LIST}/1", 404),
        ("POST", f"{LIST}/-1/availability", 400),
        ("GET", "/api/v1/no-such-thing", 404),
        ("POST", "/auth/logout", 400),
    ],
)
def test_a_protected_request_without_a_token_refused_otherwise_than_401_breaks_auth_first(
    method: str, path: str, status: int
) -> None:
    assert broken(rules.auth_is_checked_first, exchange(status, method, path)) == (
        "auth-checked-first"
    )


@pytest.mark.parametrize("authorization", ["", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a.b"])
def test_a_malformed_authorization_counts_as_no_token(authorization: str) -> None:
    bad = exchange(400, path=f"{LIST}/0", authorization=authorization)
    assert broken(rules.auth_is_checked_first, bad) == "auth-checked-first"


def test_auth_first_leaves_401_successes_tokens_and_undeclared_methods_alone() -> None:
    rules.auth_is_checked_first(exchange(401, path=f"{LIST}/0"))
    rules.auth_is_checked_first(exchange(200))  # auth-required's to report
    rules.auth_is_checked_first(exchange(400, path=f"{LIST}/0", token=TOKEN))
    rules.auth_is_checked_first(exchange(404, "DELETE", LIST))  # 401 or 404/405: undecided
    rules.auth_is_checked_first(exchange(400, "POST", "/auth/login"))  # not protected


# --- expired-token-rejected (A4) ----------------------------------------------------------------


def test_a_token_past_its_exp_that_is_served_breaks_expired_token_rejected() -> None:
    expired = jwt_with(sub="demo", exp=time.time() - 60)
    assert broken(rules.expired_token_is_rejected, exchange(200, token=expired)) == (
        "expired-token-rejected"
    )
    assert broken(rules.expired_token_is_rejected, exchange(404, token=expired)) == (
        "expired-token-rejected"
    )


def test_expiry_is_judged_with_leeway_and_only_on_protected_operations() -> None:
    rules.expired_token_is_rejected(exchange(401, token=jwt_with(exp=time.time() - 60)))
    rules.expired_token_is_rejected(exchange(200, token=jwt_with(exp=time.time() - 0.5)))
    rules.expired_token_is_rejected(exchange(200, token=TOKEN))
    rules.expired_token_is_rejected(exchange(200, token="opaque-refresh-token"))
    old = jwt_with(exp=time.time() - 60)
    rules.expired_token_is_rejected(exchange(200, "POST", "/auth/login", token=old))


# --- login (A1) ---------------------------------------------------------------------------------

LOGIN = "/auth/login"


@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"username": "x"}', b'{"username": 1, "password": "x"}', b"[]", b'"x"', b"user=x"],
    ids=["empty", "no-password", "number-username", "array", "string", "not-json"],
)
def test_a_malformed_login_not_refused_with_400_breaks_its_rule(body: bytes) -> None:
    assert broken(rules.login_rejects_malformed_body, exchange(401, "POST", LOGIN, body=body)) == (
        "login-rejects-malformed-body"
    )


def test_a_well_formed_login_refused_as_malformed_breaks_its_rule() -> None:
    good = exchange(400, "POST", LOGIN, body=b'{"username": "a", "password": "b"}')
    assert broken(rules.login_rejects_malformed_body, good) == "login-rejects-malformed-body"


@pytest.mark.parametrize(
    "body",
    [b'{"username": "", "password": "x"}', b'{"username": "a", "password": "b", "x": 1}'],
    ids=["empty-username", "extra-field"],
)
def test_undecided_login_bodies_may_get_either_answer(body: bytes) -> None:
    for status in (400, 401):
        rules.login_rejects_malformed_body(exchange(status, "POST", LOGIN, body=body))


def test_the_malformed_login_message_shows_field_types_never_values() -> None:
    body = b'{"password": "hunter2-secret"}'
    with pytest.raises(RuleViolation) as caught:
        rules.login_rejects_malformed_body(exchange(401, "POST", LOGIN, body=body))
    assert "hunter2" not in str(caught.value) and "password: str" in str(caught.value)


@pytest.mark.parametrize("status", [200, 400])
def test_wrong_credentials_not_refused_with_401_break_bad_credentials(status: int) -> None:
    wrong = exchange(status, "POST", LOGIN, body=b'{"username": "demo", "password": "nope"}')
    assert broken(rules.login_rejects_bad_credentials, wrong, "demo", "secret") == (
        "login-rejects-bad-credentials"
    )


def test_the_account_itself_and_near_spellings_of_it_are_not_wrong_credentials() -> None:
    for username in ("demo", "DEMO", " demo "):
        body = json.dumps({"username": username, "password": "secret"}).encode()
        rules.login_rejects_bad_credentials(
            exchange(200, "POST", LOGIN, body=body), "demo", "secret"
        )


# --- unknown-path-404 (E2) -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v2/products", f"{LIST}/1/nothing", "/nothing", "/auth/x"])
def test_a_path_naming_no_operation_not_answered_404_breaks_unknown_path(path: str) -> None:
    assert broken(rules.unknown_path_is_404, exchange(200, path=path, token=TOKEN)) == (
        "unknown-path-404"
    )


def test_unknown_paths_under_api_may_be_401_first_and_route_spellings_are_not_judged() -> None:
    rules.unknown_path_is_404(exchange(401, path="/api/v1/no-such-thing"))
    for spelling in (f"{LIST}/", "/api/v1//products", "/API/V1/PRODUCTS", "/api/v1/%70roducts"):
        rules.unknown_path_is_404(exchange(200, path=spelling, token=TOKEN))


# --- product-id-bounds, unknown-product-404 (P1) ---------------------------------------------------


@pytest.mark.parametrize("bad_id", ["0", "-1", "1.5", "abc", "0x10", "%20"])
@pytest.mark.parametrize("status", [200, 404])
def test_an_id_that_is_no_positive_integer_not_refused_breaks_product_id_bounds(
    bad_id: str, status: int
) -> None:
    assert broken(rules.product_id_is_bounded, exchange(status, path=f"{LIST}/{bad_id}")) == (
        "product-id-bounds"
    )


def test_a_well_formed_id_refused_breaks_product_id_bounds_and_undecided_ids_are_free() -> None:
    assert broken(rules.product_id_is_bounded, exchange(400, path=f"{LIST}/7")) == (
        "product-id-bounds"
    )
    for undecided in ("05", "+5", "1e1", str(2**64)):
        for status in (200, 400, 404):
            rules.product_id_is_bounded(exchange(status, path=f"{LIST}/{undecided}"))
    rules.product_id_is_bounded(exchange(401, path=f"{LIST}/0"))  # authentication first


def test_an_id_no_product_has_must_be_404_and_a_listed_one_must_not() -> None:
    known = {1, 2, 3}
    assert broken(rules.unknown_product_is_404, exchange(200, path=f"{LIST}/99"), known) == (
        "unknown-product-404"
    )
    assert broken(rules.unknown_product_is_404, exchange(404, path=f"{LIST}/2"), known) == (
        "unknown-product-404"
    )
    rules.unknown_product_is_404(exchange(404, path=f"{LIST}/99"), known)
    invalid_body = exchange(400, "POST", f"{LIST}/99/availability", body=b'{"quantity": 1}')
    rules.unknown_product_is_404(invalid_body, known)  # the body may be refused first


# --- denomination-bounds, quantity-bounds (P4) ------------------------------------------------------

AVAILABILITY = f"{LIST}/1/availability"


@pytest.mark.parametrize(
    "body,rule",
    [
        (b'{"denomination": 0.009, "quantity": 1}', "denomination-bounds"),
        (b'{"denomination": 1000000000.01, "quantity": 1}', "denomination-bounds"),
        (b'{"denomination": 1e400, "quantity": 1}', "denomination-bounds"),
        (b'{"denomination": "10", "quantity": 1}', "denomination-bounds"),
        (b'{"quantity": 1}', "denomination-bounds"),
        (b'{"denomination": 10, "quantity": 0}', "quantity-bounds"),
        (b'{"denomination": 10, "quantity": 1.5}', "quantity-bounds"),
        (b'{"denomination": 10, "quantity": true}', "quantity-bounds"),
        (b'{"denomination": 10}', "quantity-bounds"),
    ],
)
def test_a_body_outside_p4_that_is_served_breaks_its_bound(body: bytes, rule: str) -> None:
    check = (
        rules.denomination_is_bounded
        if rule == "denomination-bounds"
        else (rules.quantity_is_bounded)
    )
    assert broken(check, exchange(200, "POST", AVAILABILITY, body=body, token=TOKEN)) == rule


def test_a_valid_body_refused_breaks_both_bounds() -> None:
    valid = exchange(400, "POST", AVAILABILITY, body=b'{"denomination": 0.01, "quantity": 1}')
    assert broken(rules.denomination_is_bounded, valid) == "denomination-bounds"
    assert broken(rules.quantity_is_bounded, valid) == "quantity-bounds"


@pytest.mark.parametrize(
    "body",
    [
        b'{"denomination": 10, "quantity": 1.0}',
        b'{"denomination": 10, "quantity": 1e2}',
        b'{"denomination": 10, "quantity": 1, "note": "x"}',
        b'{"denomination": 0.00999999999999999999999, "quantity": 1}',
    ],
    ids=["integral-float", "exponent", "extra-field", "decimal-past-double"],
)
def test_undecided_availability_bodies_may_get_either_answer(body: bytes) -> None:
    for status in (200, 400):
        undecided = exchange(status, "POST", AVAILABILITY, body=body, token=TOKEN)
        rules.denomination_is_bounded(undecided)
        rules.quantity_is_bounded(undecided)


def test_an_unknown_product_may_be_reported_before_a_bad_body() -> None:
    bad = exchange(404, "POST", f"{LIST}/99/availability", body=b'{"denomination": -1}')
    rules.denomination_is_bounded(bad)


# --- product-schema ----------------------------------------------------------------------------


PRODUCT = {
    "id": 1,
    "name": "Gift card",
    "category": "Gift Cards",
    "sub_category": "Shopping",
    "country_code": "USA",
    "currency_code": "USD",
    "image_url": "https://example.com/1.png",
    "delivery_mode": "Email",
    "delivery_time": "Instant",
    "validity": "12 months",
    "available_denominations": [{"min_value": 10, "max_value": 100, "discount": 2.5}],
}


def test_a_product_with_a_country_or_currency_that_does_not_exist_breaks_product_schema() -> None:
    for field, value in (("country_code", "XXX"), ("currency_code", "ABC")):
        assert broken(rules.product_has_documented_shape, {**PRODUCT, field: value}) == (
            "product-schema"
        )


# --- the token ledger (A2, A3) --------------------------------------------------------------------


def _login(ledger: rules.TokenLedger, access: str, refresh: str) -> None:
    body = {"access_token": access, "refresh_token": refresh}
    ledger.judge(exchange(200, "POST", LOGIN, body=b"{}", response=body))


def test_a_refresh_token_served_twice_breaks_single_use_in_any_order() -> None:
    ledger = rules.TokenLedger()
    _login(ledger, "A1", "R1")
    renewed = {"access_token": "A2", "refresh_token": "R2"}
    ledger.judge(exchange(200, "POST", "/auth/refresh", token="R1", response=renewed))
    again = exchange(200, "POST", "/auth/refresh", token="R1", response=renewed)
    assert broken(ledger.judge, again) == "refresh-token-single-use"


def test_an_access_token_served_by_refresh_breaks_refresh_rejects_access_token() -> None:
    ledger = rules.TokenLedger()
    _login(ledger, "A1", "R1")
    assert broken(ledger.judge, exchange(200, "POST", "/auth/refresh", token="A1")) == (
        "refresh-rejects-access-token"
    )


def test_after_logout_both_tokens_of_that_login_must_be_refused() -> None:
    ledger = rules.TokenLedger()
    _login(ledger, "A1", "R1")
    _login(ledger, "B1", "S1")
    ledger.judge(exchange(204, "POST", "/auth/logout", token="A1"))
    assert broken(ledger.judge, exchange(200, token="A1")) == "logout-revokes-tokens"
    assert broken(ledger.judge, exchange(200, "POST", "/auth/refresh", token="R1")) == (
        "logout-revokes-tokens"
    )
    assert broken(ledger.judge, exchange(204, "POST", "/auth/logout", token="A1")) == (
        "logout-revokes-tokens"
    )
    ledger.judge(exchange(200, token="B1"))  # another login is untouched
    ledger.judge(exchange(401, token="A1"))


def test_a_refresh_token_is_spent_by_its_first_success_whoever_issued_it() -> None:
    """The shared login's tokens come from outside the client: a 200 still spends them."""
    ledger = rules.TokenLedger()
    ledger.judge(exchange(401, "POST", "/auth/refresh", token="unseen"))
    ledger.judge(exchange(200, "POST", "/auth/refresh", token="unseen"))
    again = exchange(200, "POST", "/auth/refresh", token="unseen")
    assert broken(ledger.judge, again) == "refresh-token-single-use"


# --- post-requires-json (E3) ---------------------------------------------------------------------


@pytest.mark.parametrize("body", [b'{"denomination": NaN, "quantity": 1}', b'{"a": 1', b"\xff\xfe"])
def test_a_body_that_is_not_json_but_served_breaks_post_requires_json(body: bytes) -> None:
    served = exchange(200, "POST", AVAILABILITY, body=body, token=TOKEN)
    assert broken(rules.post_requires_json, served) == "post-requires-json"
    rules.denomination_is_bounded(served)  # E3's to report, not the bounds'
    rules.quantity_is_bounded(served)


# --- what the request checks leave open ----------------------------------------------------------


def test_a_header_too_big_for_the_http_layer_may_be_refused_before_the_token_check() -> None:
    huge = exchange(400, authorization="Bearer " + "A" * 1_000_000)
    rules.auth_is_checked_first(huge)


def test_an_encoded_slash_may_be_one_segment_or_two() -> None:
    rules.unknown_path_is_404(exchange(400, path=f"{LIST}/a%2Fb", token=TOKEN))


def test_json_nested_too_deeply_to_read_is_not_called_malformed() -> None:
    deep = b'{"denomination": ' + b"[" * 100_000 + b"]" * 100_000 + b', "quantity": 1}'
    served = exchange(200, "POST", AVAILABILITY, body=deep, token=TOKEN)
    for check in (
        rules.post_requires_json,
        rules.denomination_is_bounded,
        rules.quantity_is_bounded,
    ):
        check(served)


def test_a_token_issued_again_after_logout_starts_a_new_life() -> None:
    """A server whose JWTs are a function of their claims issues the same string to two logins
    in one second: the second login's token is live, whatever became of the first."""
    ledger = rules.TokenLedger()
    _login(ledger, "A1", "R1")
    ledger.judge(exchange(204, "POST", "/auth/logout", token="A1"))
    _login(ledger, "A1", "R1")
    ledger.judge(exchange(200, token="A1"))


# --- sort-format (L4): a well-formed sort is not refused ------------------------------------------


@pytest.mark.parametrize(
    "sort",
    ['{"field": "name", "direction": "ASC"}', '{"Field": "id", "Direction": "desc"}'],
)
def test_a_plainly_well_formed_sort_refused_breaks_sort_format(sort: str) -> None:
    refused = exchange(400)
    refused.query = {"sort": sort, "limit": "10"}
    assert broken(rules.well_formed_sort_is_accepted, refused) == "sort-format"
    rules.sort_is_well_formed(refused)  # on every exchange: a refusal may be another part's


@pytest.mark.parametrize(
    "query",
    [
        {"sort": '{"field": "ID", "direction": "ASC"}'},  # sort-field-case: undecided
        {"sort": '{"field": "name"}'},  # partial-sort: undecided
        {"sort": '{"field": "id", "direction": "ASC", "x": 1}'},  # sort-extra-key: undecided
        {"sort": '{"field": "id", "direction": "ASC"}', "limit": "0"},  # the limit's 400
    ],
)
def test_a_sort_refusal_is_not_judged_where_a_reading_or_another_parameter_explains_it(
    query: dict[str, str],
) -> None:
    refused = exchange(400)
    refused.query = query
    rules.well_formed_sort_is_accepted(refused)

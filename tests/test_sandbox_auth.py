"""The sandbox's authentication, as getting-started.txt and ASSUMPTIONS A1-A4, A6 describe it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import jwt
import pytest
from sandbox_client import Api

from octopus_qa.rules import error_envelope_is_documented

PROTECTED_OPERATIONS = [
    ("GET", "/api/v1/products"),
    ("GET", "/api/v1/products/1001"),
    ("POST", "/api/v1/products/1001/availability"),
    ("GET", "/api/v1/no-such-operation"),
    ("DELETE", "/api/v1/products"),
]


# --- Login (A1) -------------------------------------------------------------------------------


def test_login_issues_tokens(make_api: Callable[..., Api]) -> None:
    api = make_api(token_ttl=300)
    exchange = api.login()
    assert exchange.status == 200
    body = exchange.json
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "expires_at"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert isinstance(body["refresh_token"], str) and body["refresh_token"]
    assert api.products(token=body["access_token"]).status == 200


def test_access_token_is_a_jwt_whose_exp_matches_expires_at(api: Api) -> None:
    body = api.login().json
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert body["expires_at"].endswith("Z")
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at.tzinfo is not None and expires_at.utcoffset() == UTC.utcoffset(None)
    assert claims["exp"] == expires_at.timestamp()
    assert abs(claims["exp"] - time.time() - body["expires_in"]) <= 1


@pytest.mark.parametrize(
    "username, password",
    [
        ("qa@octopus.example", "wrong password"),
        ("someone@else.example", "correct horse battery staple"),
        ("", ""),
        ("qa@octopus.example", "correct horse battery staple "),
    ],
)
def test_login_rejects_bad_credentials(api: Api, username: str, password: str) -> None:
    exchange = api.login(username=username, password=password)
    assert exchange.status == 401
    error_envelope_is_documented(exchange)


def test_login_with_lone_surrogates_is_refused_not_crashed(api: Api) -> None:
    content = b'{"username": "\\ud800", "password": "\\udfff"}'
    exchange = api.post(
        "/auth/login", token=None, content=content, headers={"Content-Type": "application/json"}
    )
    assert exchange.status == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "qa@octopus.example"},
        {"password": "correct horse battery staple"},
        {"username": 1, "password": "correct horse battery staple"},
        {"username": "qa@octopus.example", "password": None},
        {"username": "qa@octopus.example", "password": ["correct horse battery staple"]},
        [],
        "qa@octopus.example",
        42,
    ],
)
def test_login_rejects_malformed_body(api: Api, body: object) -> None:
    exchange = api.post("/auth/login", token=None, json=body)
    assert exchange.status == 400
    error_envelope_is_documented(exchange)


@pytest.mark.parametrize(
    "content, content_type",
    [
        (b"username=qa&password=x", "application/x-www-form-urlencoded"),
        (b'{"username": "qa@octopus.example"', "application/json"),
        (b"", "application/json"),
        (b"null", "application/json"),
        (b'{"username": "qa@octopus.example", "password": "x"}', "text/plain"),
    ],
)
def test_login_rejects_a_body_that_is_not_json(api: Api, content: bytes, content_type: str) -> None:
    exchange = api.post(
        "/auth/login", token=None, content=content, headers={"Content-Type": content_type}
    )
    assert exchange.status == 400


# --- Refresh (A2) -----------------------------------------------------------------------------


def test_refresh_issues_new_working_tokens(api: Api) -> None:
    old = api.tokens
    exchange = api.post("/auth/refresh", token=old["refresh_token"])
    assert exchange.status == 200
    new = exchange.json
    assert set(new) == set(old) and new["token_type"] == "Bearer"
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]
    assert api.products(token=new["access_token"]).status == 200
    assert api.post("/auth/refresh", token=new["refresh_token"]).status == 200


def test_refresh_token_works_once(api: Api) -> None:
    refresh = api.tokens["refresh_token"]
    assert api.post("/auth/refresh", token=refresh).status == 200
    second = api.post("/auth/refresh", token=refresh)
    assert second.status == 401
    error_envelope_is_documented(second)


@pytest.mark.parametrize("token", ["access", None, "not-a-token"])
def test_refresh_rejects_anything_but_a_refresh_token(api: Api, token: str | None) -> None:
    sent = api.token if token == "access" else token
    assert api.post("/auth/refresh", token=sent).status == 401


def test_refresh_with_a_body_that_is_not_json_is_400_after_the_token_check(api: Api) -> None:
    plain = {"Content-Type": "text/plain"}
    assert api.post("/auth/refresh", token="forged", content=b"x", headers=plain).status == 401
    refresh = api.tokens["refresh_token"]
    assert api.post("/auth/refresh", token=refresh, content=b"x", headers=plain).status == 400
    assert api.post("/auth/refresh", token=refresh).status == 200  # the 400 did not use it up


# --- Logout (A3) ------------------------------------------------------------------------------


def test_logout_answers_204_and_revokes_the_access_and_refresh_tokens(api: Api) -> None:
    tokens = api.tokens
    exchange = api.post("/auth/logout")
    assert exchange.status == 204
    assert exchange.body == b""
    assert api.products().status == 401
    assert api.post("/auth/refresh", token=tokens["refresh_token"]).status == 401
    assert api.post("/auth/logout").status == 401


def test_logout_revokes_only_its_own_login(api: Api) -> None:
    other = api.login().json["access_token"]
    assert api.post("/auth/logout").status == 204
    assert api.products(token=other).status == 200


def test_logout_after_refresh_revokes_the_renewed_tokens(api: Api) -> None:
    renewed = api.post("/auth/refresh", token=api.tokens["refresh_token"]).json
    assert api.post("/auth/logout", token=renewed["access_token"]).status == 204
    assert api.products(token=renewed["access_token"]).status == 401
    assert api.post("/auth/refresh", token=renewed["refresh_token"]).status == 401


def test_logout_requires_an_access_token(api: Api) -> None:
    assert api.post("/auth/logout", token=None).status == 401
    assert api.post("/auth/logout", token=api.tokens["refresh_token"]).status == 401


# --- Expiry and enforcement (A4, A6) ----------------------------------------------------------


def test_expired_token_is_rejected(make_api: Callable[..., Api]) -> None:
    api = make_api(token_ttl=1)
    assert api.products().status == 200
    expires = jwt.decode(api.token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires - time.time()) + 0.1)
    exchange = api.products()
    assert exchange.status == 401
    error_envelope_is_documented(exchange)


@pytest.mark.parametrize("method, path", PROTECTED_OPERATIONS)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-jwt", "Basic cWE6eA==", "Bearer eyJhbGciOiJub25lIn0.e30."],
)
def test_auth_required(api: Api, method: str, path: str, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    exchange = api.call(method, path, token=None, headers=headers, json={})
    assert exchange.status == 401
    error_envelope_is_documented(exchange)


def test_auth_required_rejects_a_token_from_another_sandbox(
    api: Api, make_api: Callable[..., Api]
) -> None:
    assert make_api().products(token=api.token).status == 401


def test_auth_required_rejects_a_refresh_token_used_as_access_token(api: Api) -> None:
    assert api.products(token=api.tokens["refresh_token"]).status == 401


@pytest.mark.parametrize(
    "method, path, content",
    [
        ("GET", "/api/v1/products/0", None),
        ("GET", "/api/v1/products?limit=0&page=-1&sort=nonsense", None),
        ("POST", "/api/v1/products/abc/availability", b"{not json"),
        ("POST", "/api/v1/products/99999999/availability", b'{"quantity": 0}'),
        ("PATCH", "/api/v1/no/such/operation", None),
    ],
)
def test_auth_checked_first(api: Api, method: str, path: str, content: bytes | None) -> None:
    exchange = api.call(method, path, token=None, content=content)
    assert exchange.status == 401

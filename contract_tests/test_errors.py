"""Errors: the envelope (E1) with its documented name/code pairs, unknown paths (E2), POST bodies
that are not JSON (E3) and only documented status codes (E4)."""

from __future__ import annotations

import pytest

from octopus_qa import rules
from octopus_qa.contract.client import ApiClient
from octopus_qa.contract.fixtures import LIST, CatalogSample
from octopus_qa.rules import expect_status
from octopus_qa.target.session import LOGIN_PATH


@pytest.mark.rule("error-envelope")
@pytest.mark.parametrize(
    "method,path,token,status",
    [
        pytest.param("GET", f"{LIST}/0", True, 400, id="400"),
        pytest.param("GET", LIST, False, 401, id="401"),
        pytest.param("GET", f"{LIST}/987654321", True, 404, id="404"),
    ],
)
def test_errors_carry_the_documented_envelope(
    api: ApiClient, method: str, path: str, token: bool, status: int
) -> None:
    exchange = api.request(
        method, path, token=None if not token else api.shared_login.access_token(), check=False
    )
    assert exchange.status == status, (
        f"{method} {path} answered {exchange.status}, expected {status}"
    )
    rules.error_envelope_is_documented(exchange)


@pytest.mark.rule("unknown-path-404")
@pytest.mark.parametrize(
    "path", ["/api/v1/no-such-thing", "/api/v1/products/1/nothing", "/api/v2/products", "/nothing"]
)
def test_unknown_path_is_not_found(api: ApiClient, path: str) -> None:
    exchange = api.get(path)
    rules.unknown_path_is_404(exchange)
    expect_status(exchange, 404, "unknown-path-404", f"GET {path} (with a valid token)")


@pytest.mark.rule("unknown-path-404", "documented-status-codes")
@pytest.mark.parametrize(
    "method,path",
    [
        ("DELETE", LIST),
        ("PUT", f"{LIST}/1"),
        ("GET", f"{LIST}/1/availability"),
        ("GET", LOGIN_PATH),
        ("PATCH", LIST),
    ],
)
def test_undocumented_method_is_not_found(api: ApiClient, method: str, path: str) -> None:
    exchange = api.request(method, path)
    rules.status_is_documented(exchange)
    expect_status(exchange, 404, "unknown-path-404", f"{method} {path}")


@pytest.mark.rule("post-requires-json")
@pytest.mark.parametrize(
    "content_type,body",
    [
        ("text/plain", '{"denomination": 10, "quantity": 1}'),
        ("application/x-www-form-urlencoded", "denomination=10&quantity=1"),
        ("application/json", '{"denomination": 10, "quantity": '),
        ("application/json", "not json"),
        (None, '{"denomination": 10, "quantity": 1}'),
    ],
    ids=["text-plain", "form", "truncated-json", "not-json", "no-content-type"],
)
def test_availability_post_must_be_json(
    api: ApiClient, catalog: CatalogSample, content_type: str | None, body: str
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    exchange = api.post(
        f"{LIST}/{catalog.products[0]['id']}/availability", content=body, headers=headers
    )
    expect_status(
        exchange, 400, "post-requires-json", f"Content-Type {content_type!r} body {body!r}"
    )


@pytest.mark.rule("post-requires-json")
def test_login_post_must_be_json(api: ApiClient) -> None:
    body = '{"username": "a", "password": "b"}'
    exchange = api.request(
        "POST", LOGIN_PATH, token=None, content=body, headers={"Content-Type": "text/plain"}
    )
    expect_status(exchange, 400, "post-requires-json", "a text/plain login")

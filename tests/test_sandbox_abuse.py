"""The sandbox under abuse, over real HTTP: forged and broken tokens are 401s, hostile bodies
and headers are 4xx with the envelope, half-sent requests block nobody; never a 500, and the
server keeps answering afterwards."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest

from octopus_qa.credentials import Credentials
from octopus_qa.rules import Exchange, cheap_response_checks, lower_headers
from octopus_qa.sandbox import create_app
from octopus_qa.sandbox.server import running_sandbox
from octopus_qa.session import login

ACCOUNT = Credentials("abuse@octopus.example", "an abuse test password")
LIST = "/api/v1/products"
AVAILABILITY = "/api/v1/products/1001/availability"


#: The signing key of each sandbox served here (read from the app, for perfect forgeries).
_KEY: dict[str, bytes] = {}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    app = create_app(credentials=ACCOUNT)
    with running_sandbox(app=app) as base:
        _KEY[base] = app.state.tokens._key
        yield base


@pytest.fixture(scope="module")
def token(url: str) -> str:
    return login(url, ACCOUNT).access_token


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _forged(token: str, key: bytes) -> dict[str, str]:
    """Tokens an attacker or a broken client sends, built from a real one's claims (`key` is the
    sandbox's own, so expired and not-yet-valid tokens are otherwise perfect)."""
    header, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    now = int(time.time())
    return {
        "alg-none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "wrong-key": jwt.encode(claims, "k" * 32, algorithm="HS256"),
        "expired": jwt.encode({**claims, "exp": now - 60}, key, algorithm="HS256"),
        "not-yet-valid": jwt.encode({**claims, "nbf": now + 3600}, key, algorithm="HS256"),
        "payload-swapped": f"{header}.{_b64({**claims, 'sub': 'admin'})}.{signature}",
        "two-segments": f"{header}.{payload}",
        "extra-segment": f"{token}.{signature}",
        "not-base64": "%%%.%%%.%%%",
        "empty-segments": "..",
        "megabyte": "eyJ" + "A" * 1_000_000,
    }


@pytest.mark.parametrize(
    "how",
    [
        "alg-none",
        "wrong-key",
        "expired",
        "not-yet-valid",
        "payload-swapped",
        "two-segments",
        "extra-segment",
        "not-base64",
        "empty-segments",
        "megabyte",
    ],
)
def test_forged_or_broken_tokens_are_401_never_500(url: str, token: str, how: str) -> None:
    forged = _forged(token, _KEY[url])[how]
    response = httpx.get(url + LIST, headers={"Authorization": f"Bearer {forged}"}, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    _still_serving(url, token)


def test_a_refresh_token_swapped_in_for_the_access_token_is_401(url: str) -> None:
    tokens = login(url, ACCOUNT)
    bearer = {"Authorization": f"Bearer {tokens.refresh_token}"}
    assert httpx.get(url + LIST, headers=bearer, timeout=10).status_code == 401


def _exchange(response: httpx.Response) -> Exchange:
    return Exchange(
        method=response.request.method,
        path=response.request.url.path,
        status=response.status_code,
        headers=lower_headers(response.headers.multi_items()),
        body=response.content,
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            b'{"denomination": 1, "quantity": 1, "x": "' + b"y" * 10_000_000 + b'"}', id="10MB"
        ),
        pytest.param(b"[" * 10_000 + b"]" * 10_000, id="10000-deep"),
        pytest.param(b'{"denomination": NaN, "quantity": 1}', id="nan"),
        pytest.param(b'{"denomination": 1e400, "quantity": 1}', id="1e400"),
        pytest.param(b'{"quantity": 1, "quantity": "x", "denomination": 5}', id="duplicate-keys"),
        pytest.param(b'{"denomination": 1, "quantity": "\xc3\x28"}', id="invalid-utf8"),
    ],
)
def test_hostile_bodies_get_a_documented_4xx_with_the_envelope(
    url: str, token: str, body: bytes
) -> None:
    response = httpx.post(
        url + AVAILABILITY,
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code in (200, 400), response.status_code  # duplicate keys: either
    cheap_response_checks(_exchange(response))
    _still_serving(url, token)


def test_a_100_kb_header_is_refused_with_a_4xx_not_a_500(url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}", "X-Padding": "p" * 100_000}
    try:
        status = httpx.get(url + LIST, headers=headers, timeout=10).status_code
    except httpx.RemoteProtocolError:
        status = 0  # the HTTP layer may close the connection instead: no 500 either way
    assert status < 500
    _still_serving(url, token)


def test_half_sent_requests_do_not_block_anyone(url: str, token: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    held = []
    try:
        for _ in range(50):
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(b"GET /api/v1/products HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            held.append(sock)
        _still_serving(url, token)
    finally:
        for sock in held:
            sock.close()


def _still_serving(url: str, token: str) -> None:
    response = httpx.get(
        url + LIST, params={"limit": 1}, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200

"""Errors and bad input: the envelope (E1), unknown operations (E2), JSON bodies (E3), only
documented statuses (E4), and no input that makes the sandbox answer 500 or hang."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sandbox_client import Api

from octopus_qa import spec
from octopus_qa.rules import (
    Exchange,
    error_envelope_is_documented,
    json_content_type,
    request_id_follows_rules,
    status_is_documented,
)

AVAILABILITY = "/api/v1/products/1001/availability"
JSON = {"Content-Type": "application/json"}


def assert_documented_error(exchange: Exchange, status: int) -> None:
    assert exchange.status == status, exchange.body
    error_envelope_is_documented(exchange)
    status_is_documented(exchange)
    json_content_type(exchange)
    request_id_follows_rules(exchange)


# --- E1: the envelope ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", "/api/v1/products/0", 400),
        ("GET", "/api/v1/products/999999", 404),
        ("GET", "/nothing-here", 404),
    ],
)
def test_error_envelope_carries_the_documented_name_and_code(
    api: Api, method: str, path: str, status: int
) -> None:
    exchange = api.call(method, path)
    assert_documented_error(exchange, status)
    assert set(exchange.json) == {"error"}
    assert exchange.json["error"]["message"]


def test_error_envelope_on_401(api: Api) -> None:
    assert_documented_error(api.products(token=None), 401)


def test_error_envelope_on_an_uncaught_error(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> bool:
        raise RuntimeError("planted by the test")

    monkeypatch.setattr(api.app.state.catalog, "is_available", broken)
    exchange = api.post(AVAILABILITY, json={"denomination": 100, "quantity": 1})
    assert_documented_error(exchange, 500)
    assert "planted" not in exchange.body.decode()


# --- E2: unknown operations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/no-such-operation",
        "/api/v1/products/",
        "/api/v1/products/1001/",
        "/api/v1/products//availability",
        "/api/v1/orders",
        "/api/v2/products",
        "/",
        "/auth",
        "/auth/login/extra",
    ],
)
def test_unknown_path_is_404_with_envelope(api: Api, path: str) -> None:
    assert_documented_error(api.get(path), 404)


@pytest.mark.parametrize(
    "method, path",
    [
        ("DELETE", "/api/v1/products"),
        ("POST", "/api/v1/products"),
        ("PUT", "/api/v1/products/1001"),
        ("GET", AVAILABILITY),
        ("GET", "/auth/login"),
        ("OPTIONS", "/api/v1/products"),
        ("DELETE", "/auth/logout"),
    ],
)
def test_other_method_on_a_documented_path_is_404_not_405(api: Api, method: str, path: str) -> None:
    assert_documented_error(api.call(method, path), 404)


# --- E3: POST bodies are JSON ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, headers",
    [
        (b'{"denomination": 100, "quantity": 1}', {"Content-Type": "text/plain"}),
        (b'{"denomination": 100, "quantity": 1}', {"Content-Type": "application/jsonx"}),
        (b'{"denomination": 100, "quantity": 1}', {}),
        (b"denomination=100&quantity=1", {"Content-Type": "application/x-www-form-urlencoded"}),
        (b"{not json", JSON),
        (b"", JSON),
        (b'{"denomination": 100, "quantity": 1', JSON),
    ],
)
def test_post_requires_json(api: Api, content: bytes, headers: dict[str, str]) -> None:
    assert_documented_error(api.post(AVAILABILITY, content=content, headers=headers), 400)


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
def test_post_accepts_json_media_type_with_parameters(api: Api, content_type: str) -> None:
    body = b'{"denomination": 100, "quantity": 1}'
    assert (
        api.post(AVAILABILITY, content=body, headers={"Content-Type": content_type}).status == 200
    )


# --- Bad input never costs a 500 or a hang ------------------------------------------------------


async def _chunks(total: int, size: int = 8192) -> AsyncIterator[bytes]:
    yield b'{"denomination": 100, "quantity": 1, "padding": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(
            b'{"denomination": 100, "quantity": 1, "pad": "' + b"x" * 70_000 + b'"}', id="large"
        ),
        pytest.param(b"[" * 50_000 + b"]" * 50_000, id="deeply-nested"),
        pytest.param(b'{"denomination": NaN, "quantity": 1}', id="nan"),
        pytest.param(b'{"denomination": Infinity, "quantity": 1}', id="infinity"),
        pytest.param(b'{"denomination": -Infinity, "quantity": 1}', id="minus-infinity"),
        pytest.param(b'{"denomination": 1e400, "quantity": 1}', id="overflowing-float"),
        pytest.param(
            b'{"denomination": 100, "quantity": 1' + b"0" * 5000 + b"}", id="huge-integer"
        ),
        pytest.param(b'{"denomination": 100, "quantity": "\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b"\x00\x01\x02", id="binary"),
    ],
)
def test_bad_body_is_400(api: Api, content: bytes) -> None:
    assert_documented_error(api.post(AVAILABILITY, content=content, headers=JSON), 400)


def test_large_body_is_refused_with_a_clear_message(api: Api) -> None:
    exchange = api.post(AVAILABILITY, content=b"x" * 70_000, headers=JSON)
    assert_documented_error(exchange, 400)
    assert "larger than 65536 bytes" in exchange.json["error"]["message"]


def test_large_streamed_body_without_content_length_is_refused(api: Api) -> None:
    exchange = api.post(AVAILABILITY, content=_chunks(200_000), headers=JSON)
    assert "content-length" not in exchange.request_headers
    assert_documented_error(exchange, 400)


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("category=" + "x" * 9000, id="huge-query"),
        pytest.param("category=%ff%fe", id="invalid-utf8"),
        pytest.param("page=1&page=2", id="repeated"),
        pytest.param("limit=%00", id="nul"),
    ],
)
def test_bad_query_is_400(api: Api, query: str) -> None:
    assert_documented_error(api.get(f"/api/v1/products?{query}"), 400)


@pytest.mark.parametrize("product_id", ["%ff", "%00", "1%2F2", "1" * 5000, "١"])
def test_odd_product_ids_are_400_or_404(api: Api, product_id: str) -> None:
    exchange = api.get(f"/api/v1/products/{product_id}")
    assert exchange.status in (400, 404)
    error_envelope_is_documented(exchange)


# --- Load-test knobs ----------------------------------------------------------------------------


def test_error_rate_one_answers_every_api_request_500(make_api: Callable[..., Api]) -> None:
    api = make_api(error_rate=1.0)
    assert api.login().status == 200  # login stays up so load tests can start
    assert_documented_error(api.products(), 500)


def test_error_rate_is_a_seeded_share(make_api: Callable[..., Api]) -> None:
    statuses = [make_api(error_rate=0.5, seed=7) for _ in range(2)]
    runs = [[api.products(limit="1").status for _ in range(40)] for api in statuses]
    assert runs[0] == runs[1]
    assert 5 < runs[0].count(500) < 35


def test_latency_delays_every_answer(make_api: Callable[..., Api]) -> None:
    api = make_api(latency_ms=150)
    started = time.perf_counter()
    api.get("/nothing-here")
    assert time.perf_counter() - started >= 0.15


# --- The contract document --------------------------------------------------------------------


def test_openapi_document_is_served_without_a_token(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    document = tmp_path / "octopus-cards.yaml"
    document.write_text("openapi: 3.1.0\n", encoding="utf-8")
    monkeypatch.setattr(spec, "SPEC_PATH", document)
    exchange = api.get("/openapi.yaml", token=None)
    assert exchange.status == 200
    assert exchange.body == b"openapi: 3.1.0\n"
    assert exchange.headers["content-type"].startswith("application/yaml")


def test_openapi_document_missing_is_404_envelope(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(spec, "SPEC_PATH", tmp_path / "absent.yaml")
    assert_documented_error(api.get("/openapi.yaml", token=None), 404)

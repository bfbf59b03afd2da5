"""Hostile and extreme values: always the documented status, never a 500.

Bodies are sent as raw bytes, as written here, so the literal on the wire is the one named
(no client re-encodes `1e400` or `NaN`). Where the documents decide, the test asserts their
answer; where they do not (src/octopus_qa/rules/readings.py, openapi/TRACEABILITY.md § Readings) it
accepts either reading, and asserts first that readings.py recognises the value as undecided,
so the generated-data check and these tests share one judgement.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from octopus_qa.contract.client import ApiClient
from octopus_qa.contract.fixtures import LIST, CatalogSample
from octopus_qa.rules import expect_status
from octopus_qa.rules.http_layer import oversized_for_http_layer
from octopus_qa.rules.readings import either_reading_answered, undecided_inputs
from octopus_qa.target.session import LOGIN_PATH

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def product_id(catalog: CatalogSample) -> int:
    return int(catalog.products[0]["id"])


def _availability(api: ApiClient, product_id: Any, body: str) -> Any:
    return api.post(f"{LIST}/{product_id}/availability", content=body.encode(), headers=JSON)


def _body(denomination: str = "10", quantity: str = "1") -> str:
    return f'{{"denomination": {denomination}, "quantity": {quantity}}}'


# --- Not JSON, however lenient a parser (RFC 8259; E3 → 400) ---------------------------------

NOT_JSON = {
    "nan": _body(denomination="NaN"),
    "infinity": _body(denomination="Infinity"),
    "minus-infinity": _body(denomination="-Infinity"),
    "quantity-nan": _body(quantity="NaN"),
    "trailing-comma": '{"denomination": 10, "quantity": 1,}',
    "single-quotes": "{'denomination': 10, 'quantity': 1}",
    "unquoted-keys": "{denomination: 10, quantity: 1}",
    "comment": '{"denomination": 10, /* cents? */ "quantity": 1}',
    "leading-zero": _body(denomination="010"),
    "plus-sign": _body(quantity="+1"),
    "bare-fraction": _body(denomination=".5"),
    "trailing-dot": _body(denomination="10."),
    "hex": _body(quantity="0x1"),
    "two-documents": _body() + _body(),
}


@pytest.mark.rule("post-requires-json")
@pytest.mark.parametrize("body", NOT_JSON.values(), ids=NOT_JSON.keys())
def test_json_literals_only_a_lenient_parser_accepts_are_rejected(
    api: ApiClient, product_id: int, body: str
) -> None:
    exchange = _availability(api, product_id, body)
    expect_status(exchange, 400, "post-requires-json", f"body {body!r}")


@pytest.mark.rule("post-requires-json", "login-rejects-malformed-body")
@pytest.mark.parametrize(
    "body",
    ['{"username": NaN, "password": "x"}', "{'username': 'a', 'password': 'b'}"],
    ids=["nan", "single-quotes"],
)
def test_login_body_only_a_lenient_parser_accepts_is_rejected(api: ApiClient, body: str) -> None:
    exchange = api.request("POST", LOGIN_PATH, token=None, content=body.encode(), headers=JSON)
    expect_status(exchange, 400, "post-requires-json", f"login body {body!r}")


# --- Numbers past every bound, and numbers in range in any spelling (P4) ----------------------

OUT_OF_RANGE = {
    "denomination-1e400": ("denomination-bounds", _body(denomination="1e400")),
    "denomination-minus-1e400": ("denomination-bounds", _body(denomination="-1e400")),
    "denomination-1e-400": ("denomination-bounds", _body(denomination="1e-400")),
    "denomination-400-digits": ("denomination-bounds", _body(denomination="1" + "0" * 400)),
    "denomination-minus-zero": ("denomination-bounds", _body(denomination="-0")),
    "denomination-1e9-and-a-bit": ("denomination-bounds", _body(denomination="1000000000.01")),
    "quantity-1e400": ("quantity-bounds", _body(quantity="1e400")),
    "quantity-minus-zero": ("quantity-bounds", _body(quantity="-0")),
    "quantity-minus-2-pow-64": ("quantity-bounds", _body(quantity=str(-(2**64)))),
    "quantity-many-decimals": ("quantity-bounds", _body(quantity="1.0000000000000001")),
}


@pytest.mark.parametrize(
    "rule,body",
    [
        pytest.param(*value, marks=pytest.mark.rule(value[0]), id=key)
        for key, value in OUT_OF_RANGE.items()
    ],
)
def test_numbers_past_their_bounds_are_rejected(
    api: ApiClient, product_id: int, rule: str, body: str
) -> None:
    exchange = _availability(api, product_id, body)
    undecided = undecided_inputs("POST", f"{LIST}/{product_id}/availability", {}, body)
    if undecided:  # 1.0000000000000001 is 1.0 as a double: then it is the integral-float question
        either_reading_answered(exchange.status, undecided)
    else:
        expect_status(exchange, 400, rule, f"body {body!r}")


IN_RANGE = {
    "exponent": "1e2",
    "capital-exponent": "1E2",
    "signed-exponent": "1.5e+1",
    "negative-exponent": "1000e-1",
    "trailing-zeros": "10.000",
    "many-decimals": "12.345678901234567890123456789",
    "smallest": "0.01",
    "largest": "1000000000",
    "largest-as-exponent": "1e9",
}


@pytest.mark.rule("denomination-bounds")
@pytest.mark.parametrize("denomination", IN_RANGE.values(), ids=IN_RANGE.keys())
def test_denomination_in_range_is_accepted_in_any_json_spelling(
    api: ApiClient, product_id: int, denomination: str
) -> None:
    exchange = _availability(api, product_id, _body(denomination=denomination))
    expect_status(exchange, 200, "denomination-bounds", f"denomination {denomination}")


@pytest.mark.rule("quantity-bounds")
@pytest.mark.parametrize("quantity", [2**31, 2**32 + 1, 2**53], ids=["2^31", "2^32+1", "2^53"])
def test_quantity_past_32_bits_is_accepted(api: ApiClient, product_id: int, quantity: int) -> None:
    """P4: no documented maximum; up to 2**53 every JSON parser holds the integer exactly."""
    exchange = _availability(api, product_id, _body(quantity=str(quantity)))
    expect_status(exchange, 200, "quantity-bounds", f"quantity {quantity}")


# --- The wrong JSON type (A1, P4, L4 → 400) --------------------------------------------------

WRONG_TYPES = {
    "denomination-string": ("denomination-bounds", "availability", _body(denomination='"10"')),
    "denomination-exponent-string": (
        "denomination-bounds",
        "availability",
        _body(denomination='"1e2"'),
    ),
    "quantity-string": ("quantity-bounds", "availability", _body(quantity='"1"')),
    "quantity-true": ("quantity-bounds", "availability", _body(quantity="true")),
    "quantity-object": ("quantity-bounds", "availability", _body(quantity='{"value": 1}')),
    "username-number": (
        "login-rejects-malformed-body",
        "login",
        '{"username": 12345, "password": "x"}',
    ),
    "password-number": (
        "login-rejects-malformed-body",
        "login",
        '{"username": "a@b.example", "password": 12345}',
    ),
    "password-null": (
        "login-rejects-malformed-body",
        "login",
        '{"username": "a@b.example", "password": null}',
    ),
    "credentials-array": ("login-rejects-malformed-body", "login", '["a@b.example", "x"]'),
}


@pytest.mark.parametrize(
    "rule,operation,body",
    [
        pytest.param(*value, marks=pytest.mark.rule(value[0]), id=key)
        for key, value in WRONG_TYPES.items()
    ],
)
def test_a_value_of_the_wrong_json_type_is_rejected(
    api: ApiClient, product_id: int, rule: str, operation: str, body: str
) -> None:
    if operation == "login":
        exchange = api.request("POST", LOGIN_PATH, token=None, content=body.encode(), headers=JSON)
    else:
        exchange = _availability(api, product_id, body)
    expect_status(exchange, 400, rule, f"{operation} body {body!r}")


@pytest.mark.rule("sort-format")
@pytest.mark.parametrize(
    "sort",
    ['{"field": 1, "direction": "ASC"}', '{"field": "id", "direction": 0}', '{"field": null}'],
    ids=["field-number", "direction-number", "field-null"],
)
def test_sort_with_a_number_where_a_name_belongs_is_rejected(api: ApiClient, sort: str) -> None:
    exchange = api.get(LIST, params={"sort": sort})
    expect_status(exchange, 400, "sort-format", f"sort={sort}")


#: One sort object in the layouts JSON allows (RFC 8259 § 2: whitespace around any structural
#: character): every parser reads the same object, so L4 decides them all alike (200).
SORT_LAYOUTS = {
    "compact": '{"field":"name","direction":"ASC"}',
    "spaced": '{ "field": "name", "direction": "ASC" }',
    "indented": json.dumps({"field": "name", "direction": "ASC"}, indent=2),
    "tabs-and-crlf": '{\t"field": "name",\r\n\t"direction": "ASC"\r\n}',
}


@pytest.mark.rule("sort-format")
@pytest.mark.parametrize("sort", SORT_LAYOUTS.values(), ids=SORT_LAYOUTS.keys())
def test_a_sort_object_is_accepted_in_any_json_layout(api: ApiClient, sort: str) -> None:
    exchange = api.get(LIST, params={"sort": sort, "limit": 5})
    expect_status(exchange, 200, "sort-format", f"sort={sort!r}")


# --- Too big for an HTTP layer: the documented answer, or the layer's refusal ---------------

#: One request past each limit of rules/http_layer.py. The documents set no size, so each gets
#: the answer its content decides, or a refusal by the HTTP layer in front (any 4xx, in its own
#: words, or a closed connection), which every check accepts for an oversized request and only
#: for one. Never data without a token, never a 5xx. (The megabyte bearer token is test_auth.py's.)
OVERSIZED = {
    "long-path": ("product-id-bounds", 400, "GET", f"{LIST}/{'a' * 9000}", {}, None, None),
    "long-query": (
        "filters-match",
        200,
        "GET",
        LIST,
        {"category": "x" * 9000, "limit": "1"},
        None,
        None,
    ),
    "long-header": ("auth-required", 200, "GET", LIST, {"limit": "1"}, {"X-Pad": "p" * 9000}, None),
    "many-headers": (
        "auth-required",
        200,
        "GET",
        LIST,
        {"limit": "1"},
        {f"X-Pad-{n}": "p" for n in range(150)},
        None,
    ),
    "huge-body": (
        "denomination-bounds",
        200,
        "POST",
        f"{LIST}/{{id}}/availability",
        {},
        JSON,
        _body() + " " * 2_000_000,
    ),
}


@pytest.mark.parametrize(
    "rule,status,method,path,query,headers,body",
    [
        pytest.param(*value, marks=pytest.mark.rule(value[0]), id=key)
        for key, value in OVERSIZED.items()
    ],
)
def test_an_oversized_request_gets_its_answer_or_the_http_layers_refusal(
    api: ApiClient,
    product_id: int,
    rule: str,
    status: int,
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str] | None,
    body: str | None,
) -> None:
    exchange = api.request(
        method,
        path.replace("{id}", str(product_id)),
        params=query or None,
        headers=headers,
        content=body.encode() if body is not None else None,
    )
    assert oversized_for_http_layer(exchange), "the request is not past any HTTP-layer limit"
    expect_status(
        exchange, status, rule, f"{method} {path[:40]}... ({oversized_for_http_layer(exchange)})"
    )


# --- Where the documents do not decide: either answer, never a 500 ---------------------------


def _undecided_cases() -> list[Any]:
    big = str(2**64)
    availability = f"{LIST}/{{id}}/availability"
    cases = {
        # (rule, method, path, query, body)
        "quantity-1.0": ("quantity-bounds", "POST", availability, {}, _body(quantity="1.0")),
        "quantity-1e2": ("quantity-bounds", "POST", availability, {}, _body(quantity="1e2")),
        "quantity-2^64": ("quantity-bounds", "POST", availability, {}, _body(quantity=big)),
        "quantity-10^30": (
            "quantity-bounds",
            "POST",
            availability,
            {},
            _body(quantity="1" + "0" * 30),
        ),
        "denomination-below-min-past-double": (
            "denomination-bounds",
            "POST",
            availability,
            {},
            _body(denomination="0.00999999999999999999999"),
        ),
        "denomination-above-max-past-double": (
            "denomination-bounds",
            "POST",
            availability,
            {},
            _body(denomination="1000000000.00000000000000001"),
        ),
        "availability-extra-field": (
            "quantity-bounds",
            "POST",
            availability,
            {},
            '{"denomination": 10, "quantity": 1, "currency": "USD"}',
        ),
        "availability-duplicate-key": (
            "post-requires-json",
            "POST",
            availability,
            {},
            '{"denomination": 10, "quantity": 0, "quantity": 1}',
        ),
        "limit-space": ("limit-bounds", "GET", LIST, {"limit": " 5"}, None),
        "limit-plus": ("limit-bounds", "GET", LIST, {"limit": "+5"}, None),
        "limit-leading-zero": ("limit-bounds", "GET", LIST, {"limit": "010"}, None),
        "limit-exponent": ("limit-bounds", "GET", LIST, {"limit": "1e1"}, None),
        "limit-integral-decimal": ("limit-bounds", "GET", LIST, {"limit": "5.0"}, None),
        "limit-fullwidth-digit": ("limit-bounds", "GET", LIST, {"limit": "\uff15"}, None),
        "page-2^64": ("page-bounds", "GET", LIST, {"page": big}, None),
        "page-exponent": ("page-bounds", "GET", LIST, {"page": "1e2"}, None),
        "id-exponent": ("product-id-bounds", "GET", f"{LIST}/1e3", {}, None),
        "id-2^64": ("product-id-bounds", "GET", f"{LIST}/{big}", {}, None),
        "sort-partial": ("sort-format", "GET", LIST, {"sort": '{"field": "name"}'}, None),
        "sort-extra-key": (
            "sort-format",
            "GET",
            LIST,
            {"sort": '{"field": "id", "direction": "ASC", "nulls": "last"}'},
            None,
        ),
        "sort-field-upper-case": (
            "sort-format",
            "GET",
            LIST,
            {"sort": '{"field": "ID", "direction": "ASC"}'},
            None,
        ),
        "sort-other-field": (
            "sort-format",
            "GET",
            LIST,
            {"sort": '{"field": "category", "direction": "ASC"}'},
            None,
        ),
    }
    return [
        pytest.param(*value, marks=pytest.mark.rule(value[0]), id=key)
        for key, value in cases.items()
    ]


@pytest.mark.parametrize("rule,method,path,query,body", _undecided_cases())
def test_undecided_values_get_either_answer(
    api: ApiClient,
    product_id: int,
    rule: str,
    method: str,
    path: str,
    query: dict[str, str],
    body: str | None,
) -> None:
    path = path.replace("{id}", str(product_id))
    undecided = undecided_inputs(method, path, query, body)
    assert undecided, f"readings.py does not call {method} {path} {query} {body!r} undecided"
    assert rule in {u.rule for u in undecided}, f"{undecided} do not leave {rule} open"
    exchange = api.request(
        method,
        path,
        params=query or None,
        content=body.encode() if body is not None else None,
        headers=JSON if body is not None else None,
    )
    either_reading_answered(exchange.status, undecided)


@pytest.mark.rule("login-rejects-malformed-body")
@pytest.mark.parametrize(
    "body",
    ['{"username": "", "password": ""}', '{"username": "a@b.example", "password": "x", "otp": 1}'],
    ids=["empty-credentials", "extra-field"],
)
def test_undecided_login_bodies_get_either_answer(api: ApiClient, body: str) -> None:
    undecided = undecided_inputs("POST", LOGIN_PATH, {}, body)
    assert undecided, f"readings.py does not call login body {body!r} undecided"
    exchange = api.request("POST", LOGIN_PATH, token=None, content=body.encode(), headers=JSON)
    either_reading_answered(exchange.status, undecided)

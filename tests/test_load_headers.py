"""loadtest/headers.py: a response's headers as the rules read them, as `iterlower` gives them."""

from __future__ import annotations

import pytest
from geventhttpclient.header import Headers

from octopus_qa.loadtest.headers import lower_headers

LINES = [
    ("Content-Type", "application/json"),
    ("X-Request-Id", "2HxVt0Qwz1mBHkn2uXk0dGdk3mB"),
    ("Link", "</api/v1/products?page=3>; rel=next"),
    ("link", "</api/v1/products?page=1>; rel=prev"),
    ("X-Total-Count", "100"),
    ("Set-Cookie", "a=1"),
    ("SET-COOKIE", "b=2"),
    ("set-cookie", "c=3"),
    ("Date", "Sun, 06 Dec 2026 11:00:00 GMT"),
]


@pytest.mark.parametrize("count", [0, 1, 2, 4, len(LINES)])
def test_headers_are_keyed_by_lower_case_name_with_a_repeated_headers_last_line(count: int) -> None:
    headers = Headers()
    for name, value in LINES[:count]:
        headers.add(name, value)
    assert lower_headers(headers) == dict(headers.iterlower())
    assert list(lower_headers(headers)) == list(dict(headers.iterlower()))


def test_a_repeated_header_keeps_its_last_line() -> None:
    headers = Headers()
    for name, value in LINES:
        headers.add(name, value)
    assert lower_headers(headers)["set-cookie"] == "c=3"
    assert lower_headers(headers)["link"] == "</api/v1/products?page=1>; rel=prev"

"""Turning what an HTTP client saw into a `rules.Exchange`, so octopus_qa.rules judges it.

Two sources: httpx (the hand-written tests' client) and schemathesis (case + response). Both read
the request as it went on the wire, so the coverage phase's undeclared methods and mutated
queries are judged as sent, not as labelled.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import requests

from ..rules import Exchange, lower_headers
from ..rules.http_layer import NO_ANSWER


def _request_json(body: bytes | str | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _query(query_string: str) -> dict[str, str]:
    # Repeated keys: the last one wins, as most servers (Starlette included) read them.
    return dict(parse_qsl(query_string, keep_blank_values=True))


def from_httpx(response: httpx.Response) -> Exchange:
    request = response.request
    return Exchange(
        method=request.method,
        path=_path_on_the_wire(request),
        status=response.status_code,
        headers=lower_headers(response.headers.multi_items()),
        body=response.content,
        query=_query(request.url.query.decode("ascii", "replace")),
        request_headers=lower_headers(request.headers.multi_items()),
        request_json=_request_json(request.content),
        request_body_sent=bool(request.content),
        request_body=request.content or b"",
    )


def unanswered_httpx(request: httpx.Request) -> Exchange:
    """The exchange of an httpx request that got no answer at all (status NO_ANSWER)."""
    return from_httpx(httpx.Response(NO_ANSWER, request=request))


def _path_on_the_wire(request: httpx.Request) -> str:
    """The request line's path: a raw target (`/API/V1/PRODUCTS`, `/a//b`) where a test wrote
    one, which httpx's URL would show normalised, else the URL's path."""
    target = request.extensions.get("target")
    if isinstance(target, bytes):
        return target.decode("ascii", "replace").split("?")[0]
    return request.url.path


def from_schemathesis(response: Any) -> Exchange:
    """The exchange behind a schemathesis `Response` (its `.request` is what was sent)."""
    return _from_prepared(
        response.request,
        response.status_code,
        lower_headers(response.headers.items()),
        response.content or b"",
    )


def unanswered_requests(request: requests.PreparedRequest) -> Exchange:
    """The exchange of a requests request that got no answer at all (status NO_ANSWER)."""
    return _from_prepared(request, NO_ANSWER, {}, b"")


def _from_prepared(request: Any, status: int, headers: dict[str, str], body: bytes) -> Exchange:
    url = urlsplit(str(request.url))
    return Exchange(
        method=str(request.method).upper(),
        path=url.path,
        status=status,
        headers=headers,
        body=body,
        query=_query(url.query),
        request_headers=lower_headers(request.headers.items()),
        request_json=_request_json(request.body),
        request_body_sent=bool(request.body),
        request_body=_as_bytes(request.body),
    )


def _as_bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)

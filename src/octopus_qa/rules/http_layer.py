"""Requests too big for the HTTP layer: what a server in front of the API may refuse on its own.

An API is always served by some HTTP layer (uvicorn with h11 or httptools, aiohttp, nginx, a
gateway), and each refuses requests it will not read before any application code runs: a 400,
413, 414 or 431 in its own words (`text/plain`, no `X-Request-Id`, no envelope), or a closed
connection. The documents set no size for any part of a request, so such a refusal is nobody's
rule broken, and it is recognisable only by the request: a check cannot tell the layer's 400
from the API's by the answer.

So the one notion every exchange check consults (`@unless_refused_by_http_layer`) is: the
request is oversized by one of the limits below, and the answer is a 4xx or none at all. A
request of ordinary size is never excused, whatever came back. Each limit sits at or below the
smallest default among common servers, so what any of them refuses is covered, and far above
anything a client of this API sends (a JWT is about 300 bytes, a page URL well under 200):

- a request line over 4 KB: gunicorn `limit_request_line` 4094; aiohttp, Apache and nginx 8 KB;
- a header section over 8,000 bytes: Tomcat `maxHttpHeaderSize` 8 KB for all of them; aiohttp
  `max_field_size`, Apache `LimitRequestFieldSize` and gunicorn 8190 per line; nginx
  `large_client_header_buffers` 8 KB per line; h11 and Node 16 KB in all;
- more than 100 header fields: gunicorn `limit_request_fields` 100; aiohttp 128;
- a body over 1,000,000 bytes: nginx `client_max_body_size` 1 MB, aiohttp `client_max_size`
  1 MiB (413).

openapi/TRACEABILITY.md (§ Requests too big for the HTTP layer) lists them too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Concatenate, ParamSpec
from urllib.parse import urlencode

if TYPE_CHECKING:  # exchange.py's expect_status consults this module
    from .exchange import Exchange

REQUEST_LINE_LIMIT = 4096
HEADER_SECTION_LIMIT = 8000
HEADER_COUNT_LIMIT = 100
BODY_LIMIT = 1_000_000
#: The status of an exchange whose request got no answer at all (the connection was closed).
NO_ANSWER = 0
#: How a layer in front refuses: with a 4xx, or no answer at all; any other answer is the API's.
LAYER_ANSWERS = frozenset({NO_ANSWER, *range(400, 500)})

P = ParamSpec("P")


def _request_line_bytes(exchange: Exchange) -> int:
    """`METHOD target HTTP/1.1`, the query re-encoded (the exchange keeps it parsed)."""
    query = urlencode(dict(exchange.query)) if exchange.query else ""
    return len(exchange.method) + len(exchange.path) + len(query) + len("  ?HTTP/1.1")


def _header_section_bytes(exchange: Exchange) -> int:
    return sum(len(name) + len(value) + 4 for name, value in exchange.request_headers.items())


def oversized_for_http_layer(exchange: Exchange) -> str | None:
    """Which limit of the HTTP layer the request passed (the module's list), or None."""
    if len(exchange.request_body) > BODY_LIMIT:
        return f"a body of {len(exchange.request_body):,} bytes (> {BODY_LIMIT:,})"
    if len(exchange.request_headers) > HEADER_COUNT_LIMIT:
        return f"{len(exchange.request_headers)} header fields (> {HEADER_COUNT_LIMIT})"
    if (size := _header_section_bytes(exchange)) > HEADER_SECTION_LIMIT:
        return f"{size:,} bytes of header fields (> {HEADER_SECTION_LIMIT:,})"
    if (size := _request_line_bytes(exchange)) > REQUEST_LINE_LIMIT:
        return f"a request line of {size:,} bytes (> {REQUEST_LINE_LIMIT:,})"
    return None


def refused_by_http_layer(exchange: Exchange) -> bool:
    """Whether the answer may be the HTTP layer's refusal rather than the API's: a 4xx, or no
    answer, to an oversized request. Answers of 2xx, 3xx and 5xx are the API's, and judged."""
    if exchange.status not in LAYER_ANSWERS:
        return False  # the common case, decided without measuring the request
    return oversized_for_http_layer(exchange) is not None


def unless_refused_by_http_layer(
    check: Callable[Concatenate[Exchange, P], None],
) -> Callable[Concatenate[Exchange, P], None]:
    """A check of one exchange that leaves alone what the HTTP layer may have answered in the
    API's place (refused_by_http_layer): it cannot know which of the two spoke."""

    @functools.wraps(check)
    def judged_unless_refused(exchange: Exchange, /, *args: P.args, **kwargs: P.kwargs) -> None:
        # The API's own answers first, without a call: every response under load asks.
        if exchange.status not in LAYER_ANSWERS or not refused_by_http_layer(exchange):
            check(exchange, *args, **kwargs)

    return judged_unless_refused

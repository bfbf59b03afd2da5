"""Status codes and error bodies (E1-E4)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from urllib.parse import unquote

from ..target.retry_later import RETRY_LATER as RETRY_LATER
from .catalogue import Rule, RuleViolation, judges
from .evidence import applies
from .exchange import LOGOUT_PATH, Exchange, sends_json
from .http_layer import unless_refused_by_http_layer
from .readings import json_as_written

# --- The rules of status codes and errors (E1-E4) ---------------------------------------------

ERROR_ENVELOPE = Rule(
    "error-envelope",
    title="Every 4xx/5xx body is {error: {name, code, message}} with the documented name/code pair",
    basis="documented",
    source="products-api.txt § Error Handling",
    quote=(
        '{"error": {"name": "NotFoundError", "code": "NOT_FOUND", "message": "Product not found"}}'
    ),
    assumption=("E1",),
)
UNKNOWN_PATH_404 = Rule(
    "unknown-path-404",
    title="A path that matches no operation → 404 with the envelope",
    basis="assumed",
    source="ASSUMPTIONS.md E2",
    quote="A path that matches no operation → 404 with that envelope",
    assumption=("E2",),
    builtin_checks=("unsupported_method", "allow_header_conformance"),
)
POST_REQUIRES_JSON = Rule(
    "post-requires-json",
    title="A POST whose Content-Type is not application/json, or whose body is not JSON → 400",
    basis="documented",
    source="getting-started.txt § Request Headers (Content-Type)",
    quote="Content-Type | Yes (POST/PUT/PATCH) | Must be application/json",
    assumption=("E3",),
    bounds_input_of=("POST /api/v1/products/{id}/availability",),
)
DOCUMENTED_STATUS_CODES = Rule(
    "documented-status-codes",
    title="Only documented status codes are sent (200, 204, 400, 401, 404, 500; 429 counted apart)",
    basis="assumed",
    source="ASSUMPTIONS.md E4",
    quote="No status codes other than 200, 204 (logout), 400, 401, 404 and 500 are documented",
    assumption=("E4",),
    builtin_checks=("not_a_server_error", "status_code_conformance"),
)

# --- Status codes and errors ------------------------------------------------------------------

#: E1: the documented name/code pair for each documented error status.
ERROR_PAIRS: Mapping[int, tuple[str, str]] = {
    400: ("BadRequestError", "BAD_REQUEST"),
    401: ("UnauthorizedError", "UNAUTHORIZED"),
    404: ("NotFoundError", "NOT_FOUND"),
    500: ("InternalServerError", "INTERNAL_SERVER_ERROR"),
}
#: E4: 429 means "retry later"; it is neither a pass nor a contract failure.
DOCUMENTED_STATUSES = frozenset({200, 204, 400, 401, 404, 500, RETRY_LATER})


@judges(DOCUMENTED_STATUS_CODES)
@unless_refused_by_http_layer
def status_is_documented(exchange: Exchange) -> None:
    """Only documented status codes come back; 204 only from logout (E4)."""
    applies(DOCUMENTED_STATUS_CODES, exchange)  # every answer has a status to judge
    status = exchange.status
    if status not in DOCUMENTED_STATUSES:
        raise RuleViolation(
            DOCUMENTED_STATUS_CODES, f"{exchange.method} {exchange.path} → undocumented {status}"
        )
    if status == 204 and not LOGOUT_PATH.search(exchange.path):
        raise RuleViolation(
            DOCUMENTED_STATUS_CODES, f"{exchange.method} {exchange.path} → 204 (logout only)"
        )


@judges(ERROR_ENVELOPE)
@unless_refused_by_http_layer
def error_envelope_is_documented(exchange: Exchange) -> None:
    """Every 4xx/5xx body is {"error": {name, code, message}} with the documented pair (E1).

    A HEAD request's answer has no body at all (RFC 9110 § 9.3.2): nothing to judge."""
    status = exchange.status
    if status < 400 or exchange.method == "HEAD":
        return
    applies(ERROR_ENVELOPE, exchange)
    body = exchange.json
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not all(
        isinstance(error.get(key), str) for key in ("name", "code", "message")
    ):
        raise RuleViolation(
            ERROR_ENVELOPE, f"{status} body is not the envelope: {exchange.body[:200]!r}"
        )
    expected = ERROR_PAIRS.get(status)
    if expected and (error["name"], error["code"]) != expected:
        raise RuleViolation(
            ERROR_ENVELOPE,
            f"{status} carries name/code {error['name']}/{error['code']}, "
            f"documented {expected[0]}/{expected[1]}",
        )


@judges(POST_REQUIRES_JSON)
def post_requires_json(exchange: Exchange) -> None:
    """E3: a POST that carries a body under another Content-Type than JSON, or a body that is
    not JSON at all (NaN, Infinity, a cut or mis-encoded body), is not served."""
    if exchange.method != "POST" or not exchange.request_body_sent:
        return
    if exchange.status in (401, RETRY_LATER):
        return  # refused before its body was read: says nothing of E3
    if not sends_json(exchange):
        applies(POST_REQUIRES_JSON, exchange)
        if exchange.status >= 400:
            return
        content_type = exchange.request_headers.get("content-type", "")
        raise RuleViolation(
            POST_REQUIRES_JSON,
            f"POST {exchange.path} with Content-Type {content_type!r} answered {exchange.status}",
        )
    if exchange.request_body and not _is_json(exchange.request_body):
        applies(POST_REQUIRES_JSON, exchange)
        if exchange.status >= 400:
            return
        raise RuleViolation(
            POST_REQUIRES_JSON,
            f"POST {exchange.path} with {len(exchange.request_body)} bytes that are not JSON "
            f"answered {exchange.status}",
        )


def _is_json(raw: bytes) -> bool:
    try:
        json_as_written(raw)
    except RecursionError:
        return True  # nested past what can be read here: it may well be JSON, not judged
    except ValueError:
        return False
    return True


#: Every documented path (E2 judges the others), with the id segment as any one segment.
_OPERATION_PATHS = re.compile(
    r"/auth/(?:login|refresh|logout)|/api/v1/products(?:/[^/]+(?:/availability)?)?"
)


def _could_name_an_operation(path: str) -> bool:
    """Whether a router could take `path` for a documented one: percent-decoded, dot segments
    resolved, slashes collapsed, a trailing slash and the case of letters ignored. Each of
    those a server may or may not do (openapi/TRACEABILITY.md), so such paths are not judged."""
    if "%2f" in path.lower():
        return True  # an encoded slash: one segment to one router, two to another
    normal = posixpath.normpath(unquote(path).split(";")[0]).lower()
    return _OPERATION_PATHS.fullmatch(normal) is not None


@judges(UNKNOWN_PATH_404)
@unless_refused_by_http_layer
def unknown_path_is_404(exchange: Exchange) -> None:
    """E2: a path that matches no operation → 404 (401 first for a path under /api/, A6)."""
    status = exchange.status
    if status == RETRY_LATER or _could_name_an_operation(exchange.path):
        return
    applies(UNKNOWN_PATH_404, exchange)
    if status == 404 or (status == 401 and exchange.path.startswith("/api/")):
        return
    raise RuleViolation(
        UNKNOWN_PATH_404,
        f"{exchange.method} {exchange.path} names no operation and answered {status}, not 404",
    )

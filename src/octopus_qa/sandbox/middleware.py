"""The two layers every request passes before a route: request context, then authentication.

Both are pure ASGI (BaseHTTPMiddleware costs a task and a stream per request, too slow for the
hot path). `RequestContextMiddleware` is outermost so every response, the 401s, 404s and 500s
included, gets its X-Request-Id (H1-H3) and no exception ever reaches the client as anything but
the documented 500 envelope (E1). `BearerAuthMiddleware` checks the token of every /api/ path
before routing or validation (A6), so an unknown path under /api/ without a token is a 401 too.

`GateSeams` names what a planted fault (sandbox/faults/) may do otherwise here: which request id
a response carries, its headers, and which requests pass the token check.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..ksuids import is_ksuid, new_ksuid
from .auth import TokenAuthority, bearer_token
from .responses import ErrorBody, RawHeaders, error_body, send_error

logger = logging.getLogger("octopus_qa.sandbox")

PROTECTED_PREFIX = "/api/"
UNAUTHORIZED_MESSAGE = "Invalid or expired access token"


def header(scope: Scope, name: bytes) -> str | None:
    """One request header (name lower-case), decoded as latin-1 as HTTP allows."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


# --- The documents' answers, as seams -----------------------------------------------------------


async def request_id(sent: str | None) -> bytes | None:
    """H2: a KSUID sent is echoed; H3: otherwise the response gets a fresh one."""
    if sent is not None and is_ksuid(sent):
        return sent.encode()
    return new_ksuid().encode()


def response_headers(headers: RawHeaders, request_id: bytes | None) -> RawHeaders:
    """H1: the route's headers, and the request id."""
    if request_id is not None:
        headers.append((b"x-request-id", request_id))
    return headers


def authenticated(scope: Scope, tokens: TokenAuthority) -> Scope | None:
    """A6: the request as it goes on when its access token is valid, else None (→ 401)."""
    token = bearer_token(header(scope, b"authorization"))
    if token is not None and tokens.authenticate(token) is not None:
        return scope
    return None


@dataclass
class GateSeams:
    """Where the request context and the token check can be planted otherwise."""

    request_id: Callable[[str | None], Awaitable[bytes | None]] = request_id
    response_headers: Callable[[RawHeaders, bytes | None], RawHeaders] = response_headers
    admit: Callable[[Scope, TokenAuthority], Scope | None] = authenticated


# --- The layers ---------------------------------------------------------------------------------


class RequestContextMiddleware:
    """X-Request-Id on every response, uncaught errors as the 500 envelope, and the load-test
    knobs: `--latency-ms` (sleep before answering) and `--error-rate` (a seeded share of /api/
    requests answered 500)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        seams: GateSeams | None = None,
        error_body: ErrorBody = error_body,
        latency_ms: float = 0,
        error_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.app = app
        seams = seams or GateSeams()
        self._request_id = seams.request_id
        self._response_headers = seams.response_headers
        self._error_body = error_body
        self._latency = latency_ms / 1000
        self._error_rate = error_rate
        self._random = random.Random(seed).random

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = await self._request_id(header(scope, b"x-request-id"))
        started = False

        async def send_with_context(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = self._response_headers(list(message.get("headers", ())), request_id)
                message = {**message, "headers": headers}
            await send(message)

        try:
            if self._latency:
                await asyncio.sleep(self._latency)
            if self._error_rate and self._simulated_failure(scope):
                message = "Simulated failure (--error-rate)"
                await send_error(send_with_context, 500, message, self._error_body)
                return
            await self.app(scope, receive, send_with_context)
        except ClientDisconnect:
            return  # nobody is left to answer
        except Exception:
            if started:
                raise  # too late for an envelope: let the server close the connection
            logger.exception("unhandled error in %s %s", scope["method"], scope["path"])
            message = "Internal server error"
            await send_error(send_with_context, 500, message, self._error_body)

    def _simulated_failure(self, scope: Scope) -> bool:
        return scope["path"].startswith(PROTECTED_PREFIX) and self._random() < self._error_rate


class BearerAuthMiddleware:
    """A6: a protected path without a valid access token → 401, before anything else."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: TokenAuthority,
        seams: GateSeams | None = None,
        error_body: ErrorBody = error_body,
    ) -> None:
        self.app = app
        self._tokens = tokens
        self._admit = (seams or GateSeams()).admit
        self._error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIX):
            await self.app(scope, receive, send)
            return
        admitted = self._admit(scope, self._tokens)
        if admitted is None:
            await send_error(send, 401, UNAUTHORIZED_MESSAGE, self._error_body)
            return
        await self.app(admitted, receive, send)

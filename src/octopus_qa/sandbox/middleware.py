"""The two layers every request passes before a route: request context, then authentication.

Both are pure ASGI (BaseHTTPMiddleware costs a task and a stream per request, too slow for the
hot path). `RequestContextMiddleware` is outermost so every response, the 401s, 404s and 500s
included, gets its X-Request-Id (H1-H3) and no exception ever reaches the client as anything but
the documented 500 envelope (E1). `BearerAuthMiddleware` checks the token of every /api/ path
before routing or validation (A6), so an unknown path under /api/ without a token is a 401 too.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Iterable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..ksuids import is_ksuid, new_ksuid
from .auth import TokenAuthority, bearer_token
from .responses import send_error

logger = logging.getLogger("octopus_qa.sandbox")

PROTECTED_PREFIX = "/api/"
#: Scope key set by the validation-before-auth fault: the 401 a handler must raise after
#: validating (A6 says it should have come first).
DEFERRED_401 = "octoqa.deferred_401"
UNAUTHORIZED_MESSAGE = "Invalid or expired access token"


def header(scope: Scope, name: bytes) -> str | None:
    """One request header (name lower-case), decoded as latin-1 as HTTP allows."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """X-Request-Id on every response, uncaught errors as the 500 envelope, and the load-test
    knobs: `--latency-ms` (sleep before answering) and `--error-rate` (a seeded share of /api/
    requests answered 500)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        faults: frozenset[str],
        latency_ms: float = 0,
        error_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.app = app
        self._faults = faults
        self._flat_errors = "error-envelope-flat" in faults
        self._text_plain = "content-type-text-plain" in faults
        self._latency = latency_ms / 1000
        self._error_rate = error_rate
        self._random = random.Random(seed).random
        # The faults that hide in a share of responses or under concurrency (faults.py).
        self._drop_some = "request-id-sometimes-missing" in faults
        self._drop_random = random.Random(seed + 1).random
        self._repeat_some = "request-id-sometimes-repeated" in faults
        self._generated = 0
        self._last_generated: bytes | None = None
        self._shared_buffer = "request-id-shared-buffer" in faults
        self._current_id: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._request_id(header(scope, b"x-request-id"))
        if self._drop_some and self._drop_random() < 0.03:
            request_id = None
        started = False

        async def send_with_context(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                shown = self._current_id if self._shared_buffer else request_id
                message = {**message, "headers": self._response_headers(message, shown)}
            await send(message)

        try:
            if self._shared_buffer:
                # The planted race: one attribute for every request in flight, and an await
                # (standing for an audit-log write) before the response reads it back.
                self._current_id = request_id
                await asyncio.sleep(0.002)
            if self._latency:
                await asyncio.sleep(self._latency)
            if self._error_rate and self._simulated_failure(scope):
                await send_error(
                    send_with_context,
                    500,
                    "Simulated failure (--error-rate)",
                    flat=self._flat_errors,
                )
                return
            await self.app(scope, receive, send_with_context)
        except ClientDisconnect:
            return  # nobody is left to answer
        except Exception:
            if started:
                raise  # too late for an envelope: let the server close the connection
            logger.exception("unhandled error in %s %s", scope["method"], scope["path"])
            await send_error(
                send_with_context, 500, "Internal server error", flat=self._flat_errors
            )

    def _simulated_failure(self, scope: Scope) -> bool:
        return scope["path"].startswith(PROTECTED_PREFIX) and self._random() < self._error_rate

    def _request_id(self, sent: str | None) -> bytes | None:
        """H2: echo a KSUID; H3: otherwise a fresh one. (The faults' hooks are here too.)"""
        faults = self._faults
        if faults:
            if "request-id-missing" in faults:
                return None
            if sent is not None and "request-id-invalid-echoed" in faults:
                return sent.encode("latin-1")
            if "request-id-not-echoed" in faults:
                sent = None
            if "request-id-not-ksuid" in faults and (sent is None or not is_ksuid(sent)):
                return str(uuid.uuid4()).encode()
        if sent is not None and is_ksuid(sent):
            return sent.encode()
        if self._repeat_some:
            self._generated += 1
            if self._generated % 25 == 0 and self._last_generated is not None:
                return self._last_generated
            self._last_generated = new_ksuid().encode()
            return self._last_generated
        return new_ksuid().encode()

    def _response_headers(
        self, message: Message, request_id: bytes | None
    ) -> Iterable[tuple[bytes, bytes]]:
        headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
        if request_id is not None:
            headers.append((b"x-request-id", request_id))
        if self._text_plain:
            headers = [
                (name, b"text/plain; charset=utf-8" if name == b"content-type" else value)
                for name, value in headers
            ]
        return headers


class BearerAuthMiddleware:
    """A6: a protected path without a valid access token → 401, before anything else."""

    def __init__(self, app: ASGIApp, *, tokens: TokenAuthority, faults: frozenset[str]) -> None:
        self.app = app
        self._tokens = tokens
        self._faults = faults
        self._flat_errors = "error-envelope-flat" in faults
        self._trailing_slash_skips = "trailing-slash-skips-auth" in faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIX):
            await self.app(scope, receive, send)
            return
        if self._trailing_slash_skips and scope["path"].endswith("/"):
            # Planted bug: the router forgives a trailing slash, the auth check does not see it.
            await self.app({**scope, "path": scope["path"].rstrip("/")}, receive, send)
            return
        token = bearer_token(header(scope, b"authorization"))
        if token is not None and self._tokens.authenticate(token) is not None:
            await self.app(scope, receive, send)
            return
        if self._faults:
            # Planted bugs: no token at all is served; or the 401 waits until after validation.
            if token is None and "auth-not-enforced" in self._faults:
                await self.app(scope, receive, send)
                return
            if "validation-before-auth" in self._faults:
                scope[DEFERRED_401] = UNAUTHORIZED_MESSAGE
                await self.app(scope, receive, send)
                return
        await send_error(send, 401, UNAUTHORIZED_MESSAGE, flat=self._flat_errors)

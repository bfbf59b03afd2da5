"""Chaos switches: the sandbox misbehaving the way a real deployment does, after a while.

The fault catalogue (faults/) breaks one documented rule each, from the first request. Chaos is
the other kind of trouble a QA run meets in the field: the target dies, hangs, slows down, a
gateway answers HTML 502 pages, bodies arrive cut short, a rate limiter answers 429, an admin
revokes every token. None of these is a contract bug of the API; each must leave the suite with
the right verdict (exit 2 "could not judge", a named contract failure, or a retry), never a
hang, a traceback or 70 failed rules. docs/reliability.md lists each switch with what the suite
does about it.

`octoqa sandbox --chaos SPEC` (repeatable), SPEC a comma-separated list of `key=value`:

    die-after=150            the process is killed (SIGKILL) at the 151st request
    reset-after=150          from then on: headers and half the body, then the connection closes
    hang-after=20s           from then on: requests are read and never answered
    html-502-after=150       from then on: a gateway's HTML 502 page
    truncate-after=150       from then on: 200 and the first half of the JSON body (a complete
                             HTTP message, its JSON cut short)
    empty-after=150          from then on: 200 with an empty body
    revoke-after=150         once: every token issued so far is revoked, as by an admin
    refuse-tokens-after=150  from then on: every access token is refused (401), fresh ones too
    slow-ms=300              every answer is delayed this long (from `slow-after`, default 0)
    rate-limit=0.05          this share of requests is answered 429 (from `rate-limit-after`),
    retry-after=1            with `Retry-After: 1` (seconds) or `retry-after=date:1`, the same
                             wait as an HTTP-date

A trigger is a request count (`150`: after the first 150 requests) or seconds since the sandbox
started (`20s`). It is a middleware of its own, outermost, so the rest of the sandbox, and its
rule faults, are unchanged by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import os
import random
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

import jwt
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .middleware import header, request_id
from .responses import send_error

GATEWAY_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    b"</h1></center><hr><center>nginx</center></body></html>\n"
)


@dataclass(frozen=True)
class Trigger:
    """After `count` requests, or `seconds` after the sandbox started."""

    count: int | None = None
    seconds: float | None = None

    @classmethod
    def parse(cls, text: str, key: str) -> Trigger:
        text = text.strip()
        try:
            if text.endswith("s"):
                seconds = float(text[:-1])
                if seconds >= 0:
                    return cls(seconds=seconds)
            else:
                count = int(text)
                if count >= 0:
                    return cls(count=count)
        except ValueError:
            pass
        raise ValueError(f"{key} takes a request count (150) or seconds (20s), got {text!r}")

    def reached(self, served: int, elapsed: float) -> bool:
        if self.count is not None:
            return served >= self.count
        return self.seconds is not None and elapsed >= self.seconds

    def __str__(self) -> str:
        return f"{self.count}" if self.count is not None else f"{self.seconds:g}s"


#: The switches that start misbehaving at a trigger, with what `--list-faults` says of each.
TRIGGERED = {
    "die-after": "the process is killed (SIGKILL) once the trigger is reached",
    "reset-after": "headers and half the body are sent, then the connection is closed",
    "hang-after": "requests are read and never answered",
    "html-502-after": "a gateway's HTML 502 page instead of the answer",
    "truncate-after": "200 with the first half of the JSON body (complete HTTP, cut JSON)",
    "empty-after": "200 with an empty body",
    "revoke-after": "once: every token issued so far is revoked (an admin's revocation)",
    "refuse-tokens-after": "every access token is refused with 401, freshly issued ones too",
    "slow-after": "from here on, answers are delayed by slow-ms",
    "rate-limit-after": "from here on, the rate-limit share is answered 429",
}
VALUED = {
    "slow-ms": "delay every answer by this many milliseconds (from slow-after, default 0)",
    "rate-limit": "share of requests answered 429 (0..1; from rate-limit-after, default 0)",
    "retry-after": "the 429's Retry-After: seconds (1) or the same wait as an HTTP-date (date:1)",
}


@dataclass(frozen=True)
class Chaos:
    """The parsed `--chaos` switches; all off by default."""

    die_after: Trigger | None = None
    reset_after: Trigger | None = None
    hang_after: Trigger | None = None
    html_502_after: Trigger | None = None
    truncate_after: Trigger | None = None
    empty_after: Trigger | None = None
    revoke_after: Trigger | None = None
    refuse_tokens_after: Trigger | None = None
    slow_after: Trigger = field(default_factory=lambda: Trigger(count=0))
    rate_limit_after: Trigger = field(default_factory=lambda: Trigger(count=0))
    slow_ms: float = 0.0
    rate_limit: float = 0.0
    retry_after_s: float = 1.0
    retry_after_date: bool = False

    @classmethod
    def parse(cls, specs: Iterable[str]) -> Chaos:
        """`--chaos` values, merged; a malformed one is a ValueError naming the key."""
        chaos = cls()
        for spec in specs:
            for item in filter(None, (part.strip() for part in spec.split(","))):
                key, sep, value = item.partition("=")
                key = key.strip()
                if not sep:
                    raise ValueError(f"chaos {item!r} is not key=value (octoqa sandbox --help)")
                chaos = replace(chaos, **cls._setting(key, value.strip()))
        return chaos

    @staticmethod
    def _setting(key: str, value: str) -> dict[str, Any]:
        attribute = key.replace("-", "_")
        if key in TRIGGERED:
            return {attribute: Trigger.parse(value, key)}
        if key == "slow-ms":
            return {"slow_ms": _number(value, key, 0, 600_000)}
        if key == "rate-limit":
            return {"rate_limit": _number(value, key, 0, 1)}
        if key == "retry-after":
            date = value.startswith("date:")
            return {
                "retry_after_s": _number(value.removeprefix("date:"), key, 0, 3600),
                "retry_after_date": date,
            }
        known = ", ".join([*TRIGGERED, *VALUED])
        raise ValueError(f"unknown chaos switch {key!r} (known: {known})")

    @property
    def active(self) -> bool:
        return self != Chaos()

    def describe(self) -> str:
        """The switches that are on, as they would be typed."""
        parts = []
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value != getattr(Chaos(), spec.name):
                parts.append(f"{spec.name.replace('_', '-')}={value}")
        return ", ".join(parts) or "none"


def _number(text: str, key: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise ValueError(f"chaos {key} must be a number from {low:g} to {high:g}, got {text!r}")
    return value


def kill_this_process() -> None:
    """What a pod killed by its orchestrator looks like from outside: gone, no goodbye."""
    os.kill(os.getpid(), signal.SIGKILL)


class ChaosMiddleware:
    """Outermost layer: counts requests and, past each trigger, misbehaves as configured."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        chaos: Chaos,
        seed: int = 0,
        die: Callable[[], None] = kill_this_process,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self._chaos = chaos
        self._random = random.Random(seed).random
        self._die = die
        self._clock = clock
        self._started = clock()
        self._served = 0
        #: revoke-after refuses every access token issued before it: those whose `iat` (whole
        #: seconds) is before this epoch second, and those of its own second it saw issued
        #: before it. One issued after it, in the same second, works: a client that logs in
        #: again right away is not refused.
        self._revoked_before: int | None = None
        self._revoked_in_its_second: frozenset[str] = frozenset()
        #: Until the revocation: the access tokens issued in the latest second (by `iat`), all
        #: that must be remembered to tell them from the ones issued after it.
        self._issued_latest: tuple[int, set[str]] = (0, set())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._chaos.active:
            await self.app(scope, receive, send)
            return
        self._served += 1
        chaos, served, elapsed = self._chaos, self._served - 1, self._clock() - self._started

        def on(trigger: Trigger | None) -> bool:
            return trigger is not None and trigger.reached(served, elapsed)

        if on(chaos.die_after):
            self._die()
            await _hang(receive)  # if dying did not end us (a test's stand-in): never answer
            return
        if on(chaos.hang_after):
            await _hang(receive)
            return
        if chaos.slow_ms and on(chaos.slow_after):
            await asyncio.sleep(chaos.slow_ms / 1000)
        if chaos.rate_limit and on(chaos.rate_limit_after) and self._random() < chaos.rate_limit:
            await self._too_many_requests(send)
            return
        if on(chaos.html_502_after):
            await _send_whole(send, 502, b"text/html", GATEWAY_PAGE)
            return
        if on(chaos.revoke_after) and self._revoked_before is None:
            self._revoke_issued_so_far()
        if chaos.revoke_after is not None and self._revoked_before is None:
            send = self._noting_issued(scope, send)
        if self._token_refused(scope, on(chaos.refuse_tokens_after)):
            await send_error(_with_request_id(scope, send), 401, "Invalid or expired access token")
            return
        if on(chaos.reset_after):
            await self.app(scope, receive, _cutting(send, reset=True))
            return
        if on(chaos.truncate_after):
            await self.app(scope, receive, _cutting(send, reset=False))
            return
        if on(chaos.empty_after):
            await self.app(scope, receive, _emptying(send))
            return
        await self.app(scope, receive, send)

    def _token_refused(self, scope: Scope, refuse_all: bool) -> bool:
        if not scope["path"].startswith("/api/"):
            return False
        if refuse_all:
            return True
        if self._revoked_before is None:
            return False
        token = _bearer(scope)
        if token is None:
            return False  # the sandbox's own 401 follows
        try:
            issued = float(jwt.decode(token, options={"verify_signature": False})["iat"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            return False
        return issued < self._revoked_before or token in self._revoked_in_its_second

    def _revoke_issued_so_far(self) -> None:
        now = int(time.time())
        second, issued = self._issued_latest
        self._revoked_before = now
        self._revoked_in_its_second = frozenset(issued if second == now else ())
        self._issued_latest = (0, set())

    def _noting_issued(self, scope: Scope, send: Send) -> Send:
        """`send`, noting the access token a login or refresh hands out (for revoke-after)."""
        if scope["method"] != "POST" or not scope["path"].startswith(
            ("/auth/login", "/auth/refresh")
        ):
            return send
        chunks: list[bytes] = []

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._note_issued(b"".join(chunks))
            await send(message)

        return noting

    def _note_issued(self, body: bytes) -> None:
        if self._revoked_before is not None:
            return
        try:
            token = json.loads(body)["access_token"]
            issued = int(jwt.decode(token, options={"verify_signature": False})["iat"])
        except (ValueError, KeyError, TypeError, jwt.PyJWTError):
            return  # not a login's answer (a 401, a planted fault's body): nothing issued
        second, tokens = self._issued_latest
        if issued > second:
            self._issued_latest = (issued, {token})
        elif issued == second:
            tokens.add(token)

    async def _too_many_requests(self, send: Send) -> None:
        wait = self._chaos.retry_after_s
        if self._chaos.retry_after_date:
            # An HTTP-date has whole seconds: round up so the client never waits less.
            value = email.utils.formatdate(time.time() + wait + 1, usegmt=True)
        else:
            value = f"{wait:g}"
        body = (
            b'{"error":{"name":"TooManyRequestsError","code":"TOO_MANY_REQUESTS",'
            b'"message":"Rate limit exceeded; retry later"}}'
        )
        await _send_whole(send, 429, b"application/json", body, [(b"retry-after", value.encode())])


async def _hang(receive: Receive, limit_s: float = 3600.0) -> None:
    """Read the request and never answer, until the client gives up and disconnects (so a
    sandbox that hangs still stops promptly when asked to)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit_s):
            while (await receive())["type"] != "http.disconnect":
                pass


def _with_request_id(scope: Scope, send: Send) -> Send:
    """`send`, adding the X-Request-Id the API gives every answer (H1-H3): a revoked or refused
    token is answered by the API itself, and that is no contract bug, so neither is its 401."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            sent = await request_id(header(scope, b"x-request-id"))
            extra = [(b"x-request-id", sent)] if sent is not None else []
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return sending


def _bearer(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"authorization":
            text = value.decode("latin-1")
            return text[7:].strip() if text.startswith("Bearer ") else None
    return None


async def _send_whole(
    send: Send,
    status: int,
    content_type: bytes,
    body: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


class ConnectionCut(Exception):
    """Raised after a partial body: uvicorn then closes the connection mid-response."""


def _cutting(send: Send, *, reset: bool) -> Send:
    """Collect the answer, then send half its body: with the full Content-Length and a closed
    connection (`reset`), or as a complete message whose JSON is cut short."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def cut(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        half = body[: len(body) // 2]
        headers = [(k, v) for k, v in start.get("headers", ()) if k != b"content-length"]
        length = len(body) if reset else len(half)
        headers.append((b"content-length", b"%d" % length))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": half, "more_body": reset})
        if reset:
            raise ConnectionCut("chaos reset-after: connection closed mid-response")

    return cut


def _emptying(send: Send) -> Send:
    async def empty(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", ()) if k != b"content-length"]
            await send({**message, "headers": [*headers, (b"content-length", b"0")]})
        elif message["type"] == "http.response.body":
            if not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b""})
        else:
            await send(message)

    return empty

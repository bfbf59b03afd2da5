"""Logging in to a target as a client, with the errors a user can act on.

Used by the contract suite (one login per run, renewed before `exp`) and by the load suite's
preflight. A4: the client reads `exp` from the access token without verifying its signature.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from ..errors import LoginFailed, TargetMisbehaving, TargetUnreachable
from .credentials import Credentials
from .retry_later import RetryLaterPolicy

LOGIN_PATH = "/auth/login"
REFRESH_PATH = "/auth/refresh"
LOGOUT_PATH = "/auth/logout"
#: Renew a token this many seconds before its `exp`, so no request races the expiry (or a third
#: of its lifetime when it lives shorter: a 3 s token is renewed every 2 s, not on every request).
RENEW_MARGIN = 5.0
DEFAULT_RETRY_LATER = RetryLaterPolicy()


@dataclass(frozen=True)
class Tokens:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float  # epoch seconds, from the access token's `exp`
    renew_at: float  # when to renew it (`renewal_time`)

    @classmethod
    def from_login_body(cls, body: Any) -> Tokens:
        access = body["access_token"]
        expires_at = token_expiry(access)
        return cls(access, body["refresh_token"], expires_at, renewal_time(expires_at))

    def fresh(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) < self.renew_at

    def secrets(self) -> tuple[str, str]:
        return (self.access_token, self.refresh_token)


def renewal_time(expires_at: float, now: float | None = None) -> float:
    """When a token expiring at `expires_at` should be renewed (RENEW_MARGIN before, at most)."""
    lifetime = max(expires_at - (time.time() if now is None else now), 0.0)
    return expires_at - min(RENEW_MARGIN, lifetime / 3)


def token_expiry(access_token: str) -> float:
    """The `exp` claim of a JWT, read without verifying it (A4)."""
    claims = jwt.decode(access_token, options={"verify_signature": False})
    return float(claims["exp"])


def login(
    base_url: str,
    credentials: Credentials,
    timeout: float = 10.0,
    retry_later: RetryLaterPolicy = DEFAULT_RETRY_LATER,
) -> Tokens:
    """Log in once; every way this can go wrong becomes one OctoqaError with a clear line.
    A 429 is waited for and retried by the one policy (retry_later.py)."""
    url = base_url + LOGIN_PATH
    try:
        response = retry_later.call(
            lambda: httpx.post(url, json=credentials.as_login_body(), timeout=timeout),
            lambda r: r.status_code,
            lambda r: r.headers.get("retry-after"),
        )
    except httpx.TimeoutException:
        raise TargetUnreachable(f"{base_url} did not answer within {timeout:g} s") from None
    except httpx.TransportError as exc:
        raise TargetUnreachable(f"cannot reach {base_url}: {type(exc).__name__}") from None
    if response.status_code == 401:
        raise LoginFailed(
            # Neither half of the account is printed: output and reports travel.
            f"{base_url} refused the configured credentials "
            "(set OCTOPUS_USERNAME / OCTOPUS_PASSWORD)"
        )
    try:
        body = response.json()
        tokens = Tokens.from_login_body(body)
    except (ValueError, KeyError, TypeError, jwt.PyJWTError):
        kind = response.headers.get("content-type", "no content type")
        raise TargetMisbehaving(
            f"{base_url} does not look like the Octopus Cards API: POST {LOGIN_PATH} answered "
            f"{response.status_code} with {kind}, not a login token"
        ) from None
    if response.status_code != 200:
        raise TargetMisbehaving(f"POST {LOGIN_PATH} answered {response.status_code}")
    return tokens

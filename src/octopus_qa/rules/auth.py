"""Authentication: login, tokens, refresh, logout and protected operations (A1-A6)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .catalogue import RuleViolation
from .exchange import Exchange

# --- Authentication ---------------------------------------------------------------------------

#: A1: what a login (and a refresh, A2) body holds.
TOKEN_FIELDS = ("access_token", "refresh_token", "token_type", "expires_in", "expires_at")
PROTECTED_PREFIX = "/api/"
_TOKEN_PATHS = re.compile(r"/auth/(?:refresh|logout)/?$")
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def auth_is_required(exchange: Exchange) -> None:
    """A request to a protected operation without an Authorization header is not served (A6):
    anything below 400 breaks auth-required (a 4xx is judged by the checks of its status)."""
    protected = exchange.path.startswith(PROTECTED_PREFIX) or _TOKEN_PATHS.search(exchange.path)
    if protected and "authorization" not in exchange.request_headers and exchange.status < 400:
        raise RuleViolation(
            "auth-required",
            f"{exchange.method} {exchange.path} without a token answered {exchange.status}",
        )


def token_body_is_complete(exchange: Exchange, rule_id: str = "login-issues-tokens") -> None:
    """A 200 from login or refresh carries the A1 fields, typed (`rule_id`: the login's or the
    refresh's rule)."""
    body = exchange.json
    if exchange.status != 200 or not isinstance(body, dict):
        raise RuleViolation(rule_id, f"answered {exchange.status} {exchange.body[:120]!r}")
    missing = [name for name in TOKEN_FIELDS if name not in body]
    if missing:
        raise RuleViolation(rule_id, f"the token body lacks {', '.join(missing)}")
    problems = []
    if body["token_type"] != "Bearer":
        problems.append(f"token_type is {body['token_type']!r}")
    expires_in = body["expires_in"]
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in < 0:
        problems.append(f"expires_in is {expires_in!r}")
    if not isinstance(body["refresh_token"], str) or not body["refresh_token"]:
        problems.append("refresh_token is empty")
    if not isinstance(body["access_token"], str) or not _JWT_SHAPE.fullmatch(body["access_token"]):
        problems.append("access_token is not three base64url segments")
    if problems:
        raise RuleViolation(rule_id, "; ".join(problems))


def access_token_exp_matches(
    claims: Mapping[str, Any], body: Mapping[str, Any], issued_at: float
) -> None:
    """A4: the JWT's `exp` equals `expires_at` and is about `issued_at` + `expires_in`."""
    try:
        exp = float(claims["exp"])
        expires_at = datetime.fromisoformat(str(body["expires_at"])).timestamp()
    except (KeyError, TypeError, ValueError) as error:
        raise RuleViolation(
            "access-token-is-jwt", f"no comparable exp / expires_at: {error}"
        ) from None
    if abs(exp - expires_at) > 1:
        raise RuleViolation("access-token-is-jwt", f"exp {exp} vs expires_at {body['expires_at']}")
    if abs(exp - (issued_at + float(body["expires_in"]))) > 5:
        raise RuleViolation(
            "access-token-is-jwt",
            f"exp {exp} is not about now + expires_in ({body['expires_in']} s)",
        )

"""The sandbox's tokens: login, refresh, logout and verification (ASSUMPTIONS A1-A4, A6).

Access tokens are HS256 JWTs signed with a key drawn per app, so no two sandboxes accept each
other's tokens and nothing outside may depend on the key (A4). Each login opens a session: its
refresh token is opaque and single-use (A2), and logout revokes the whole session, so the access
token used and the session's refresh token both stop working (A3).

Verification is on the hot path of every API request, so a successful signature check is cached
per token; expiry and revocation are still checked on every request.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt

from ..target.credentials import Credentials

ALGORITHM = "HS256"
ACCESS = "access"


@dataclass(frozen=True)
class IssuedTokens:
    """What a login or a refresh hands out (the A1 body is built from it)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    #: The access token's `exp` claim, whole epoch seconds.
    expires: int
    issued: float

    @property
    def expires_in(self) -> int:
        return max(0, round(self.expires - self.issued))

    @property
    def expires_at(self) -> str:
        """RFC 3339, UTC (getting-started.txt § Date Format)."""
        return datetime.fromtimestamp(self.expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Session:
    """One login: its current refresh token and the access token issued last."""

    id: str
    username: str
    refresh_token: str
    refresh_expires: float
    access_token: str
    access_expires: int
    #: Whether a refresh has rotated its tokens (the logout-after-refresh-keeps-refresh fault).
    refreshed: bool = False


def _utf8(text: str) -> bytes:
    # JSON may carry lone surrogates ("\ud800"); they must compare, not crash.
    return text.encode("utf-8", "surrogatepass")


class TokenAuthority:
    """Issues, verifies and revokes one app's tokens. All state lives on the instance."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        access_ttl: float,
        refresh_ttl: float,
        cache_entries: int,
        max_sessions: int,
        faults: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._username = _utf8(credentials.username)
        self._password = _utf8(credentials.password)
        self._key = secrets.token_bytes(32)
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl
        self._cache_entries = cache_entries
        self._max_sessions = max_sessions
        self._faults = faults
        # Planted bug: exp is not checked.
        self._check_expiry = "expired-token-accepted" not in faults
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._by_refresh: dict[str, str] = {}  # refresh token → session id
        #: Revoked session id → when its last access token expires; kept only until then (a
        #: revocation outliving every token it covers protects nothing), so a long run of logouts
        #: holds at most `access_ttl` seconds' worth of them. Insertion order is expiry order
        #: closely enough for pruning from the front.
        self._revoked: dict[str, float] = {}
        self._verified: dict[str, dict[str, Any]] = {}  # access token → its claims

    # --- Login --------------------------------------------------------------------------------

    def credentials_match(self, username: str, password: str) -> bool:
        """Constant-time comparison of both fields, so timing tells nothing about either."""
        user_ok = hmac.compare_digest(_utf8(username), self._username)
        password_ok = hmac.compare_digest(_utf8(password), self._password)
        if "password-prefix-accepted" in self._faults:
            # Planted bug: compared over the stored password's length only (strncmp-style).
            sent = _utf8(password)[: len(self._password)]
            password_ok = hmac.compare_digest(sent, self._password)
        if "any-password-accepted" in self._faults:
            return user_ok
        return user_ok and password_ok

    def login(self, username: str) -> IssuedTokens:
        session_id = secrets.token_hex(12)
        now = self._clock()
        access, expires = self._access_token(username, session_id, now)
        refresh = secrets.token_urlsafe(32)
        self._forget_oldest_sessions()
        self._sessions[session_id] = _Session(
            session_id, username, refresh, now + self._refresh_ttl, access, expires
        )
        self._by_refresh[refresh] = session_id
        return IssuedTokens(access, refresh, expires, now)

    def _forget_oldest_sessions(self) -> None:
        """Keep memory bounded under endless logins: the oldest sessions lose their refresh
        token (their access tokens still verify until they expire)."""
        while len(self._sessions) >= self._max_sessions:
            oldest = next(iter(self._sessions))
            self._by_refresh.pop(self._sessions.pop(oldest).refresh_token, None)

    def _access_token(self, username: str, session_id: str, now: float) -> tuple[str, int]:
        # Whole seconds, rounded: the token lives token_ttl ± 0.5 s and exp equals expires_at.
        expires = round(now + self._access_ttl)
        claims = {
            "sub": username,
            "sid": session_id,
            "jti": secrets.token_hex(12),
            "typ": ACCESS,
            "iat": int(now),
            "exp": expires,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), expires

    # --- Refresh ------------------------------------------------------------------------------

    def can_refresh(self, token: str) -> bool:
        """Whether `refresh(token)` would succeed, without using the token up."""
        return self._session_for_refresh(token, self._clock()) is not None

    def refresh(self, token: str) -> IssuedTokens | None:
        """New tokens for a live refresh token, which is used up (A2); None → 401."""
        now = self._clock()
        session = self._session_for_refresh(token, now)
        if session is None:
            return None
        return self._renew(session, token, now)

    def refresh_without_recheck(self, token: str) -> Callable[[], IssuedTokens] | None:
        """The refresh-race-double-spend fault: check now, spend later (after the caller's
        await), without checking again; two refreshes that interleave both succeed."""
        session = self._session_for_refresh(token, self._clock())
        if session is None:
            return None
        return lambda: self._renew(session, token, self._clock())

    def _renew(self, session: _Session, token: str, now: float) -> IssuedTokens:
        # Planted bug: the used refresh token stays valid beside the new one.
        if "refresh-token-reusable" not in self._faults:
            self._by_refresh.pop(token, None)
        session.refresh_token = secrets.token_urlsafe(32)
        session.refreshed = True
        session.refresh_expires = now + self._refresh_ttl
        self._by_refresh[session.refresh_token] = session.id
        if "refresh-returns-same-tokens" not in self._faults:
            session.access_token, session.access_expires = self._access_token(
                session.username, session.id, now
            )
        return IssuedTokens(
            session.access_token, session.refresh_token, session.access_expires, now
        )

    def _session_for_refresh(self, token: str, now: float) -> _Session | None:
        session_id = self._by_refresh.get(token)
        if session_id is None and "refresh-accepts-access-token" in self._faults:
            claims = self.authenticate(token)
            session_id = claims["sid"] if claims else None
        session = self._sessions.get(session_id) if session_id else None
        if session is None or (session.id in self._revoked and not self._keeps_refresh(session)):
            return None
        if token == session.refresh_token and session.refresh_expires <= now:
            self._by_refresh.pop(token, None)
            return None
        return session

    # --- Verification and logout --------------------------------------------------------------

    def authenticate(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired, unrevoked access token; None → 401."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify_signature(token)
            if claims is None:
                return None
            if len(self._verified) >= self._cache_entries:
                self._verified.clear()
            self._verified[token] = claims
        if self._check_expiry and claims["exp"] <= self._clock():
            return None
        if claims["sid"] in self._revoked:
            return None
        return claims

    def _verify_signature(self, token: str) -> dict[str, Any] | None:
        if "alg-none-accepted" in self._faults and _unsigned(token):
            # Planted bug: a token whose header says alg "none" is read without verification.
            try:
                unverified: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
            except jwt.PyJWTError:
                return None
            return unverified if unverified.get("typ") == ACCESS and "sid" in unverified else None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "sid", "typ"], "verify_exp": self._check_expiry},
            )
        except jwt.PyJWTError:
            return None
        if claims.get("typ") != ACCESS or not isinstance(claims.get("exp"), int):
            return None
        return claims

    def logout(self, claims: dict[str, Any]) -> None:
        """Revoke the session of these (valid) claims: its access and refresh tokens (A3)."""
        if "logout-does-not-revoke" in self._faults:
            return
        session_id = claims["sid"]
        session = self._sessions.get(session_id)
        if session is not None and self._keeps_refresh(session):
            self._revoked[session_id] = float(claims["exp"])  # its access tokens only
            return
        session = self._sessions.pop(session_id, None)
        until = float(claims["exp"])
        if session is not None:
            self._by_refresh.pop(session.refresh_token, None)
            until = max(until, float(session.access_expires))
        self._forget_expired_revocations()
        self._revoked[session_id] = until

    def _keeps_refresh(self, session: _Session) -> bool:
        """Planted bug: logout revokes a refreshed session's access tokens but forgets its
        current refresh token, which still refreshes (only after login → refresh → logout)."""
        return session.refreshed and "logout-after-refresh-keeps-refresh" in self._faults

    def _forget_expired_revocations(self) -> None:
        now = self._clock()
        while self._revoked:
            oldest = next(iter(self._revoked))
            if self._revoked[oldest] > now:
                break
            del self._revoked[oldest]

    def store_sizes(self) -> dict[str, int]:
        """How much each store holds (the soak reports them; they must stay bounded)."""
        return {
            "sessions": len(self._sessions),
            "refresh_tokens": len(self._by_refresh),
            "revoked_sessions": len(self._revoked),
            "verified_cache": len(self._verified),
        }


def _unsigned(token: str) -> bool:
    try:
        return str(jwt.get_unverified_header(token).get("alg", "")).lower() == "none"
    except jwt.PyJWTError:
        return False


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token

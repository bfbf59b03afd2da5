"""The sandbox's tokens: login, refresh, logout and verification (ASSUMPTIONS A1-A4, A6).

Access tokens are HS256 JWTs signed with a key drawn per app, so no two sandboxes accept each
other's tokens and nothing outside may depend on the key (A4). Each login opens a session: its
refresh token is opaque and single-use (A2), and logout revokes the whole session, so the access
token used and the session's refresh token both stop working (A3).

Verification is on the hot path of every API request, so a successful signature check is cached
per token; expiry and revocation are still checked on every request.

`TokenSeams` names the steps a planted fault (sandbox/faults/auth.py) may take otherwise; its
defaults are the steps above.
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
class Session:
    """One login: its current refresh token and the access token issued last."""

    id: str
    username: str
    refresh_token: str
    refresh_expires: float
    access_token: str
    access_expires: int
    #: Whether a refresh has rotated its tokens.
    refreshed: bool = False


Claims = dict[str, Any]


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
        seams: TokenSeams | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._username = _utf8(credentials.username)
        self._password = _utf8(credentials.password)
        self._key = secrets.token_bytes(32)
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl
        self._cache_entries = cache_entries
        self._max_sessions = max_sessions
        self._seams = seams or TokenSeams()
        self._expired = self._seams.expired  # on every request: looked up once
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._by_refresh: dict[str, str] = {}  # refresh token → session id
        #: Revoked session id → when its last access token expires; kept only until then (a
        #: revocation outliving every token it covers protects nothing), so a long run of logouts
        #: holds at most `access_ttl` seconds' worth of them. Insertion order is expiry order
        #: closely enough for pruning from the front.
        self._revoked: dict[str, float] = {}
        self._verified: dict[str, Claims] = {}  # access token → its claims

    # --- Login --------------------------------------------------------------------------------

    def credentials_match(self, username: str, password: str) -> bool:
        """Constant-time comparison of both fields, so timing tells nothing about either."""
        user_ok = hmac.compare_digest(_utf8(username), self._username)
        password_ok = self._seams.password_matches(_utf8(password), self._password)
        return user_ok and password_ok

    def login(self, username: str) -> IssuedTokens:
        session_id = secrets.token_hex(12)
        now = self._clock()
        access, expires = self._access_token(username, session_id, now)
        refresh = secrets.token_urlsafe(32)
        self._forget_oldest_sessions()
        self._sessions[session_id] = Session(
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
        return self.session_for_refresh(token) is not None

    def refresh(self, token: str) -> IssuedTokens | None:
        """New tokens for a live refresh token, which is used up (A2); None → 401."""
        session = self.session_for_refresh(token)
        return None if session is None else self.renew(session, token)

    def session_for_refresh(self, token: str) -> Session | None:
        """The live session a refresh token renews (the token is not spent)."""
        session_id = self._seams.refresh_session_id(self, token)
        session = self._sessions.get(session_id) if session_id else None
        if session is None:
            return None
        if token == session.refresh_token and session.refresh_expires <= self._clock():
            self._by_refresh.pop(token, None)
            return None
        return session

    def renew(self, session: Session, token: str) -> IssuedTokens:
        """Spend the refresh token `token` of a live session and hand out its next tokens."""
        now = self._clock()
        self._seams.spend_refresh_token(self, token)
        session.refresh_token = secrets.token_urlsafe(32)
        session.refreshed = True
        session.refresh_expires = now + self._refresh_ttl
        self._by_refresh[session.refresh_token] = session.id
        self._seams.reissue_access(self, session, now)
        return IssuedTokens(
            session.access_token, session.refresh_token, session.access_expires, now
        )

    def refresh_session_id(self, token: str) -> str | None:
        """The session a refresh token was issued to."""
        return self._by_refresh.get(token)

    def spend_refresh_token(self, token: str) -> None:
        """A refresh token works once (A2)."""
        self._by_refresh.pop(token, None)

    def reissue_access(self, session: Session, now: float) -> None:
        """A refresh hands out a new access token (A2)."""
        session.access_token, session.access_expires = self._access_token(
            session.username, session.id, now
        )

    # --- Verification and logout --------------------------------------------------------------

    def authenticate(self, token: str) -> Claims | None:
        """The claims of a valid, unexpired, unrevoked access token; None → 401."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._seams.read_claims(token, self._key)
            if claims is None:
                return None
            if len(self._verified) >= self._cache_entries:
                self._verified.clear()
            self._verified[token] = claims
        if self._expired(claims["exp"], self._clock()):
            return None
        if claims["sid"] in self._revoked:
            return None
        return claims

    def logout(self, claims: Claims) -> None:
        """Revoke the session of these (valid) claims: its access and refresh tokens (A3)."""
        self._seams.revoke(self, claims)

    def revoke_session(self, claims: Claims) -> None:
        session_id = claims["sid"]
        session = self._sessions.pop(session_id, None)
        until = float(claims["exp"])
        if session is not None:
            self._by_refresh.pop(session.refresh_token, None)
            until = max(until, float(session.access_expires))
        self._forget_expired_revocations()
        self._revoked[session_id] = until

    def revoke_access(self, claims: Claims) -> None:
        """Revoke a session's access tokens, leaving its refresh token as it is."""
        self._revoked[claims["sid"]] = float(claims["exp"])

    def session(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

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


# --- The documents' answers, as seams -----------------------------------------------------------


def passwords_match(sent: bytes, stored: bytes) -> bool:
    return hmac.compare_digest(sent, stored)


def expired(exp: int, now: float) -> bool:
    """A4: an access token stops working at its exp (checked against the authority's clock on
    every request, so a cached verification never outlives the token)."""
    return exp <= now


def signed_claims(token: str, key: bytes) -> Claims | None:
    """The claims of an access token signed with `key`, or None."""
    try:
        claims: Claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sid", "typ"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != ACCESS or not isinstance(claims.get("exp"), int):
        return None
    return claims


@dataclass
class TokenSeams:
    """Where the token rules can be planted otherwise; the defaults keep A1-A4.

    The session steps take the authority they act for, like its own methods.
    """

    password_matches: Callable[[bytes, bytes], bool] = passwords_match
    expired: Callable[[int, float], bool] = expired
    read_claims: Callable[[str, bytes], Claims | None] = signed_claims
    refresh_session_id: Callable[[TokenAuthority, str], str | None] = (
        TokenAuthority.refresh_session_id
    )
    spend_refresh_token: Callable[[TokenAuthority, str], None] = TokenAuthority.spend_refresh_token
    reissue_access: Callable[[TokenAuthority, Session, float], None] = TokenAuthority.reissue_access
    revoke: Callable[[TokenAuthority, Claims], None] = TokenAuthority.revoke_session


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token

"""Faults of authentication: login, the token check, refresh and logout (A1-A4, A6)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import jwt
from starlette.requests import Request
from starlette.types import Scope

from ..auth import ACCESS, Claims, IssuedTokens, TokenAuthority, bearer_token
from ..middleware import UNAUTHORIZED_MESSAGE, header
from ..responses import ApiError
from ..seams import Seams
from .catalogue import Catalogue

catalogue = Catalogue()

#: Scope key the validation-before-auth fault sets: the 401 a handler raises after validating.
DEFERRED_401 = "octoqa.deferred_401"
#: How long refresh-race-double-spend waits between checking a refresh token and spending it:
#: long enough for simultaneous refreshes to overlap, too short to notice alone.
RACE_WINDOW_S = 0.05


@catalogue.fault(
    "auth-not-enforced",
    "auth-required",
    "Requests without an Authorization header are served as if logged in "
    "(which also lets a bad request without a token reach validation).",
)
def auth_not_enforced(seams: Seams) -> None:
    admit = seams.gate.admit

    def admit_without_token(scope: Scope, tokens: TokenAuthority) -> Scope | None:
        admitted = admit(scope, tokens)
        if admitted is None and bearer_token(header(scope, b"authorization")) is None:
            return scope
        return admitted

    seams.gate.admit = admit_without_token


@catalogue.fault(
    "validation-before-auth",
    "auth-checked-first",
    "Without a valid token the request is validated first: GET /api/v1/products/0 → 400, "
    "unknown /api/ paths → 404; only a valid request gets its 401.",
)
def validation_before_auth(seams: Seams) -> None:
    admit, validated = seams.gate.admit, seams.endpoints.validated

    def admit_owing_401(scope: Scope, tokens: TokenAuthority) -> Scope | None:
        admitted = admit(scope, tokens)
        if admitted is None:
            scope[DEFERRED_401] = UNAUTHORIZED_MESSAGE
            return scope
        return admitted

    def raise_owed_401(request: Request) -> None:
        if DEFERRED_401 in request.scope:
            raise ApiError(401, request.scope[DEFERRED_401])
        validated(request)

    seams.gate.admit = admit_owing_401
    seams.endpoints.validated = raise_owed_401


@catalogue.fault(
    "expired-token-accepted",
    "expired-token-rejected",
    "The access token's exp claim is not checked: expired tokens keep working.",
    sandbox_args=("--token-ttl", "2"),
)
def expired_token_accepted(seams: Seams) -> None:
    seams.tokens.expired = lambda exp, now: False


@catalogue.fault(
    "login-broken",
    "login-issues-tokens",
    "The login body lacks token_type (the tokens themselves still work).",
)
def login_broken(seams: Seams) -> None:
    body = seams.endpoints.token_body

    def without_token_type(issued: IssuedTokens, refreshed: bool) -> dict[str, Any]:
        shown = body(issued, refreshed)
        del shown["token_type"]
        return shown

    seams.endpoints.token_body = without_token_type


@catalogue.fault(
    "any-password-accepted",
    "login-rejects-bad-credentials",
    "Login checks the username only: any password is accepted.",
)
def any_password_accepted(seams: Seams) -> None:
    seams.tokens.password_matches = lambda sent, stored: True


@catalogue.fault(
    "login-malformed-body-500",
    "login-rejects-malformed-body",
    "A login body with a missing or non-string username/password → 500 instead of 400.",
)
def login_malformed_body_500(seams: Seams) -> None:
    seams.endpoints.malformed_login = lambda problem: ApiError(500, "Failed to log in")


@catalogue.fault(
    "access-token-exp-mismatch",
    "access-token-is-jwt",
    "expires_at and expires_in claim one hour more than the token's exp.",
)
def access_token_exp_mismatch(seams: Seams) -> None:
    body = seams.endpoints.token_body

    def an_hour_later(issued: IssuedTokens, refreshed: bool) -> dict[str, Any]:
        shown = body(issued, refreshed)
        later = IssuedTokens("", "", issued.expires + 3600, issued.issued)
        shown["expires_in"], shown["expires_at"] = later.expires_in, later.expires_at
        return shown

    seams.endpoints.token_body = an_hour_later


@catalogue.fault(
    "refresh-returns-same-tokens",
    "refresh-issues-new-tokens",
    "Refresh hands back the access token already issued instead of a new one.",
)
def refresh_returns_same_tokens(seams: Seams) -> None:
    seams.tokens.reissue_access = lambda authority, session, now: None


@catalogue.fault(
    "refresh-token-reusable",
    "refresh-token-single-use",
    "A refresh token is not consumed: it works any number of times.",
)
def refresh_token_reusable(seams: Seams) -> None:
    seams.tokens.spend_refresh_token = lambda authority, token: None


@catalogue.fault(
    "refresh-accepts-access-token",
    "refresh-rejects-access-token",
    "/auth/refresh also accepts a valid access token and issues new tokens for it.",
)
def refresh_accepts_access_token(seams: Seams) -> None:
    session_id = seams.tokens.refresh_session_id

    def session_of_any_token(authority: TokenAuthority, token: str) -> str | None:
        found = session_id(authority, token)
        if found is None:
            claims = authority.authenticate(token)
            found = claims["sid"] if claims else None
        return found

    seams.tokens.refresh_session_id = session_of_any_token


@catalogue.fault(
    "logout-does-not-revoke",
    "logout-revokes-tokens",
    "Logout answers 204 but revokes nothing.",
)
def logout_does_not_revoke(seams: Seams) -> None:
    seams.tokens.revoke = lambda authority, claims: None


@catalogue.fault(
    "refresh-expires-at-naive",
    "dates-are-rfc3339",
    "Refresh responses write expires_at without an offset (2026-12-01T20:45:00, ISO 8601 "
    "that any parser reads, but not RFC 3339); login's is right.",
)
def refresh_expires_at_naive(seams: Seams) -> None:
    body = seams.endpoints.token_body

    def naive_when_refreshed(issued: IssuedTokens, refreshed: bool) -> dict[str, Any]:
        shown = body(issued, refreshed)
        if refreshed:
            # What `datetime.utcfromtimestamp(t).isoformat()` writes: parseable, no offset.
            naive = datetime.fromtimestamp(issued.expires, UTC).replace(tzinfo=None)
            shown["expires_at"] = naive.isoformat()
        return shown

    seams.endpoints.token_body = naive_when_refreshed


@catalogue.fault(
    "refresh-race-double-spend",
    "refresh-token-single-use",
    "Refresh checks the token, waits 50 ms (a database round trip), then spends it without "
    "checking again: simultaneous refreshes of one token all succeed; one after another, "
    "the second still gets its 401.",
)
def refresh_race_double_spend(seams: Seams) -> None:
    async def check_then_spend(tokens: TokenAuthority, token: str) -> IssuedTokens | None:
        session = tokens.session_for_refresh(token)
        await asyncio.sleep(RACE_WINDOW_S)  # the "database round trip" between check and use
        return tokens.renew(session, token) if session is not None else None

    seams.endpoints.refresh_tokens = check_then_spend


@catalogue.fault(
    "alg-none-accepted",
    "auth-required",
    'An access token whose JWT header says alg "none" is read without verifying any '
    "signature; signed tokens (a wrong key included) are verified as before.",
)
def alg_none_accepted(seams: Seams) -> None:
    read_claims = seams.tokens.read_claims

    def trusting_unsigned(token: str, key: bytes) -> Claims | None:
        if not _unsigned(token):
            return read_claims(token, key)
        try:
            claims: Claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        return claims if claims.get("typ") == ACCESS and "sid" in claims else None

    seams.tokens.read_claims = trusting_unsigned


def _unsigned(token: str) -> bool:
    try:
        return str(jwt.get_unverified_header(token).get("alg", "")).lower() == "none"
    except jwt.PyJWTError:
        return False


@catalogue.fault(
    "logout-after-refresh-keeps-refresh",
    "logout-revokes-tokens",
    "Logout revokes the access tokens of a login that has been refreshed, but its current "
    "refresh token keeps working (the revocation reads the refresh token the login started "
    "with): only login → refresh → logout → refresh shows it; logout before any refresh is "
    "right.",
)
def logout_after_refresh_keeps_refresh(seams: Seams) -> None:
    revoke = seams.tokens.revoke

    def revoke_forgetting_refresh(authority: TokenAuthority, claims: Claims) -> None:
        session = authority.session(claims["sid"])
        if session is not None and session.refreshed:
            authority.revoke_access(claims)
        else:
            revoke(authority, claims)

    seams.tokens.revoke = revoke_forgetting_refresh


@catalogue.fault(
    "password-prefix-accepted",
    "login-rejects-bad-credentials",
    "The password is compared over the stored password's length only (strncmp-style): a "
    "wrong password that starts with the right one (a pasted newline, a suffix) logs in; "
    "every other wrong password gets its 401.",
)
def password_prefix_accepted(seams: Seams) -> None:
    matches = seams.tokens.password_matches
    seams.tokens.password_matches = lambda sent, stored: matches(sent[: len(stored)], stored)


@catalogue.fault(
    "trailing-slash-skips-auth",
    "auth-required",
    "A protected path with a trailing slash (/api/v1/products/) skips the token check and is "
    "served as the path without it; every other spelling is checked.",
)
def trailing_slash_skips_auth(seams: Seams) -> None:
    admit = seams.gate.admit

    def admit_slashed(scope: Scope, tokens: TokenAuthority) -> Scope | None:
        # The router forgives a trailing slash; the token check does not see the path it serves.
        if scope["path"].endswith("/"):
            return {**scope, "path": scope["path"].rstrip("/")}
        return admit(scope, tokens)

    seams.gate.admit = admit_slashed


# --- Doors beside the documented ones (A6: every request to a protected path) ---------------


@catalogue.fault(
    "head-skips-auth",
    "auth-required",
    "HEAD requests skip the token check: the GET handler answers them (X-Total-Count and the "
    "other headers included) without a token.",
)
def head_skips_auth(seams: Seams) -> None:
    admit = seams.gate.admit

    def admit_heads(scope: Scope, tokens: TokenAuthority) -> Scope | None:
        return scope if scope["method"] == "HEAD" else admit(scope, tokens)

    seams.gate.admit = admit_heads


@catalogue.fault(
    "query-token-accepted",
    "auth-required",
    "An access token in the query string (?access_token=...) is taken in place of the "
    "Authorization header.",
)
def query_token_accepted(seams: Seams) -> None:
    admit = seams.gate.admit

    def admit_from_query(scope: Scope, tokens: TokenAuthority) -> Scope | None:
        admitted = admit(scope, tokens)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if admitted is not None or "access_token" not in query:
            return admitted
        bearer = f"Bearer {query['access_token'][0]}".encode("latin-1")
        return admit({**scope, "headers": [*scope["headers"], (b"authorization", bearer)]}, tokens)

    seams.gate.admit = admit_from_query


@catalogue.fault(
    "format-suffix-served",
    "auth-required",
    "The router maps a .json suffix to the same handler, and the token check, keyed on the "
    "documented paths, lets it by: GET /api/v1/products.json lists the catalog without a token.",
)
def format_suffix_served(seams: Seams) -> None:
    admit = seams.gate.admit

    def admit_suffixed(scope: Scope, tokens: TokenAuthority) -> Scope | None:
        path = scope["path"]
        if not path.endswith(".json"):
            return admit(scope, tokens)
        bare = path.removesuffix(".json")
        return {**scope, "path": bare, "raw_path": bare.encode()}

    seams.gate.admit = admit_suffixed

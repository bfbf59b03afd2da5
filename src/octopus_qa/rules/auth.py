"""Authentication: login, tokens, refresh, logout and protected operations (A1-A6)."""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import jwt

from .catalogue import Rule, RuleViolation, judges, rule_named
from .errors import RETRY_LATER
from .evidence import applies
from .exchange import AVAILABILITY_PATH, LOGOUT_PATH, Exchange, sends_json
from .http_layer import refused_by_http_layer, unless_refused_by_http_layer
from .readings import json_as_written, undecided_inputs

# --- The rules of authentication (A1-A6) ---------------------------------------------------

AUTH_REQUIRED = Rule(
    "auth-required",
    title="Every endpoint but login requires a valid Bearer access token; without one → 401",
    basis="documented",
    source="getting-started.txt § Authentication; products-api.txt § Error Handling (401)",
    quote="All API requests (except login) require a Bearer token in the Authorization header",
    assumption=("A6",),
    builtin_checks=("ignored_auth", "missing_required_header"),
    bounds_input_of=("POST /auth/refresh", "POST /auth/logout"),
)
AUTH_CHECKED_FIRST = Rule(
    "auth-checked-first",
    title="Authentication is checked before validation: a bad request without a token is 401",
    basis="assumed",
    source="ASSUMPTIONS.md § Authentication",
    quote=(
        "a request to a protected path without a valid access token → 401, whatever else is wrong "
        "with it"
    ),
    assumption=("A6",),
)
EXPIRED_TOKEN_REJECTED = Rule(
    "expired-token-rejected",
    title="An expired access token is refused with 401",
    basis="documented",
    source="products-api.txt § Error Handling (401 Unauthorized)",
    quote="Invalid or expired access token",
    assumption=("A4",),
)
LOGIN_ISSUES_TOKENS = Rule(
    "login-issues-tokens",
    title="POST /auth/login with the account's credentials → 200 with access/refresh tokens",
    basis="assumed",
    source="getting-started.txt § Quickstart; ASSUMPTIONS.md A1",
    quote="Authenticate — POST your credentials to /auth/login to receive a JWT",
    assumption=("A1",),
)
LOGIN_REJECTS_BAD_CREDENTIALS = Rule(
    "login-rejects-bad-credentials",
    title="Wrong credentials → 401",
    basis="assumed",
    source="ASSUMPTIONS.md A1",
    quote="Wrong credentials → 401.",
    assumption=("A1",),
)
LOGIN_REJECTS_MALFORMED_BODY = Rule(
    "login-rejects-malformed-body",
    title="Missing fields, wrong types or a non-JSON login body → 400",
    basis="assumed",
    source="ASSUMPTIONS.md A1",
    quote="Missing fields, wrong types or a body that is not JSON → 400.",
    assumption=("A1",),
    bounds_input_of=("POST /auth/login",),
)
ACCESS_TOKEN_IS_JWT = Rule(
    "access-token-is-jwt",
    title="The access token is a JWT whose exp claim matches expires_at",
    basis="documented",
    source="getting-started.txt § Authentication; ASSUMPTIONS.md A4",
    quote="Bearer <access_token> — your JWT from the login endpoint",
    assumption=("A1", "A4"),
)
REFRESH_ISSUES_NEW_TOKENS = Rule(
    "refresh-issues-new-tokens",
    title="POST /auth/refresh with a refresh token → 200 with new, working tokens",
    basis="assumed",
    source="getting-started.txt § Authentication; ASSUMPTIONS.md A2",
    quote="See the Authentication section for the full login, refresh, and logout flow.",
    assumption=("A2",),
)
REFRESH_TOKEN_SINGLE_USE = Rule(
    "refresh-token-single-use",
    title="A refresh token works once; its second use → 401",
    basis="assumed",
    source="ASSUMPTIONS.md A2",
    quote="A refresh token works once: using it a second time → 401.",
    assumption=("A2",),
)
REFRESH_REJECTS_ACCESS_TOKEN = Rule(
    "refresh-rejects-access-token",
    title="An access token presented to /auth/refresh → 401",
    basis="assumed",
    source="ASSUMPTIONS.md A2",
    quote="An access token presented here → 401.",
    assumption=("A2",),
)
LOGOUT_REVOKES_TOKENS = Rule(
    "logout-revokes-tokens",
    title="POST /auth/logout → 204; afterwards the access and refresh tokens → 401",
    basis="assumed",
    source="ASSUMPTIONS.md A3",
    quote="After it, that access token and the refresh token of the same login → 401.",
    assumption=("A3",),
)

# --- Authentication ---------------------------------------------------------------------------

#: A1: what a login (and a refresh, A2) body holds.
TOKEN_FIELDS = ("access_token", "refresh_token", "token_type", "expires_in", "expires_at")
PROTECTED_PREFIX = "/api/"
_TOKEN_PATHS = re.compile(r"/auth/(?:refresh|logout)/?$")
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


@judges(AUTH_REQUIRED)
def auth_is_required(exchange: Exchange) -> None:
    """A request to a protected operation without an Authorization header is not served (A6):
    anything below 400 breaks auth-required (a 4xx is judged by the checks of its status)."""
    protected = exchange.path.startswith(PROTECTED_PREFIX) or _TOKEN_PATHS.search(exchange.path)
    if not protected or "authorization" in exchange.request_headers:
        return
    if exchange.status != RETRY_LATER:
        applies(AUTH_REQUIRED, exchange)
    if exchange.status < 400:
        raise RuleViolation(
            AUTH_REQUIRED,
            f"{exchange.method} {exchange.path} without a token answered {exchange.status}",
        )


@judges(LOGIN_ISSUES_TOKENS, REFRESH_ISSUES_NEW_TOKENS)
def token_body_is_complete(exchange: Exchange, rule: Rule | str = LOGIN_ISSUES_TOKENS) -> None:
    """A 200 from login or refresh carries the A1 fields, typed (`rule`: the login's or the
    refresh's)."""
    rule = rule_named(rule)
    applies(rule, exchange)
    body = exchange.json
    if exchange.status != 200 or not isinstance(body, dict):
        raise RuleViolation(rule, f"answered {exchange.status} {exchange.body[:120]!r}")
    missing = [name for name in TOKEN_FIELDS if name not in body]
    if missing:
        raise RuleViolation(rule, f"the token body lacks {', '.join(missing)}")
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
        raise RuleViolation(rule, "; ".join(problems))


@judges(ACCESS_TOKEN_IS_JWT)
def access_token_exp_matches(
    claims: Mapping[str, Any], body: Mapping[str, Any], issued_at: float
) -> None:
    """A4: the JWT's `exp` equals `expires_at` and is about `issued_at` + `expires_in`."""
    applies(ACCESS_TOKEN_IS_JWT)
    try:
        exp = float(claims["exp"])
        expires_at = datetime.fromisoformat(str(body["expires_at"])).timestamp()
    except (KeyError, TypeError, ValueError) as error:
        raise RuleViolation(
            ACCESS_TOKEN_IS_JWT, f"no comparable exp / expires_at: {error}"
        ) from None
    if abs(exp - expires_at) > 1:
        raise RuleViolation(ACCESS_TOKEN_IS_JWT, f"exp {exp} vs expires_at {body['expires_at']}")
    if abs(exp - (issued_at + float(body["expires_in"]))) > 5:
        raise RuleViolation(
            ACCESS_TOKEN_IS_JWT,
            f"exp {exp} is not about now + expires_in ({body['expires_in']} s)",
        )


# --- Who may call what (A6), expiry (A4) --------------------------------------------------------


def _needs_access_token(exchange: Exchange) -> bool:
    """Whether A6 covers this request: a declared method on a path under /api/ (GET anywhere
    there, POST on an availability check) or logout. An undeclared method is left out: whether a
    server answers it 401 or 404/405 first is not decided (openapi/TRACEABILITY.md)."""
    if exchange.method == "GET":
        return exchange.path.startswith(PROTECTED_PREFIX)
    if exchange.method == "POST":
        path = exchange.path
        return bool(AVAILABILITY_PATH.search(path) or LOGOUT_PATH.search(path))
    return False


def bearer_token(exchange: Exchange) -> str | None:
    """The token of an `Authorization: Bearer …` header (the scheme in any case, RFC 7235)."""
    scheme, _, token = exchange.request_headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _plainly_not_a_token(token: str | None) -> bool:
    """No bearer token, or one that cannot be a JWT at all (A4): no reading makes it valid."""
    return token is None or _JWT_SHAPE.fullmatch(token) is None


@judges(AUTH_CHECKED_FIRST)
@unless_refused_by_http_layer
def auth_is_checked_first(exchange: Exchange) -> None:
    """A6: a protected operation called without a valid access token answers 401, whatever else
    is wrong with the request (a bad id, limit or body; an unknown path under /api/).

    Judged when the request plainly had no valid token (none, another scheme, not a JWT) and was
    refused with something else than 401. A success is auth-required's to report; a token of the
    right shape may be valid, and expired_token_is_rejected judges the expired ones.
    """
    status = exchange.status
    if status == RETRY_LATER or not _needs_access_token(exchange):
        return
    token = bearer_token(exchange)
    if not _plainly_not_a_token(token):
        return
    applies(AUTH_CHECKED_FIRST, exchange)
    if status < 400 or status == 401:
        return  # a success without a token is auth-required's to report
    how = (
        "without a token"
        if "authorization" not in exchange.request_headers
        else ("with a malformed Authorization header")
    )
    raise RuleViolation(
        AUTH_CHECKED_FIRST,
        f"{exchange.method} {exchange.path} {how} answered {status}, not 401",
    )


#: How far past its `exp` a token must be before a refusal is required: the client's and the
#: server's clocks may differ by this much (the tolerance access_token_exp_matches allows too).
EXPIRY_LEEWAY_S = 5.0


def token_claims(token: str) -> dict[str, Any] | None:
    """A JWT's payload, read without verifying the signature (A4 allows that); None if it is
    not a JWT with a JSON object for a payload."""
    if _JWT_SHAPE.fullmatch(token) is None:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def seconds_expired(exchange: Exchange, now: float | None = None) -> float | None:
    """How long ago the bearer token of a request to a protected operation expired, when that
    is longer ago than the clocks may differ (EXPIRY_LEEWAY_S); None for any other request."""
    if not _needs_access_token(exchange):
        return None
    token = bearer_token(exchange)
    claims = token_claims(token) if token else None
    exp = claims.get("exp") if claims else None
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return None
    ago = (time.time() if now is None else now) - exp
    return ago if ago > EXPIRY_LEEWAY_S else None


@judges(EXPIRED_TOKEN_REJECTED)
@unless_refused_by_http_layer
def expired_token_is_rejected(exchange: Exchange, now: float | None = None) -> None:
    """A4 and the 401 of products-api.txt ("Invalid or expired access token"): a protected
    operation called with an access token whose `exp` has passed answers 401.

    The expiry is read from the token as sent, so any exchange can be judged: a JWT attack that
    moves `exp` into the past, a generated token. Such a token is refused for its signature
    as much as for its age, so it is no evidence that expiry is checked: the run's TokenLedger
    applies the rule when a token the target issued is presented after its `exp`.
    """
    if exchange.status in (401, RETRY_LATER):
        return
    ago = seconds_expired(exchange, now)
    if ago is not None:
        raise RuleViolation(
            EXPIRED_TOKEN_REJECTED,
            f"{exchange.method} {exchange.path} with a token expired {ago:.0f} s ago "
            f"answered {exchange.status}",
        )


# --- Login (A1) ---------------------------------------------------------------------------------

LOGIN_PATH = re.compile(r"/auth/login/?$")
CREDENTIAL_FIELDS = ("username", "password")


def _login_body(exchange: Exchange) -> tuple[Any, bool] | None:
    """The login body as sent and whether any value in it is undecided (readings.py), or None
    when this is not a login with a JSON Content-Type (E3 judges the others)."""
    if exchange.method != "POST" or not LOGIN_PATH.search(exchange.path):
        return None
    if not sends_json(exchange):
        return None
    raw = exchange.request_body
    if not raw:
        return exchange.request_json, False
    try:
        body = json_as_written(raw)
    except RecursionError:
        return None  # valid JSON nested past what can be read here: not judged
    except ValueError:
        return NOT_JSON, False
    undecided = undecided_inputs(exchange.method, exchange.path, exchange.query, raw)
    return body, bool(undecided)


#: A login body that is not JSON at all.
NOT_JSON: Any = object()


def _shape_of(body: Any) -> str:
    """What a login body holds, by field and type only: its values may be the real password."""
    if body is NOT_JSON:
        return "a body that is not JSON"
    if not isinstance(body, dict):
        return f"a JSON {type(body).__name__} for a body"
    fields = ", ".join(f"{key}: {type(value).__name__}" for key, value in body.items())
    return f"the fields {{{fields}}}" if fields else "an empty object"


def _is_well_formed_login(body: Any) -> bool:
    return isinstance(body, dict) and all(isinstance(body.get(k), str) for k in CREDENTIAL_FIELDS)


@judges(LOGIN_REJECTS_MALFORMED_BODY)
@unless_refused_by_http_layer
def login_rejects_malformed_body(exchange: Exchange) -> None:
    """A1: a login body with a missing field, a value that is not a string, or that is not a
    JSON object at all → 400; a well-formed one is never refused as malformed.

    Undecided bodies (an empty username, a field A1 does not name, a key given twice) may get
    either answer and are not judged here (readings.py, either_reading_answered).
    """
    read = _login_body(exchange)
    if read is None or exchange.status == RETRY_LATER:
        return
    body, undecided = read
    if undecided:
        return
    if not _is_well_formed_login(body):
        applies(LOGIN_REJECTS_MALFORMED_BODY, exchange)
    if not _is_well_formed_login(body) and exchange.status != 400:
        raise RuleViolation(
            LOGIN_REJECTS_MALFORMED_BODY,
            f"login with {_shape_of(body)} answered {exchange.status}, not 400",
        )
    if _is_well_formed_login(body) and set(body) == set(CREDENTIAL_FIELDS):
        if exchange.status == 400:
            raise RuleViolation(
                LOGIN_REJECTS_MALFORMED_BODY,
                "a login body with a string username and password was refused as malformed (400)",
            )


def _same_credentials(body: Mapping[str, str], username: str, password: str) -> bool:
    """Whether a server could take `body` for the account: the username in any case and around
    any whitespace, the password after Unicode normalisation (NIST SP 800-63B suggests NFKC);
    the documents decide neither, so such near matches are not called wrong."""
    same_user = body["username"].strip().casefold() == username.strip().casefold()
    nfkc = unicodedata.normalize
    return same_user and nfkc("NFKC", body["password"]) == nfkc("NFKC", password)


@judges(LOGIN_REJECTS_BAD_CREDENTIALS)
@unless_refused_by_http_layer
def login_rejects_bad_credentials(exchange: Exchange, username: str, password: str) -> None:
    """A1: a well-formed login whose credentials are not the account's (`username`, `password`:
    the target's account) → 401, never a token and never a 400."""
    read = _login_body(exchange)
    if read is None or exchange.status == RETRY_LATER:
        return
    body, undecided = read
    if undecided or not _is_well_formed_login(body) or set(body) != set(CREDENTIAL_FIELDS):
        return
    if _same_credentials(body, username, password):
        return
    applies(LOGIN_REJECTS_BAD_CREDENTIALS, exchange)
    if exchange.status == 401:
        return
    raise RuleViolation(
        LOGIN_REJECTS_BAD_CREDENTIALS,
        f"a login with wrong credentials answered {exchange.status}, not 401",
    )


@judges(REFRESH_ISSUES_NEW_TOKENS)
def refresh_issues_new_tokens(exchange: Exchange, old_access: str, old_refresh: str) -> None:
    """A2: a refresh with a live refresh token answers 200 with the A1 body and new tokens, not
    the ones it was given."""
    token_body_is_complete(exchange, REFRESH_ISSUES_NEW_TOKENS)  # applies the rule
    body = exchange.json
    if body["access_token"] == old_access or body["refresh_token"] == old_refresh:
        same = "access" if body["access_token"] == old_access else "refresh"
        raise RuleViolation(REFRESH_ISSUES_NEW_TOKENS, f"the same {same} token came back")


@judges(LOGOUT_REVOKES_TOKENS)
def logout_succeeded(exchange: Exchange) -> None:
    """A3: logout with a live access token answers 204 with an empty body."""
    applies(LOGOUT_REVOKES_TOKENS, exchange)
    if exchange.status != 204 or exchange.body:
        raise RuleViolation(
            LOGOUT_REVOKES_TOKENS,
            f"logout with a live access token answered {exchange.status} with "
            f"{len(exchange.body)} bytes, not 204 and none",
        )


# --- Token lifecycle (A2, A3) -------------------------------------------------------------------

REFRESH_PATH = re.compile(r"/auth/refresh/?$")


@judges(
    REFRESH_TOKEN_SINGLE_USE,
    REFRESH_REJECTS_ACCESS_TOKEN,
    LOGOUT_REVOKES_TOKENS,
    EXPIRED_TOKEN_REJECTED,
)
class TokenLedger:
    """The tokens a run was issued, to judge refresh and logout as sequences of exchanges.

    Feed it every exchange in the order the requests were sent (`judge`). It remembers each
    login's pair of tokens, which refresh tokens were spent and which logins were logged out,
    and judges: a refresh token works once (A2: its second use → 401, in whichever order
    simultaneous refreshes complete), an access token is refused by /auth/refresh (A2), and
    after a logout (204) that access token and the refresh token of the same login → 401 (A3),
    and an access token it was issued, presented after its `exp`, → 401 (A4): the one case that
    shows expiry itself is checked. Tokens it was never shown (generated, forged) are left to
    the stateless checks.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # simultaneous refreshes are judged from several threads
        self._refresh_of: dict[str, str] = {}  # access token → the refresh token issued with it
        self._access_tokens: set[str] = set()
        self._spent: set[str] = set()  # refresh tokens a refresh succeeded with
        self._revoked: set[str] = set()  # access and refresh tokens of logged-out logins

    def judge(self, exchange: Exchange) -> None:
        if exchange.status == RETRY_LATER or refused_by_http_layer(exchange):
            return
        with self._lock:
            self._judge(exchange)

    def issued(self, access_token: str, refresh_token: str) -> None:
        """A login the ledger did not see answered (the preflight's): its tokens are the run's."""
        with self._lock:
            self._access_tokens.add(access_token)
            self._refresh_of[access_token] = refresh_token

    def _judge(self, exchange: Exchange) -> None:
        token = bearer_token(exchange)
        if token is not None and token in self._access_tokens:
            self._judge_expiry(exchange)
        if exchange.method == "POST" and REFRESH_PATH.search(exchange.path):
            self._judge_refresh(exchange, token)
        elif token is not None and token in self._revoked and _needs_access_token(exchange):
            self._judge_revoked_access(exchange)
        elif exchange.method == "POST" and LOGOUT_PATH.search(exchange.path) and token:
            if exchange.status == 204:
                self._revoked.update((token, self._refresh_of.get(token, token)))
        if exchange.status == 200 and (
            REFRESH_PATH.search(exchange.path) or LOGIN_PATH.search(exchange.path)
        ):
            self._remember_issued(exchange)

    def _judge_refresh(self, exchange: Exchange, token: str | None) -> None:
        if token is None:
            return
        status = exchange.status
        for rule, tokens in (
            (REFRESH_REJECTS_ACCESS_TOKEN, self._access_tokens),
            (LOGOUT_REVOKES_TOKENS, self._revoked),
            (REFRESH_TOKEN_SINGLE_USE, self._spent),
        ):
            if token in tokens:
                applies(rule, exchange)
        if token in self._access_tokens and status != 401:
            raise RuleViolation(
                REFRESH_REJECTS_ACCESS_TOKEN,
                f"POST /auth/refresh with an access token answered {status}, not 401",
            )
        if token in self._revoked and status != 401:
            raise RuleViolation(
                LOGOUT_REVOKES_TOKENS,
                f"POST /auth/refresh with the refresh token of a logged-out login answered "
                f"{status}, not 401",
            )
        if token in self._spent and status != 401:
            raise RuleViolation(
                REFRESH_TOKEN_SINGLE_USE,
                f"POST /auth/refresh with a refresh token already used once answered {status}, "
                "not 401",
            )
        if status == 200:
            self._spent.add(token)

    def _judge_expiry(self, exchange: Exchange) -> None:
        ago = seconds_expired(exchange)
        if ago is None:
            return
        applies(EXPIRED_TOKEN_REJECTED, exchange)
        if exchange.status != 401:
            raise RuleViolation(
                EXPIRED_TOKEN_REJECTED,
                f"{exchange.method} {exchange.path} with an access token the target issued, "
                f"expired {ago:.0f} s ago, answered {exchange.status}",
            )

    def _judge_revoked_access(self, exchange: Exchange) -> None:
        applies(LOGOUT_REVOKES_TOKENS, exchange)
        if exchange.status != 401:
            raise RuleViolation(
                LOGOUT_REVOKES_TOKENS,
                f"{exchange.method} {exchange.path} with the access token of a logged-out login "
                f"answered {exchange.status}, not 401",
            )

    def _remember_issued(self, exchange: Exchange) -> None:
        body = exchange.json
        if not isinstance(body, dict):
            return
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if isinstance(access, str) and isinstance(refresh, str):
            self._access_tokens.add(access)
            self._refresh_of[access] = refresh
            # A server whose tokens are a function of their claims may issue the same string
            # again (two logins in one second): issued anew, it starts a new life.
            self._revoked.difference_update((access, refresh))
            self._spent.discard(refresh)

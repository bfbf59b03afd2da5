"""Authentication, one rule at a time: login (A1), the token (A4), refresh (A2), logout (A3),
auth before validation (A6), missing and malformed Authorization, expiry. The stateful walk over
the same operations is test_auth_flow.py.

A test that logs in for itself and needs its access token to work on /api/ runs under the run's
one re-login policy (`ApiClient.with_own_login`): a token revoked by someone else mid-test means
one new login and the test again from there, never a broken rule."""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest

from octopus_qa import rules
from octopus_qa.contract.client import ApiClient
from octopus_qa.contract.fixtures import LIST
from octopus_qa.contract.suite import Suite
from octopus_qa.rules import Exchange, RulesBroken, RuleViolation, expect_status
from octopus_qa.target.session import LOGOUT_PATH, REFRESH_PATH, Tokens

PROTECTED = [
    pytest.param("GET", LIST, id="list"),
    pytest.param("GET", f"{LIST}/1001", id="details"),
    pytest.param("POST", f"{LIST}/1001/availability", id="availability"),
    pytest.param("POST", LOGOUT_PATH, id="logout"),
]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def tampered_tokens(token: str) -> dict[str, str]:
    """Ways to break a good token: flip a signature character, alg none, edit the payload."""
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    claims = jwt.decode(token, options={"verify_signature": False})
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    extended = f"{header}.{_b64({**claims, 'exp': int(claims['exp']) + 86_400})}.{signature}"
    return {
        "flipped-signature": f"{header}.{payload}.{flipped}",
        "alg-none": unsigned,
        "edited-exp": extended,
    }


def jwt_attacks(access_token: str, refresh_token: str) -> dict[str, str]:
    """The JWT attack matrix, as Authorization header values: each must be refused with 401.

    Built from a real login so that everything but the one broken part is right: the claims
    under `alg: none` (in three spellings), under a key that is not the server's, edited past
    its `exp` or before its `nbf`, the refresh token in the access token's place, and malformed
    shapes (too few, too many or empty segments, a header that is not JSON), plus an empty
    bearer and a megabyte one (which the HTTP layer may refuse before auth: any 4xx, or none,
    is then accepted for it, rules/http_layer.py)."""
    header, payload, signature = access_token.split(".")
    claims = jwt.decode(access_token, options={"verify_signature": False})
    now = int(time.time())

    def unsigned(alg: str, keep_signature: bool = False) -> str:
        return f"{_b64({'alg': alg, 'typ': 'JWT'})}.{payload}.{signature if keep_signature else ''}"

    attacks = {
        f"{name}": f"Bearer {token}" for name, token in tampered_tokens(access_token).items()
    }
    attacks |= {
        "alg-None": f"Bearer {unsigned('None')}",
        "alg-NONE": f"Bearer {unsigned('NONE')}",
        "alg-none-keeping-the-signature": f"Bearer {unsigned('none', keep_signature=True)}",
        "wrong-key": "Bearer " + jwt.encode(claims, "not-the-servers-key-" * 2, algorithm="HS256"),
        "expired-claims": f"Bearer {header}.{_b64({**claims, 'exp': now - 3600})}.{signature}",
        "not-yet-valid": (
            f"Bearer {header}.{_b64({**claims, 'nbf': now + 3600, 'iat': now + 3600})}.{signature}"
        ),
        "refresh-token-as-access-token": f"Bearer {refresh_token}",
        "two-segments": f"Bearer {header}.{payload}",
        "extra-segment": f"Bearer {access_token}.{signature}",
        "empty-segments": "Bearer ..",
        "not-base64": f"Bearer {header}.%%%.{signature}",
        "header-not-json": f"Bearer {_b64_text('not json')}.{payload}.{signature}",
        "empty-bearer": "Bearer",  # h11 refuses a header ending in a space
        "quoted-empty-bearer": 'Bearer ""',
        "megabyte": "Bearer " + "A" * 1_000_000,
    }
    return attacks


def _b64_text(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


# --- login (A1) --------------------------------------------------------------------------------


@pytest.mark.rule("login-issues-tokens")
def test_login_issues_tokens(api: ApiClient) -> None:
    exchange = api.login()
    rules.token_body_is_complete(exchange, "login-issues-tokens")

    def token_works(tokens: Tokens) -> None:
        works = api.own_token_works(api.get(LIST, token=tokens.access_token, params={"limit": 1}))
        expect_status(works, 200, "login-issues-tokens", "the access token a login issued")

    # Revoked meanwhile by someone else: the run's re-login policy (ApiClient.with_own_login).
    api.with_own_login(token_works, Tokens.from_login_body(exchange.json))


@pytest.mark.rule("access-token-is-jwt")
def test_access_token_is_a_jwt_whose_exp_matches_expires_at(api: ApiClient) -> None:
    issued_at = time.time()
    body = api.login().json
    try:
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise RuleViolation(
            "access-token-is-jwt", f"the access token is not a JWT: {error}"
        ) from None
    rules.access_token_exp_matches(claims, body, issued_at)


@pytest.mark.rule("login-rejects-bad-credentials")
@pytest.mark.parametrize("which", ["password", "username", "both"])
def test_wrong_credentials_are_refused(api: ApiClient, suite: Suite, which: str) -> None:
    body = suite.credentials.as_login_body()
    if which in ("password", "both"):
        body["password"] = body["password"] + "-wrong"
    if which in ("username", "both"):
        body["username"] = "nobody-" + body["username"]
    exchange = api.login(body)
    account = suite.credentials
    rules.login_rejects_bad_credentials(exchange, account.username, account.password)


@pytest.mark.rule("login-rejects-malformed-body")
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "x"},
        {"password": "x"},
        {"username": 1, "password": "x"},
        {"username": "x", "password": None},
        [],
        "x",
    ],
    ids=[
        "empty",
        "no-password",
        "no-username",
        "number-username",
        "null-password",
        "array",
        "string",
    ],
)
def test_malformed_login_body_is_rejected(api: ApiClient, body: Any) -> None:
    exchange = api.login(body)
    rules.login_rejects_malformed_body(exchange)
    expect_status(exchange, 400, "login-rejects-malformed-body", f"body {body!r}")


@pytest.mark.rule("login-rejects-malformed-body")
def test_login_body_that_is_not_json_is_rejected(api: ApiClient) -> None:
    exchange = api.login(
        json=None, content="username=a&password=b", headers={"Content-Type": "application/json"}
    )
    expect_status(exchange, 400, "login-rejects-malformed-body", "a non-JSON body")


# --- missing, malformed and tampered Authorization (A6) ----------------------------------------


@pytest.mark.rule("auth-required")
@pytest.mark.parametrize("method,path", PROTECTED)
@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic dXNlcjpwYXNz", "bearer-token-without-scheme", "Bearer not.a.jwt"],
    ids=["missing", "empty", "scheme-only", "basic", "no-scheme", "garbage-jwt"],
)
def test_protected_operation_without_a_valid_token_is_unauthorized(
    api: ApiClient, method: str, path: str, authorization: str | None
) -> None:
    body = {"denomination": 10, "quantity": 1} if path.endswith("availability") else None
    if authorization is None:
        exchange = api.request(method, path, token=None, json=body)
    else:
        exchange = api.request(method, path, authorization=authorization, json=body)
    expect_status(exchange, 401, "auth-required", f"{method} {path} with {authorization!r}")


@pytest.mark.rule("auth-required")
@pytest.mark.parametrize("how", ["flipped-signature", "alg-none", "edited-exp"])
def test_tampered_token_is_unauthorized(api: ApiClient, how: str) -> None:
    token = tampered_tokens(api.shared_login.access_token())[how]
    exchange = api.get(LIST, token=token)
    expect_status(exchange, 401, "auth-required", f"a token with {how}")


ATTACKS = [
    "flipped-signature",
    "alg-none",
    "edited-exp",
    "alg-None",
    "alg-NONE",
    "alg-none-keeping-the-signature",
    "wrong-key",
    "expired-claims",
    "not-yet-valid",
    "refresh-token-as-access-token",
    "two-segments",
    "extra-segment",
    "empty-segments",
    "not-base64",
    "header-not-json",
    "empty-bearer",
    "quoted-empty-bearer",
    "megabyte",
]


@pytest.mark.rule("auth-required")
@pytest.mark.parametrize("method,path", PROTECTED)
@pytest.mark.parametrize("attack", ATTACKS)
def test_jwt_attack_is_refused_on_every_protected_operation(
    api: ApiClient, method: str, path: str, attack: str
) -> None:
    body = {"denomination": 10, "quantity": 1} if path.endswith("availability") else None

    def attack_from(tokens: Tokens) -> Exchange:
        authorization = jwt_attacks(tokens.access_token, tokens.refresh_token)[attack]
        exchange = api.request(method, path, authorization=authorization, json=body)
        # The real token still works afterwards: the attack was refused, not the login broken.
        # Refused (revoked meanwhile), the policy builds the attack again from a new login.
        still = api.own_token_works(api.get(LIST, token=tokens.access_token, params={"limit": 1}))
        expect_status(still, 200, "auth-required", "the login the attack was built from")
        return exchange

    exchange = api.with_own_login(attack_from)
    expect_status(exchange, 401, "auth-required", f"{method} {path} with a token '{attack}'")


#: Spellings of protected paths a router may treat as the route itself (a trailing or doubled
#: slash, percent-encoding, dot segments, parameters): under /api/ without a token → 401 (A6,
#: E2). Case differs from the route, so `/API/...` may also be a 404 (no such path).
PATH_VARIANTS = {
    "trailing-slash": ("GET", f"{LIST}/", (401,)),
    "double-slash": ("GET", "/api/v1//products", (401,)),
    "percent-encoded": ("GET", "/api/v1/%70roducts", (401,)),
    "details-trailing-slash": ("GET", f"{LIST}/1001/", (401,)),
    "dot-segments": ("GET", f"{LIST}/1001/../1001", (401,)),
    "encoded-id": ("GET", f"{LIST}/%31001", (401,)),
    "matrix-parameter": ("GET", f"{LIST};v=1", (401,)),
    "availability-trailing-slash": ("POST", f"{LIST}/1001/availability/", (401,)),
    "upper-case": ("GET", "/API/V1/PRODUCTS", (401, 404)),
}
#: A variant a router may take for the route (401, A6) or for no path at all (404, E2): an answer
#: that is neither breaks whichever of the two rules the target's router makes it.
EITHER_ROUTE_OR_NONE = {"upper-case"}


@pytest.mark.rule("auth-required", "unknown-path-404")
@pytest.mark.parametrize("method,target,expected", PATH_VARIANTS.values(), ids=list(PATH_VARIANTS))
def test_path_variants_do_not_bypass_auth(
    api: ApiClient, method: str, target: str, expected: tuple[int, ...]
) -> None:
    body = {"denomination": 10, "quantity": 1} if "availability" in target else None
    exchange = api.request(method, LIST, token=None, json=body, raw_target=target)
    if target in {PATH_VARIANTS[name][1] for name in EITHER_ROUTE_OR_NONE}:
        if exchange.status not in expected:
            raise RulesBroken(
                ("auth-required", "unknown-path-404"),
                f"{method} {target} without a token answered {exchange.status}: neither 401 (the "
                "list route, A6) nor 404 (no such path, E2)",
            )
        return
    expect_status(exchange, expected, "auth-required", f"{method} {target} without a token")


@pytest.mark.rule("auth-checked-first")
@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", f"{LIST}/0", None),
        ("GET", f"{LIST}?limit=0", None),
        ("POST", f"{LIST}/-1/availability", {"denomination": -5}),
        ("GET", "/api/v1/no-such-thing", None),
    ],
    ids=["bad-id", "bad-limit", "bad-body", "unknown-api-path"],
)
def test_auth_is_checked_before_validation(
    api: ApiClient, method: str, path: str, body: Any
) -> None:
    exchange = api.request(method, path, token=None, json=body)
    expect_status(exchange, 401, "auth-checked-first", f"{method} {path} without a token")


# --- refresh (A2) and logout (A3) --------------------------------------------------------------


@pytest.mark.rule("refresh-issues-new-tokens")
def test_refresh_issues_new_working_tokens(api: ApiClient) -> None:
    def refreshed_tokens_work(tokens: Tokens) -> None:
        exchange = api.remember(api.post(REFRESH_PATH, token=tokens.refresh_token))
        rules.token_body_is_complete(exchange, "refresh-issues-new-tokens")
        rules.refresh_issues_new_tokens(exchange, tokens.access_token, tokens.refresh_token)
        new_token = exchange.json["access_token"]
        works = api.own_token_works(api.get(LIST, token=new_token, params={"limit": 1}))
        expect_status(works, 200, "refresh-issues-new-tokens", "the new access token")

    api.with_own_login(refreshed_tokens_work)


def refresh_at_once(api: ApiClient, refresh_token: str, how_many: int) -> list[Any]:
    """`how_many` refreshes of one token, released together from a barrier: their exchanges."""
    barrier = threading.Barrier(how_many)

    def one() -> Any:
        barrier.wait(timeout=10)
        return api.remember(api.post(REFRESH_PATH, token=refresh_token))

    with ThreadPoolExecutor(max_workers=how_many) as pool:
        return list(pool.map(lambda _: one(), range(how_many)))


@pytest.mark.rule("refresh-token-single-use")
def test_simultaneous_refreshes_of_one_token_let_exactly_one_through(api: ApiClient) -> None:
    """A2 under concurrency: a refresh token works once, also when eight clients race for it."""
    tokens = api.own_tokens()
    exactly_one_wins(refresh_at_once(api, tokens.refresh_token, 8))


def exactly_one_wins(exchanges: list[Any]) -> None:
    """Of simultaneous refreshes of one live token, one gets new tokens and the rest 401 (A2).

    A second 200 the ledger reports as it comes; here: that one did win, and the losers got 401.
    """
    statuses = sorted(exchange.status for exchange in exchanges)
    if statuses != [200] + [401] * (len(exchanges) - 1):
        raise RuleViolation(
            "refresh-token-single-use",
            f"{len(exchanges)} simultaneous refreshes of one live token answered {statuses}",
        )


@pytest.mark.rule("refresh-token-single-use")
def test_refresh_token_works_once(api: ApiClient) -> None:
    tokens = api.own_tokens()
    first = api.remember(api.post(REFRESH_PATH, token=tokens.refresh_token))
    expect_status(first, 200, "refresh-issues-new-tokens", "the first use of a refresh token")
    again = api.remember(api.post(REFRESH_PATH, token=tokens.refresh_token))
    expect_status(again, 401, "refresh-token-single-use", "a second use")


@pytest.mark.rule("refresh-rejects-access-token")
def test_refresh_refuses_an_access_token(api: ApiClient) -> None:
    tokens = api.own_tokens()
    exchange = api.remember(api.post(REFRESH_PATH, token=tokens.access_token))
    expect_status(exchange, 401, "refresh-rejects-access-token", "refresh with an access token")


@pytest.mark.rule("logout-revokes-tokens")
def test_logout_revokes_both_tokens(api: ApiClient) -> None:
    tokens = api.own_tokens()
    logout = api.post(LOGOUT_PATH, token=tokens.access_token)
    rules.logout_succeeded(logout)
    after = api.get(LIST, token=tokens.access_token, params={"limit": 1})
    expect_status(after, 401, "logout-revokes-tokens", "the access token after logout")
    refresh = api.remember(api.post(REFRESH_PATH, token=tokens.refresh_token))
    expect_status(refresh, 401, "logout-revokes-tokens", "the refresh token after logout")


@pytest.mark.rule("logout-revokes-tokens")
def test_logout_after_a_refresh_revokes_the_logins_current_tokens(api: ApiClient) -> None:
    """A3 in sequence: login → refresh → logout with the new access token; the refresh token
    issued with it is "the refresh token of the same login" and stops working too."""
    tokens = api.own_tokens()
    renewed = api.remember(api.post(REFRESH_PATH, token=tokens.refresh_token))
    expect_status(renewed, 200, "refresh-issues-new-tokens", "refresh with a live refresh token")
    rules.logout_succeeded(api.post(LOGOUT_PATH, token=renewed.json["access_token"]))
    again = api.remember(api.post(REFRESH_PATH, token=renewed.json["refresh_token"]))
    expect_status(again, 401, "logout-revokes-tokens", "the refreshed login's refresh token")


# --- expiry (A4) -------------------------------------------------------------------------------


@pytest.mark.late  # the run's own length counts towards the wait
@pytest.mark.rule("expired-token-rejected")
def test_the_runs_first_access_token_is_refused_once_expired(api: ApiClient, suite: Suite) -> None:
    """A4 and the 401 of products-api.txt: the preflight's access token, kept unused since the
    run began, is presented again once its `exp` (and the clock leeway) has passed. Forged
    tokens with an old `exp` are refused for their signature as much as for their age; only a
    token the target issued shows that expiry itself is checked.

    The profile says how long the suite may wait beyond the run itself (`expiry_wait_s`): quick
    waits seconds, deep up to 15 minutes, the sandbox's default lifetime. A token that outlives
    that leaves the rule untested, and says so.
    """
    first = suite.first_tokens
    if first is None:
        pytest.skip("this run had no preflight login to keep")
    due = first.expires_at + rules.auth.EXPIRY_LEEWAY_S + 1.0
    wait = due - time.time()
    if wait > suite.profile.expiry_wait_s:
        clock = time.strftime("%H:%M:%S", time.localtime(first.expires_at))
        pytest.skip(
            f"the run's first access token expires at {clock}, {wait:.0f} s from now; profile "
            f"{suite.profile.name} waits at most {suite.profile.expiry_wait_s:g} s (deep waits "
            "up to 15 min; or a target with shorter-lived tokens: octoqa sandbox --token-ttl 3)"
        )
    time.sleep(max(0.0, wait))
    exchange = api.get(LIST, token=first.access_token, params={"limit": 1})
    expect_status(exchange, 401, "expired-token-rejected", "the run's first token, expired")


@pytest.mark.rule("dates-are-rfc3339")
def test_token_dates_are_rfc3339_after_login_and_refresh(api: ApiClient) -> None:
    """getting-started.txt § Date Format: `expires_at` from login and from every refresh."""
    login = api.login()
    rules.dates_are_rfc3339(login)
    refresh_token = login.json["refresh_token"]
    for _ in range(2):  # a second refresh, from the first's refresh token
        refreshed = api.remember(api.post(REFRESH_PATH, token=refresh_token, check=False))
        expect_status(refreshed, 200, "refresh-issues-new-tokens", "refresh")
        rules.dates_are_rfc3339(refreshed)
        refresh_token = refreshed.json["refresh_token"]

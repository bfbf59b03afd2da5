"""Every way a request can reach a handler is guarded (A6): no door serves data without a token.

A router, a framework or a proxy opens doors of its own beside the documented operations:
HEAD answered by the GET handler, OPTIONS, a method-override header, path spellings it maps to the
same handler (a format suffix, `;params`, case, encoded characters, doubled slashes), and the
token read from somewhere other than the Authorization header (a query parameter, a cookie, a
form field). Each is tried without an Authorization header and must be refused: 401, or the 404 /
405 an undeclared method or an unknown path gets (how a router spells a path is left open:
TRACEABILITY § Readings); never data.
"""

from __future__ import annotations

import pytest

from octopus_qa import rules
from octopus_qa.contract.client import ApiClient
from octopus_qa.contract.fixtures import LIST
from octopus_qa.target.session import Tokens

#: A refusal, whichever the door: auth (401), an unknown path (404), an undeclared method (405),
#: a request the HTTP layer refuses to parse (400).
REFUSED = (400, 401, 404, 405)
PRODUCT = f"{LIST}/1"

METHODS = {
    "HEAD list": ("HEAD", LIST, {}),
    "HEAD details": ("HEAD", PRODUCT, {}),
    "OPTIONS list": ("OPTIONS", LIST, {}),
    "POST list overridden to GET": ("POST", LIST, {"X-HTTP-Method-Override": "GET"}),
    "POST list tunnelled as GET": ("POST", LIST, {"X-HTTP-Method": "GET"}),
}

SPELLINGS = {
    "format suffix .json": f"{LIST}.json",
    "format suffix on details": f"{PRODUCT}.json",
    "matrix parameters": f"{LIST};jsessionid=1",
    "trailing slash": f"{LIST}/",
    "upper case": "/API/V1/PRODUCTS",
    "mixed case": "/api/v1/Products",
    "encoded letter": "/api/v1/%70roducts",
    "doubled slash": "/api//v1/products",
    "leading doubled slash": "//api/v1/products",
    "dot segment": "/api/v1/./products",
}


def never_data(exchange: rules.Exchange, door: str) -> None:
    rules.expect_status(exchange, REFUSED, "auth-required", f"{door} without a token")


@pytest.mark.rule("auth-required")
@pytest.mark.parametrize("door", METHODS)
def test_no_method_serves_a_protected_path_without_a_token(api: ApiClient, door: str) -> None:
    method, path, headers = METHODS[door]
    never_data(api.request(method, path, token=None, headers=headers), door)


@pytest.mark.rule("auth-required")
@pytest.mark.parametrize("door", SPELLINGS)
def test_no_path_spelling_serves_the_catalog_without_a_token(api: ApiClient, door: str) -> None:
    spelled = SPELLINGS[door]
    never_data(api.request("GET", spelled, token=None, raw_target=spelled), door)


@pytest.mark.rule("auth-required")
@pytest.mark.parametrize("channel", ["query parameter", "cookie", "form field"])
def test_a_token_anywhere_but_the_authorization_header_is_refused(
    api: ApiClient, channel: str
) -> None:
    """A valid access token, sent where the documents do not put it: 401 (A6). The same token
    in the Authorization header is served, so the 401 was the door's, not a dead token's (one
    revoked meanwhile: the run's re-login policy, ApiClient.with_own_login)."""

    def sent_in_channel(tokens: Tokens) -> rules.Exchange:
        exchange = _send_token_in(api, channel, tokens.access_token)
        live = api.own_token_works(api.get(LIST, token=tokens.access_token, params={"limit": 1}))
        rules.expect_status(live, 200, "auth-required", "the same token in Authorization")
        return exchange

    exchange = api.with_own_login(sent_in_channel)
    rules.expect_status(exchange, 401, "auth-required", f"a token in a {channel}")


def _send_token_in(api: ApiClient, channel: str, token: str) -> rules.Exchange:
    if channel == "query parameter":
        return api.request("GET", LIST, token=None, params={"access_token": token})
    if channel == "cookie":
        cookie = f"access_token={token}; token={token}"
        return api.request("GET", LIST, token=None, headers={"Cookie": cookie})
    return api.request(
        "POST",
        f"{PRODUCT}/availability",
        token=None,
        content=f"access_token={token}&denomination=10&quantity=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

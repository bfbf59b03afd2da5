"""One simulated client's login: renewed before `exp` and after a 401, never once per request.

The access token is a JWT whose `exp` the client reads without verifying it (ASSUMPTIONS A4,
`octopus_qa.target.session.token_expiry`). A token is renewed a little before `exp`: five seconds
or a third of its lifetime when it lives shorter than that (`session.renewal_time`), so a
three-second token is renewed about once every two seconds, not on every request. A refresh
token works once (A2): a failed refresh falls back to a fresh login.
"""

from __future__ import annotations

import time

import jwt
from locust.contrib.fasthttp import FastHttpSession

from octopus_qa.plan.endpoints import ENDPOINTS
from octopus_qa.rules import expired_token_is_rejected
from octopus_qa.rules.auth import EXPIRY_LEEWAY_S
from octopus_qa.target.credentials import Credentials
from octopus_qa.target.session import (
    LOGIN_PATH,
    LOGOUT_PATH,
    REFRESH_PATH,
    renewal_time,
    token_expiry,
)

from .validation import Reply, send

LOGIN, REFRESH, LOGOUT = ENDPOINTS["login"], ENDPOINTS["refresh"], ENDPOINTS["logout"]
EXPIRED = ENDPOINTS["expired"]
PROTECTED_PATH = "/api/v1/products"


class TokenKeeper:
    """The tokens of one simulated client, and the three auth calls that manage them."""

    def __init__(self, client: FastHttpSession, credentials: Credentials) -> None:
        self._client = client
        self._credentials = credentials
        self._access: str | None = None
        #: The Authorization header of `_access`, made once a token rather than once a request.
        self._header: dict[str, str] | None = None
        self._refresh: str | None = None
        self._renew_at = 0.0

    @property
    def logged_in(self) -> bool:
        return self._access is not None

    def authorization(self) -> dict[str, str] | None:
        """The Authorization header for the next request, renewing first if `exp` is near.

        The same dict for every request of one token: read it, never change it (`send` copies
        what it adds)."""
        if self._access is None:
            self.login()
        elif time.time() >= self._renew_at:
            self.refresh()
        return self._header

    def login(self) -> bool:
        reply = send(self._client, LOGIN, LOGIN_PATH, body=self._credentials.as_login_body())
        return self._keep(reply)

    def refresh(self) -> bool:
        """Exchange the refresh token for new tokens; log in again when that fails."""
        if self._refresh is None:
            return self.login()
        reply = send(
            self._client,
            REFRESH,
            REFRESH_PATH,
            headers={"Authorization": f"Bearer {self._refresh}"},
        )
        return self._keep(reply) or self.login()

    def logout(self) -> bool:
        if self._access is None:
            return False
        reply = send(
            self._client,
            LOGOUT,
            LOGOUT_PATH,
            headers={"Authorization": f"Bearer {self._access}"},
            expect=204,
        )
        self._forget()
        return reply.ok

    def unauthorized(self) -> None:
        """A protected request came back 401: renew now rather than repeat the failure."""
        self.refresh()

    def _keep(self, reply: Reply) -> bool:
        body = reply.json
        if not reply.ok or not isinstance(body, dict):
            self._forget()
            return False
        try:
            access, refresh = str(body["access_token"]), str(body["refresh_token"])
            expires_at = token_expiry(access)
        except (KeyError, TypeError, ValueError, jwt.PyJWTError):  # a target fault, not a crash
            self._forget()
            return False
        self._access, self._refresh = access, refresh
        self._header = {"Authorization": f"Bearer {access}"} if access else None
        self._renew_at = renewal_time(expires_at)
        return True

    def _forget(self) -> None:
        self._access = self._refresh = None
        self._header = None
        self._renew_at = 0.0


class ExpiryProbe:
    """A login kept unused from a client's start and presented once, after its `exp` (A4).

    Tokens under load are renewed before they expire, so no ordinary request ever shows that
    the target refuses an expired one; a run that outlives a token lifetime can. The login is
    never refreshed nor logged out (either could end it for another reason), and a target that
    still serves it breaks `expired-token-rejected`, counted like any rule broken under load.
    """

    def __init__(self, client: FastHttpSession, credentials: Credentials) -> None:
        self._client = client
        self._token: str | None = None
        self._due = 0.0
        reply = send(client, LOGIN, LOGIN_PATH, body=credentials.as_login_body())
        body = reply.json
        if reply.ok and isinstance(body, dict):
            try:
                token = str(body["access_token"])
                self._due = token_expiry(token) + EXPIRY_LEEWAY_S + 1.0
            except (KeyError, TypeError, ValueError, jwt.PyJWTError):
                return  # the login's own checks have reported what was wrong with it
            self._token = token

    def due(self) -> bool:
        """Whether the kept token has expired (past the clock leeway) and is yet to be shown."""
        return self._token is not None and time.time() >= self._due

    def present(self) -> None:
        """Present the expired token once: 401 is the answer (A4), anything else a broken rule."""
        token, self._token = self._token, None
        send(
            self._client,
            EXPIRED,
            PROTECTED_PATH,
            query={"limit": "1"},
            headers={"Authorization": f"Bearer {token}"},
            expect=401,
            judge=expired_token_is_rejected,
            judge_any_status=True,
        )

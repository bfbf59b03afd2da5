"""Authentication as a stateful flow: hypothesis drives login, refresh, logout and the reuse of
spent, revoked, tampered and missing credentials in any order, and checks each answer against a
model of which tokens should work (ASSUMPTIONS A1-A3, A6). Its steps include simultaneous
refreshes of one token (exactly one may win, A2), refresh tokens used as access tokens in any
state, and the JWT attack matrix of test_auth.py on tokens live at that point.

The model chooses the steps and says what a live token must get (200, 204); what a spent,
revoked or misplaced token must get (401) is judged by the run's `rules.TokenLedger`, which the
client runs on every exchange, so the lifecycle has one implementation. Only what the documents
and ASSUMPTIONS.md fix is judged: a refreshed login's old access token is neither required to
work nor to fail, so the flow never asks about it. A live token refused (revoked by someone else
mid-run) follows the run's one re-login policy: the model gives that login up and logs in again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from hypothesis.strategies import data, sampled_from

from octopus_qa.contract.client import ApiClient
from octopus_qa.contract.fixtures import LIST
from octopus_qa.contract.suite import Suite
from octopus_qa.rules import expect_status
from octopus_qa.target.session import LOGOUT_PATH, REFRESH_PATH, Tokens

from .test_auth import ATTACKS, exactly_one_wins, jwt_attacks, refresh_at_once

LIVE, SPENT, REVOKED = "live", "spent", "revoked"
#: A live login whose access token was refused: revoked by someone else (an admin, a deployment),
#: which the model cannot judge; it asks nothing more of it.
GONE = "revoked elsewhere"
MAX_LOGINS = 4


@dataclass
class Login:
    access: str
    refresh: str
    state: str = LIVE  # spent: refreshed (its refresh token used); revoked: logged out


class AuthFlow(RuleBasedStateMachine):
    client: ApiClient

    def __init__(self) -> None:
        super().__init__()
        self.logins: list[Login] = []

    def _of(self, *states: str) -> list[Login]:
        return [login for login in self.logins if login.state in states]

    def _expect(self, exchange: Any, status: int, rule_id: str, what: str) -> None:
        expect_status(exchange, status, rule_id, what)

    @precondition(lambda self: len(self.logins) < MAX_LOGINS)
    @rule()
    def log_in(self) -> None:
        exchange = self.client.login()
        self._expect(exchange, 200, "login-issues-tokens", "login")
        self.logins.append(Login(exchange.json["access_token"], exchange.json["refresh_token"]))

    @precondition(lambda self: self._of(LIVE) or self._of(REVOKED))
    @rule(data=data())
    def use_access_token(self, data: Any) -> None:
        login = data.draw(sampled_from(self._of(LIVE) + self._of(REVOKED)))
        exchange = self.client.get(LIST, token=login.access, params={"limit": 1})
        if login.state == LIVE and exchange.status == 401:
            self._log_in_again(login)
        elif login.state == LIVE:
            self._expect(exchange, 200, "auth-required", "a live access token")
        # after logout: the ledger requires the 401 (logout-revokes-tokens)

    def _log_in_again(self, refused: Login) -> None:
        """A live access token refused: the run's one re-login policy (ApiClient.with_own_login,
        as for the shared token). The model gives that login up and goes on with a new one whose
        token works; refused too, a moment after its login, the run stops as not judged."""
        refused.state = GONE

        def working(tokens: Tokens) -> Tokens:
            exchange = self.client.get(LIST, token=tokens.access_token, params={"limit": 1})
            self.client.own_token_works(exchange)
            return tokens

        tokens = self.client.with_own_login(working)
        self.logins.append(Login(tokens.access_token, tokens.refresh_token))

    @precondition(lambda self: bool(self.logins))
    @rule(data=data())
    def refresh(self, data: Any) -> None:
        login = data.draw(sampled_from(self.logins))
        exchange = self.client.remember(self.client.post(REFRESH_PATH, token=login.refresh))
        if login.state == LIVE:
            self._expect(
                exchange, 200, "refresh-issues-new-tokens", "refresh with a live refresh token"
            )
            login.state = SPENT
            self.logins.append(Login(exchange.json["access_token"], exchange.json["refresh_token"]))
        # spent or logged out: the ledger requires the 401 (refresh-token-single-use,
        # logout-revokes-tokens)

    @precondition(lambda self: bool(self._of(LIVE)))
    @rule(data=data())
    def refresh_with_access_token(self, data: Any) -> None:
        login = data.draw(sampled_from(self._of(LIVE)))
        # the ledger requires the 401 (refresh-rejects-access-token)
        self.client.remember(self.client.post(REFRESH_PATH, token=login.access))

    @precondition(lambda self: bool(self._of(LIVE) or self._of(REVOKED)))
    @rule(data=data())
    def log_out(self, data: Any) -> None:
        login = data.draw(sampled_from(self._of(LIVE) + self._of(REVOKED)))
        exchange = self.client.post(LOGOUT_PATH, token=login.access)
        if login.state == LIVE:
            self._expect(exchange, 204, "logout-revokes-tokens", "logout with a live access token")
            login.state = REVOKED
        # a second logout: the ledger requires the 401 (logout-revokes-tokens)

    @precondition(lambda self: bool(self._of(LIVE)))
    @rule(data=data(), how=sampled_from([a for a in ATTACKS if a != "megabyte"]))
    def use_attacked_token(self, data: Any, how: str) -> None:
        """The JWT attack matrix (test_auth.py), on a token that is live at this point."""
        login = data.draw(sampled_from(self._of(LIVE)))
        authorization = jwt_attacks(login.access, login.refresh)[how]
        exchange = self.client.get(LIST, authorization=authorization, params={"limit": 1})
        self._expect(exchange, 401, "auth-required", f"an access token with {how}")

    @precondition(lambda self: bool(self._of(LIVE, SPENT, REVOKED)))
    @rule(data=data())
    def use_refresh_token_as_access_token(self, data: Any) -> None:
        """A refresh token is no access token (A2, A6), whatever became of its login."""
        login = data.draw(sampled_from(self._of(LIVE, SPENT, REVOKED)))
        exchange = self.client.get(LIST, token=login.refresh, params={"limit": 1})
        self._expect(exchange, 401, "auth-required", f"a {login.state} refresh token as access")

    @precondition(lambda self: bool(self._of(LIVE)))
    @rule(data=data(), how_many=sampled_from([2, 3, 5]))
    def refresh_concurrently(self, data: Any, how_many: int) -> None:
        """A2 under a race: of simultaneous refreshes of one live token, exactly one succeeds."""
        login = data.draw(sampled_from(self._of(LIVE)))
        exchanges = refresh_at_once(self.client, login.refresh, how_many)
        won = [exchange for exchange in exchanges if exchange.status == 200]
        exactly_one_wins(exchanges)
        login.state = SPENT
        self.logins.append(Login(won[0].json["access_token"], won[0].json["refresh_token"]))

    @rule(authorization=sampled_from([None, "", "Bearer", "Token abc", "Bearer a.b.c"]))
    def send_missing_or_malformed_authorization(self, authorization: str | None) -> None:
        if authorization is None:
            exchange = self.client.get(LIST, token=None)
        else:
            exchange = self.client.get(LIST, authorization=authorization)
        self._expect(exchange, 401, "auth-required", f"Authorization {authorization!r}")

    @invariant()
    def live_logins_stay_bounded(self) -> None:
        # The model's own sanity: a refresh spends one live login for each it creates.
        assert len(self._of(LIVE)) <= MAX_LOGINS


@pytest.mark.rule(
    "auth-required",
    "login-issues-tokens",
    "refresh-issues-new-tokens",
    "refresh-token-single-use",
    "refresh-rejects-access-token",
    "logout-revokes-tokens",
)
def test_auth_flow_holds_in_any_order(api: ApiClient, suite: Suite) -> None:
    flow = type("BoundAuthFlow", (AuthFlow,), {"client": api})
    run = settings(
        max_examples=suite.profile.stateful_examples,
        stateful_step_count=suite.profile.stateful_steps,
    )
    run_state_machine_as_test(flow, settings=run)

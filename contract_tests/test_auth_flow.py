"""Authentication as a stateful flow: hypothesis drives login, refresh, logout and the reuse of
spent, revoked, tampered and missing credentials in any order, and checks each answer against a
model of which tokens should work (ASSUMPTIONS A1-A3, A6).

The model only judges what the documents and ASSUMPTIONS.md fix: a refreshed login's old access
token is neither required to work nor to fail, so the flow never asks about it.
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
from octopus_qa.contract.suite import Suite
from octopus_qa.session import LOGOUT_PATH, REFRESH_PATH

from .fixtures import LIST
from .test_auth import tampered_tokens

LIVE, SPENT, REVOKED = "live", "spent", "revoked"
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

    def _of(self, state: str) -> list[Login]:
        return [login for login in self.logins if login.state == state]

    def _expect(self, exchange: Any, status: int, rule_id: str, what: str) -> None:
        assert exchange.status == status, (
            f"[{rule_id}] {what}: answered {exchange.status}, expected {status}"
        )

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
        if login.state == LIVE:
            self._expect(exchange, 200, "auth-required", "a live access token")
        else:
            self._expect(exchange, 401, "logout-revokes-tokens", "an access token after logout")

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
        elif login.state == SPENT:
            self._expect(exchange, 401, "refresh-token-single-use", "a refresh token used twice")
        else:
            self._expect(exchange, 401, "logout-revokes-tokens", "a refresh token after logout")

    @precondition(lambda self: bool(self._of(LIVE)))
    @rule(data=data())
    def refresh_with_access_token(self, data: Any) -> None:
        login = data.draw(sampled_from(self._of(LIVE)))
        exchange = self.client.remember(self.client.post(REFRESH_PATH, token=login.access))
        self._expect(exchange, 401, "refresh-rejects-access-token", "refresh with an access token")

    @precondition(lambda self: bool(self._of(LIVE) or self._of(REVOKED)))
    @rule(data=data())
    def log_out(self, data: Any) -> None:
        login = data.draw(sampled_from(self._of(LIVE) + self._of(REVOKED)))
        exchange = self.client.post(LOGOUT_PATH, token=login.access)
        if login.state == LIVE:
            self._expect(exchange, 204, "logout-revokes-tokens", "logout with a live access token")
            login.state = REVOKED
        else:
            self._expect(
                exchange, 401, "logout-revokes-tokens", "logout with a revoked access token"
            )

    @precondition(lambda self: bool(self._of(LIVE)))
    @rule(data=data(), how=sampled_from(["flipped-signature", "alg-none", "edited-exp"]))
    def use_tampered_token(self, data: Any, how: str) -> None:
        login = data.draw(sampled_from(self._of(LIVE)))
        exchange = self.client.get(
            LIST, token=tampered_tokens(login.access)[how], params={"limit": 1}
        )
        self._expect(exchange, 401, "auth-required", f"an access token with {how}")

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

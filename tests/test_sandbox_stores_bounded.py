"""The sandbox's token stores stay bounded over a long run of logins, refreshes and logouts:
revocations are kept only while a token they cover could still be used."""

from __future__ import annotations

import time

import jwt

from octopus_qa.sandbox.auth import TokenAuthority
from octopus_qa.target.credentials import Credentials

ACCOUNT = Credentials("stores@octopus.example", "a stores test password")


class Clock:
    """Starts at the real time (PyJWT checks iat and exp against it), moved on by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _authority(clock: Clock, max_sessions: int = 50) -> TokenAuthority:
    return TokenAuthority(
        ACCOUNT, access_ttl=60, refresh_ttl=600, cache_entries=100, max_sessions=max_sessions,
        clock=clock,
    )  # fmt: skip


def test_revocations_are_forgotten_once_every_token_they_cover_has_expired() -> None:
    clock = Clock()
    tokens = _authority(clock)
    for _ in range(500):
        issued = tokens.login(ACCOUNT.username)
        claims = tokens.authenticate(issued.access_token)
        assert claims is not None
        tokens.logout(claims)
        assert tokens.authenticate(issued.access_token) is None  # revoked at once
    assert tokens.store_sizes()["revoked_sessions"] == 500
    clock.now += 61  # every access token issued so far has expired (by the authority's clock)
    last = tokens.login(ACCOUNT.username)
    # Its iat is in PyJWT's future (it checks against real time): read the claims unverified.
    tokens.logout(jwt.decode(last.access_token, options={"verify_signature": False}))
    assert tokens.store_sizes()["revoked_sessions"] == 1


def test_sessions_and_refresh_tokens_are_capped_under_endless_logins() -> None:
    clock = Clock()
    tokens = _authority(clock, max_sessions=50)
    for _ in range(2_000):
        issued = tokens.login(ACCOUNT.username)
        tokens.refresh(issued.refresh_token)
    sizes = tokens.store_sizes()
    assert sizes["sessions"] <= 50 and sizes["refresh_tokens"] <= 50
    assert sizes["verified_cache"] <= 100

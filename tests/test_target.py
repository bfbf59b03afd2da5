"""Choosing the target: a named URL, OCTOPUS_BASE_URL, or the embedded sandbox (ASSUMPTIONS A5)."""

from __future__ import annotations

import pytest

from octopus_qa.errors import UsageError
from octopus_qa.target import EMBEDDED, is_loopback, resolve_target
from octopus_qa.target.credentials import DEMO_PASSWORD, DEMO_USERNAME, Credentials


def test_no_target_means_the_embedded_sandbox() -> None:
    assert resolve_target(None, environ={}) == EMBEDDED
    assert resolve_target("embedded", environ={"OCTOPUS_BASE_URL": "http://x.test"}) == EMBEDDED


def test_option_wins_over_environment_and_trailing_slash_is_dropped() -> None:
    environ = {"OCTOPUS_BASE_URL": "https://from-env.test"}
    assert resolve_target("http://127.0.0.1:9000/", environ=environ) == "http://127.0.0.1:9000"
    assert resolve_target(None, environ=environ) == "https://from-env.test"


@pytest.mark.parametrize(
    "value", ["ftp://host", "127.0.0.1:8080", "http://", "http://h:99999", "x"]
)
def test_malformed_target_is_a_usage_error(value: str) -> None:
    with pytest.raises(UsageError, match="target"):
        resolve_target(value, environ={})


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://127.9.9.9", True),
        ("http://localhost:1", True),
        ("http://[::1]:8080", True),
        ("https://sandbox-api.octopuscards.io", False),
        ("http://10.0.0.1", False),
        ("http://192.168.1.1", False),
    ],
)
def test_loopback_means_this_machine_only(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def test_credentials_come_from_the_environment_else_the_demo_account() -> None:
    assert Credentials.from_env({}) == Credentials(DEMO_USERNAME, DEMO_PASSWORD)
    env = {"OCTOPUS_USERNAME": "qa", "OCTOPUS_PASSWORD": "s3cret-value"}
    credentials = Credentials.from_env(env)
    assert credentials.as_login_body() == {"username": "qa", "password": "s3cret-value"}
    assert "s3cret-value" not in repr(credentials)

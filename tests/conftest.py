"""Fixtures shared by the sandbox tests: a fresh sandbox app per test, driven in-process.

The client and the rule probes live in `sandbox_client.py` and `sandbox_probes.py` beside this
file; this module only hands out instances.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sandbox_client import TEST_CREDENTIALS, Api

from octopus_qa.sandbox import create_app


@pytest.fixture
def make_api() -> Iterator[Callable[..., Api]]:
    """Build sandboxes with `create_app` options (faults, token_ttl, ...), closed after the test."""
    opened: list[Api] = []

    def make(**create_app_kwargs: Any) -> Api:
        create_app_kwargs.setdefault("credentials", TEST_CREDENTIALS)
        api = Api(create_app(**create_app_kwargs), create_app_kwargs["credentials"])
        opened.append(api)
        return api

    yield make
    for api in opened:
        api.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """A clean sandbox (no faults), with the test account."""
    return make_api()

"""A short soak (bench/soak.py): under the load suite's soak profile for half a minute, and
under an open-model rate of its own (`--rate`), the sandbox answers no 5xx and its token stores
stay within their bounds."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from contract_runs import REPO_ROOT


def _soak(*args: str) -> dict[str, Any]:
    """bench/soak.py with `args`, for half a minute; its result, checked for 5xx and stores."""
    done = subprocess.run(
        [sys.executable, "bench/soak.py", "--minutes", "0.5", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    result: dict[str, Any] = json.loads(done.stdout[: done.stdout.rindex("}") + 1])
    assert done.returncode == 0, result
    assert result["server_errors_5xx"] == 0 and result["stores_within_bounds"]
    assert result["requests"] > 0
    return result


@pytest.mark.soak
def test_short_soak_has_no_server_errors_and_bounded_stores() -> None:
    _soak()


@pytest.mark.soak
def test_short_soak_at_an_open_model_rate_sends_that_rate() -> None:
    result = _soak("--rate", "100")
    assert result["profile"] == "soak-arrival" and result["offered_rps"] == 100
    assert result["load_exit_code"] == 0 and result["verdict"] == "pass", result
    assert result["generator"]["schedule"]["starts"] > 0  # an open-model (arrival) run

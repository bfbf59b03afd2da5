"""A short soak (bench/soak.py): under the load suite's soak profile for half a minute the
sandbox answers no 5xx and its token stores stay within their bounds."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from contract_runs import REPO_ROOT


@pytest.mark.soak
def test_short_soak_has_no_server_errors_and_bounded_stores() -> None:
    done = subprocess.run(
        [sys.executable, "bench/soak.py", "--minutes", "0.5"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    result = json.loads(done.stdout[: done.stdout.rindex("}") + 1])
    assert done.returncode == 0, result
    assert result["server_errors_5xx"] == 0 and result["stores_within_bounds"]
    assert result["requests"] > 0

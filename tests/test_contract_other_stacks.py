"""Targets on other HTTP stacks: the quick profile against the sandbox served by uvicorn with h11
(`octoqa sandbox --http h11`) and by aiohttp's own server (tests/aiohttp_target.py), each in a
process of its own on loopback, as a user's deployment would be.

The API is the sandbox's in both; only the layer in front differs, and each refuses what it will
not read its own way (h11: a 400 in plain text for headers past 16 KB; aiohttp: a 400 for a
header line or request line past 8 KB, 413 for a body past 1 MiB, before any handler). Zero false
alarms on both, whatever the seed; and a planted fault is still caught behind h11, among them the
one that drops the connection (sort-echo-drops-connection) without the run calling the target
lost.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_runs import ContractResult, run_contract, sandbox

from octopus_qa.sandbox.server import server_process

AIOHTTP_TARGET = Path(__file__).with_name("aiohttp_target.py")
#: Seed 1 in every run of this project's tests; seed 2 too in the soak (tox -e soak): each run
#: costs half a minute, and CI's budget is shared by the whole suite.
SEEDS = [1, pytest.param(2, marks=pytest.mark.soak)]


@contextlib.contextmanager
def aiohttp_target(*args: str) -> Iterator[str]:
    """tests/aiohttp_target.py on a free loopback port for the block; yields its URL."""
    command = [sys.executable, str(AIOHTTP_TARGET), *args, "--port"]
    with server_process(lambda port: [*command, str(port)]) as url:
        yield url


STACKS = {
    "uvicorn-h11": lambda: sandbox("--http", "h11"),
    "aiohttp": aiohttp_target,
}


@pytest.fixture(scope="module", params=list(STACKS))
def other_stack(request: pytest.FixtureRequest) -> Iterator[str]:
    """One target per stack, shared by the seeds' runs (each run logs in for itself)."""
    with STACKS[request.param]() as url:
        yield url


def _failing(result: ContractResult) -> list[str]:
    return [rule for rule, entry in result.summary["rules"].items() if entry["status"] == "fail"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_quick_profile_raises_no_false_alarm_on_another_stack(
    other_stack: str, seed: int, tmp_path: Path
) -> None:
    result = run_contract(
        tmp_path, "--target", other_stack, "--profile", "quick", "--seed", str(seed)
    )
    assert result.exit_code == 0, (
        f"seed {seed}: exit {result.exit_code}, failing {_failing(result)}\n{result.stdout[-4000:]}"
    )
    assert result.summary["verdict"] == "pass"


@pytest.mark.slow
def test_a_dropped_connection_is_a_broken_exchange_not_a_lost_target(tmp_path: Path) -> None:
    """Behind h11, the fault's multi-line sort gets no answer at all, twice, while the target
    answers everything else: the run names the rule (documented-status-codes) and exits 1, not
    2 ("the target went away"). `-x`, as the kill-rate test: the first failure is the one."""
    with sandbox("--http", "h11", "--fault", "sort-echo-drops-connection") as url:
        result = run_contract(
            tmp_path, "--target", url, "--profile", "quick", "--seed", "1", "--", "-x"
        )
    assert result.exit_code == 1, f"exit {result.exit_code}\n{result.stdout[-3000:]}"
    assert _failing(result) == ["documented-status-codes"], result.stdout[-3000:]
    assert "went away" not in result.stdout + result.stderr
    assert "though the target answered a probe" in result.stdout

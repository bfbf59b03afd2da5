"""Helpers for tests/test_contract_*.py (no tests here): running `octoqa sandbox` and
`octoqa contract` in subprocesses, as a user would.

Shared by tests/test_contract_*.py. Every process is bounded in time and stopped by its own pid.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from octopus_qa.sandbox.server import sandbox_process

OCTOQA = [sys.executable, "-m", "octopus_qa"]
REPO_ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def sandbox(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`octoqa sandbox --port P [args]` for the block (env: e.g. its account); yields its URL."""
    with sandbox_process(*args, env={**os.environ, **(env or {})}) as url:
        yield url


@dataclass
class ContractResult:
    exit_code: int
    stdout: str
    stderr: str
    duration_s: float
    report_dir: Path

    @property
    def summary(self) -> dict[str, Any]:
        return dict(json.loads((self.report_dir / "contract" / "summary.json").read_text()))

    def rule_status(self, rule_id: str) -> str:
        return str(self.summary["rules"][rule_id]["status"])


def run_contract(
    report_dir: Path,
    *args: str,
    timeout_s: float = 600.0,
    env: dict[str, str] | None = None,
) -> ContractResult:
    """`octoqa contract --report-dir DIR [args]`, bounded in time."""
    started = time.monotonic()
    completed = subprocess.run(
        [*OCTOQA, "contract", "--report-dir", str(report_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
    )
    return ContractResult(
        completed.returncode,
        completed.stdout,
        completed.stderr,
        time.monotonic() - started,
        report_dir,
    )


def stderr_lines(result: ContractResult) -> Sequence[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]

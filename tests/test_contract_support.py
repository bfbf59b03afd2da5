"""Helpers for tests/test_contract_*.py (no tests here): running `octoqa sandbox` and
`octoqa contract` in subprocesses, as a user would.

Shared by tests/test_contract_*.py. Every process is bounded in time and stopped by its own pid.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OCTOQA = [sys.executable, "-m", "octopus_qa"]
REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"octoqa sandbox exited early with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"octoqa sandbox did not listen on {port} within {deadline_s} s")


@contextmanager
def sandbox(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`octoqa sandbox --port P [args]` for the block (env: e.g. its account); yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [*OCTOQA, "sandbox", "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
    )
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


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

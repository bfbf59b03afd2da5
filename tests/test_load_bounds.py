"""Every load run ends on its own: Locust that overruns its run time plus grace is stopped
(SIGTERM, then SIGKILL to its whole process group) and the run says so."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from octopus_qa.loadtest import runner

STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('started', flush=True); time.sleep(120)"
)


def test_a_locust_that_overruns_and_ignores_sigterm_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "STARTUP_GRACE_S", 0.5)
    monkeypatch.setattr(runner, "SHUTDOWN_GRACE_S", 0.5)
    monkeypatch.setattr(runner, "TERMINATE_WAIT_S", 0.5)
    step = SimpleNamespace(run_time_s=0.5, load_dir=tmp_path)
    started = time.monotonic()
    exit_code = runner.run_locust([sys.executable, "-c", STUBBORN], step)  # type: ignore[arg-type]
    assert exit_code is None  # stopped, not finished: it would have slept for 120 s
    assert time.monotonic() - started < 60
    problem = runner.locust_problem(exit_code, None, step)  # type: ignore[arg-type]
    assert problem is not None and "overran its hard limit of 1.5 s" in problem
    assert "started" in (tmp_path / "locust.log").read_text()

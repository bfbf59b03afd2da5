"""run_bounded: a child process under a deadline, and nothing of it left behind."""

from __future__ import annotations

import sys
import time

import psutil

from octopus_qa.supervisor import run_bounded

#: A child that starts a grandchild in its own process group (as Locust forks its workers) and
#: exits at once without stopping it, printing the grandchild's pid.
LEAVES_A_CHILD_BEHIND = """
import subprocess, sys
child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(60)"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
print(child.pid)
"""


def still_running(pid: int, within_s: float = 5.0) -> bool:
    """Whether `pid` still runs after up to `within_s` (a killed orphan is a zombie until
    whoever adopted it reaps it: that is not running)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            return False
        time.sleep(0.05)
    return True


def test_what_a_child_leaves_running_in_its_group_is_stopped_when_it_exits() -> None:
    exit_code, out, _ = run_bounded([sys.executable, "-c", LEAVES_A_CHILD_BEHIND], 30)
    assert exit_code == 0
    assert not still_running(int(out))


def test_a_child_past_its_deadline_is_stopped_with_its_group() -> None:
    started = time.monotonic()
    exit_code, _, _ = run_bounded(
        [sys.executable, "-c", "import time; time.sleep(60)"], 0.5, terminate_wait_s=1
    )
    assert exit_code is None and time.monotonic() - started < 10

"""Running a child process under a hard deadline, its whole process group with it.

The pipeline's stages and the load runner's Locust both run as subprocesses that may start
children of their own (Locust's workers); each gets its own session, so stopping it stops them
all, and nothing outlives the deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import TextIO


def run_bounded(
    argv: Sequence[str],
    timeout_s: float,
    *,
    output: TextIO | None = None,
    terminate_wait_s: float = 10.0,
    env: Mapping[str, str] | None = None,
) -> tuple[int | None, str, str]:
    """Run `argv` in its own process group; past `timeout_s` the whole group is stopped.

    Stopped means SIGTERM first (Locust, for one, writes its reports then), SIGKILL to the group
    after `terminate_wait_s`; an interrupt of this process kills the group at once. With
    `output`, stdout and stderr go to that file as they come (a long run's log survives a kill);
    else they are collected and returned. `env` is added to this process's environment.
    Returns (exit code or None on timeout, stdout, stderr).
    """
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE if output is None else output,
        stderr=subprocess.PIPE if output is None else subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
    )
    try:
        out, err = process.communicate(timeout=timeout_s)
        _stop_leftovers(process.pid)
        return process.returncode, out or "", err or ""
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            out, err = process.communicate(timeout=terminate_wait_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
        _stop_leftovers(process.pid)
        return None, out or "", err or ""
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def _stop_leftovers(group: int) -> None:
    """What the child left running in its group once it exited (Locust's forked workers, when
    its master could not start): killed, so that nothing outlives the run."""
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the usual case: the group ended with its leader

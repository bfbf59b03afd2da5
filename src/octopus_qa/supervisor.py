"""Running a child process under a hard deadline, its whole process group with it.

The pipeline's stages and the load runner's Locust both run as subprocesses that may start
children of their own (Locust's workers); each gets its own session, so stopping it stops them
all, and nothing outlives the deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence


def run_bounded(argv: Sequence[str], timeout_s: float) -> tuple[int | None, str, str]:
    """Run `argv` in its own process group; past `timeout_s` the whole group is stopped.

    Returns (exit code or None on timeout, stdout, stderr).
    """
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        out, err = process.communicate(timeout=timeout_s)
        return process.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            out, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
        return None, out, err
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise

"""Where a run's reports go: `reports/<run-id>/`, with `reports/latest` pointing at the newest.

`octoqa run` passes `--report-dir` so every stage writes into one run directory; on its own,
`octoqa load` makes a new one (run id `YYYYMMDD-HHMMSS-xxxx`).
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

REPORTS_ROOT = Path("reports")
LATEST = "latest"


def new_run_id(now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"{stamp}-{secrets.token_hex(2)}"


def new_run_dir(root: Path = REPORTS_ROOT) -> Path:
    """A fresh run directory under `root`, and `root/latest` pointed at it."""
    run_dir = root / new_run_id()
    run_dir.mkdir(parents=True)
    link = root / LATEST
    temporary = root / f".{LATEST}-{run_dir.name}"
    temporary.symlink_to(run_dir.name)
    os.replace(temporary, link)  # atomic: `latest` never dangles or disappears
    return run_dir

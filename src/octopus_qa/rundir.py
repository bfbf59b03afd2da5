"""Where one run's files go: `reports/<run-id>/`, and the `reports/latest` pointer to the newest.

Run ids sort by time (`YYYYMMDD-HHMMSS-xxxx`, the suffix random so that two runs started in the
same second do not share a folder), so the trend can order earlier runs by name alone.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import datetime
from pathlib import Path

RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{4}$")
LATEST = "latest"
#: Reports go under the working directory, like any test runner's output.
REPORTS_ROOT = Path("reports")


def new_run_id(now: datetime | None = None) -> str:
    """A fresh run id for a run started `now` (local time)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


def point_latest_at(run_dir: Path) -> Path:
    """Make `<reports root>/latest` a relative symlink to `run_dir`, replacing it atomically."""
    link = run_dir.parent / LATEST
    staging = run_dir.parent / f".{LATEST}-{secrets.token_hex(4)}"
    staging.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(staging, link)
    return link


def earlier_run_dirs(run_dir: Path, limit: int) -> list[Path]:
    """Up to `limit` sibling runs older than `run_dir` that left a run summary, oldest first."""
    root = run_dir.parent
    if not root.is_dir():
        return []
    # A run folder named by its id only looks back; one the user named sees every run id beside it.
    newest = run_dir.name if RUN_ID.match(run_dir.name) else "~"
    names = sorted(
        entry.name
        for entry in root.iterdir()
        if RUN_ID.match(entry.name)
        and entry.name < newest
        and not entry.is_symlink()
        and (entry / "summary.json").is_file()
    )
    return [root / name for name in names[-limit:]] if limit > 0 else []

"""Helpers for the load tests (no tests here): a copy of `load/` a test may add profiles to,
the open-model profile the live-metrics tests watch, and an environment without a target."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from octopus_qa.loadtest.runner import DEFAULT_LOAD_DIR


def load_dir_with(tmp_path: Path, profiles: str) -> Path:
    """A copy of the shipped `load/` under `tmp_path`, with `profiles` (TOML) appended to its
    profiles.toml: the shipped files stay as they are."""
    directory = tmp_path / "load-dir"
    shutil.copytree(
        DEFAULT_LOAD_DIR, directory, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    with (directory / "profiles.toml").open("a", encoding="utf-8") as handle:
        handle.write(profiles)
    return directory


#: This process's environment without the variables that name a target or an account: a test
#: names its own (the machine's shell may have them set for a real deployment).
CLEAN_ENV = {
    key: value
    for key, value in os.environ.items()
    if key not in ("OCTOPUS_BASE_URL", "OCTOPUS_USERNAME", "OCTOPUS_PASSWORD")
}


def watched_profile(name: str) -> str:
    """An open-model profile (TOML) of 20 task runs a second from 10 users for 12 s: long
    enough for a scraper at one second to see it run, short enough for a test."""
    return f"""
[profile.{name}]
kind = "arrival"
description = "test: 20 task runs/s from 10 users over two workers, 12 s"
rate_rps = 20
per_user_rps = 2
ramp_s = 1
hold_s = 11
"""

"""Helpers for the load tests (no tests here): a copy of `load/` a test may add profiles to."""

from __future__ import annotations

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

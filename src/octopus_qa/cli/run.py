"""`octoqa run`: not built yet (placeholder owned by the run work)."""

from __future__ import annotations

import argparse

from ..errors import UsageError

HELP = "(run: not built yet)"


def configure(parser: argparse.ArgumentParser) -> None:
    del parser


def main(args: argparse.Namespace) -> int:
    raise UsageError("octoqa run is not built yet")

"""`octoqa load`: not built yet (placeholder owned by the load work)."""

from __future__ import annotations

import argparse

from ..errors import UsageError

HELP = "(load: not built yet)"


def configure(parser: argparse.ArgumentParser) -> None:
    del parser


def main(args: argparse.Namespace) -> int:
    raise UsageError("octoqa load is not built yet")

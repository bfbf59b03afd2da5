"""`octoqa sandbox`: not built yet (placeholder owned by the sandbox work)."""

from __future__ import annotations

import argparse

from ..errors import UsageError

HELP = "(sandbox: not built yet)"


def configure(parser: argparse.ArgumentParser) -> None:
    del parser


def main(args: argparse.Namespace) -> int:
    raise UsageError("octoqa sandbox is not built yet")

"""`octoqa contract`: not built yet (placeholder owned by the contract work)."""

from __future__ import annotations

import argparse

from ..errors import UsageError

HELP = "(contract: not built yet)"


def configure(parser: argparse.ArgumentParser) -> None:
    del parser


def main(args: argparse.Namespace) -> int:
    raise UsageError("octoqa contract is not built yet")

"""`octoqa init [DIR]`: editable copies of the shipped configuration files, to make your own.

The command line only; what it writes, and how octoqa finds the directory later, is
`octopus_qa.config`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import config

HELP = "write editable copies of the default profiles, SLOs, allow-list and pipeline table"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "directory",
        nargs="?",
        type=Path,
        default=config.CONVENTIONAL_DIR,
        metavar="DIR",
        help=f"where to write them (default: ./{config.CONVENTIONAL_DIR}/, which octoqa finds "
        "in the working directory by itself)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite files that exist")


def main(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    written = config.write_defaults(directory, force=args.force)
    shown = config.display(directory)
    print(f"octoqa init: wrote {len(written)} files into {shown}/")
    width = max(len(entry.name) for entry in written)
    for entry in written:
        print(f"  {entry.name:<{width}}  {entry.about}")
    print(
        "Edit what you need and delete the rest: a file missing from the directory means the "
        "shipped default."
    )
    if directory.resolve() == config.CONVENTIONAL_DIR.resolve():
        print(
            f"octoqa contract, load and run read ./{config.CONVENTIONAL_DIR}/ by themselves when "
            f"run from this directory; from elsewhere pass --config {directory.resolve()}."
        )
    else:
        print(
            f"Use it with --config {shown} on octoqa contract, load and run "
            f"(or export {config.ENV_VAR}={directory.resolve()})."
        )
    return 0

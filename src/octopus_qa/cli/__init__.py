"""The `octoqa` command: parses the command line and hands each subcommand to its module.

Each subcommand lives in `octopus_qa/cli/<name>.py` with `HELP`, `configure(parser)` and
`main(args) -> int`; what a subcommand runs lives outside `cli/`. This is the one place that turns
an `OctoqaError` into one line on stderr and exit code 2, and the one place that adds `--config`
to the subcommands that read configuration and puts the directory in force while they run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import __version__, config
from ..errors import OctoqaError

SUBCOMMANDS = ("sandbox", "contract", "load", "capacity", "run", "init", "token")
#: The subcommands that read the user-editable files (octopus_qa.config.FILES).
CONFIGURED = ("contract", "load", "capacity", "run")
#: The stages `octoqa run` starts, which take its written plan instead of deciding the run again.
PLANNED = ("contract", "load")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="octoqa", description="Contract and load testing for the Octopus Cards API."
    )
    parser.add_argument("--version", action="version", version=f"octoqa {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sub)
        if name in CONFIGURED:
            sub.add_argument(
                "--config",
                type=Path,
                metavar="DIR",
                help=f"your own configuration files, each replacing the shipped one (default: "
                f"${config.ENV_VAR}, else ./{config.CONVENTIONAL_DIR}/ if it exists; "
                "`octoqa init` writes them)",
            )
        if name in PLANNED:
            sub.add_argument(
                "--plan",
                type=Path,
                metavar="FILE",
                help="a run plan (plan.json) written by `octoqa run`: the run as it decided it "
                "(the other options are then not read)",
            )
        sub.set_defaults(handler=module.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with config.using(getattr(args, "config", None)):
            return int(args.handler(args))
    except OctoqaError as exc:
        print(f"octoqa: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("octoqa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`octoqa sandbox --list-faults | head`): not an error of ours.
        sys.stderr.close()
        return 0

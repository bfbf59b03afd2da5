"""`octoqa token`: log in to a target and print the access token, for `$OCTOPUS_TOKEN`.

The curl lines a failing contract test prints read the token from `$OCTOPUS_TOKEN`; the line
that sets it calls this command, so it logs in with the account the suite used (the same
resolution: OCTOPUS_USERNAME / OCTOPUS_PASSWORD, else the sandbox's demo account) without the
line itself naming a password. Only the token reaches stdout, so `$(octoqa token ...)` captures
nothing else; a login that fails is one line on stderr and exit code 2, never an empty token.
"""

from __future__ import annotations

import argparse

from ..errors import UsageError
from ..target import EMBEDDED, resolve_target
from ..target.credentials import Credentials
from ..target.session import login

MAX_TIMEOUT_S = 600.0

HELP = "log in to a target and print only its access token (for $OCTOPUS_TOKEN in curl lines)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target", help="base URL of the API (default: $OCTOPUS_BASE_URL); it must be running"
    )
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="print the login's refresh token instead (for POST /auth/refresh lines)",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="seconds to wait for the login"
    )


def main(args: argparse.Namespace) -> int:
    if not 0 < args.timeout <= MAX_TIMEOUT_S:  # also refuses nan
        raise UsageError(f"--timeout takes seconds above 0, at most {MAX_TIMEOUT_S:g}")
    url = resolve_target(args.target)
    if url == EMBEDDED:
        raise UsageError(
            "octoqa token needs a running target: --target URL or OCTOPUS_BASE_URL (an embedded "
            "sandbox stops with the command that started it; `octoqa sandbox` serves one)"
        )
    tokens = login(url, Credentials.from_env(), timeout=args.timeout)
    print(tokens.refresh_token if args.refresh else tokens.access_token)
    return 0

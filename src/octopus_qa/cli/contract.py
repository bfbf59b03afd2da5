"""`octoqa contract`: run the contract suite against a target (default: an embedded sandbox)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..contract.runner import ContractRun, run_contract
from ..errors import UsageError
from ..plan.contract_profiles import DEFAULT_PROFILE, PROFILE_NAMES

HELP = "check the API against its contract (schemathesis + rule tests); exit 1 on a broken rule"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        help="base URL of the API, or 'embedded' (default: $OCTOPUS_BASE_URL, else a local "
        "sandbox on a free loopback port)",
    )
    parser.add_argument("--profile", choices=PROFILE_NAMES, default=DEFAULT_PROFILE)
    parser.add_argument("--seed", type=int, help="reproduce a run exactly (printed by every run)")
    parser.add_argument(
        "--report-dir", type=Path, help="run directory to write contract/ into (default: a new one)"
    )
    parser.add_argument(
        "--documented-only",
        action="store_true",
        help="check only what the provider's documents state (skip ASSUMPTIONS.md readings)",
    )
    parser.add_argument(
        "--deviations",
        type=Path,
        metavar="FILE",
        help="known deviations (deviations.toml): failures it covers are reported as known "
        "deviations, neither pass nor failure, until each entry's expiry date",
    )
    parser.add_argument(
        "pytest_args", nargs=argparse.REMAINDER, help="after --: extra pytest arguments"
    )


def main(args: argparse.Namespace) -> int:
    extra = list(args.pytest_args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    if extra and not extra[0].startswith("-"):
        raise UsageError(f"unexpected argument {extra[0]!r} (put pytest arguments after --)")
    return run_contract(
        ContractRun(
            target=args.target,
            profile=args.profile,
            seed=args.seed,
            report_dir=args.report_dir,
            documented_only=args.documented_only,
            deviations=args.deviations,
            pytest_args=tuple(extra),
            plan=args.plan,
        )
    )

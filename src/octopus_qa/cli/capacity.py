"""`octoqa capacity`: find the highest arrival rate the target holds within its SLOs.

The command line only; the search is `octopus_qa.loadtest.capacity`, the page
`octopus_qa.report.capacity`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError
from ..loadtest.capacity import CapacityOptions, run_capacity
from ..loadtest.runner import DEFAULT_LOAD_DIR
from ..plan import duration_option
from ..report.capacity import write_capacity_page
from .load import add_metrics_port, metrics_port

HELP = "step the arrival rate of the load mix until an SLO breaks: the capacity, with evidence"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", metavar="URL", help="base URL (default: an embedded sandbox)")
    parser.add_argument("--start-rps", default="50", help="first rate, req/s (default 50)")
    parser.add_argument(
        "--max-rps", help="highest rate to try (default and cap: profiles.toml's max_rate_rps)"
    )
    parser.add_argument(
        "--factor",
        default="2",
        help="the climb's largest step, far from every gate; smaller as the latency nears "
        "them (default 2)",
    )
    parser.add_argument(
        "--step-s", default="4", help="seconds each exploratory step holds its rate (default 4)"
    )
    parser.add_argument(
        "--confirm-s",
        default="10",
        help="seconds the rate found is held once more to confirm it (default 10; 0: none)",
    )
    parser.add_argument(
        "--refine", default="4", help="bisection steps at most, once a step broke (default 4)"
    )
    parser.add_argument(
        "--max-time", default="10m", help="time budget for the whole search (default 10m)"
    )
    parser.add_argument("--workers", type=int, default=0, metavar="N", help="Locust workers")
    parser.add_argument("--report-dir", type=Path, metavar="DIR", help="run directory")
    parser.add_argument("--allow-any-host", action="store_true", help="see octoqa load")
    parser.add_argument("--load-dir", type=Path, default=DEFAULT_LOAD_DIR, metavar="DIR")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="SUMMARY",
        help="an earlier search's capacity summary.json (or its run folder): a capacity drop "
        "beyond slo.toml's capacity_tolerance, or a gate broken at its capacity, fails (exit 1)",
    )
    # Not the --plan of contract and load (cli/__init__.py): the search's options still apply.
    parser.add_argument(
        "--plan",
        type=Path,
        metavar="FILE",
        help="the search's plan written by `octoqa run` (<run>/capacity/plan.json): its target, "
        "gates and limits; the search options above still apply",
    )
    add_metrics_port(parser)


def _number(text: str, option: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{option} must be a number, got {text!r}") from None


def main(args: argparse.Namespace) -> int:
    options = CapacityOptions(
        target=args.target,
        start_rps=_number(args.start_rps, "--start-rps"),
        max_rps=_number(args.max_rps, "--max-rps") if args.max_rps else None,
        factor=_number(args.factor, "--factor"),
        step_s=_number(args.step_s, "--step-s"),
        confirm_s=_number(args.confirm_s, "--confirm-s"),
        refine=int(_number(args.refine, "--refine")),
        max_time_s=duration_option("--max-time", args.max_time),
        workers=args.workers,
        report_dir=args.report_dir,
        allow_any_host=args.allow_any_host,
        load_dir=args.load_dir,
        baseline=args.baseline,
        plan=args.plan,
        metrics_port=metrics_port(args),
    )
    result = run_capacity(options)
    if result.directory is not None:
        print(f"report: {write_capacity_page(result.as_dict(), result.directory)}")
    print(result.verdict)  # the last line: the answer, in one sentence
    return result.exit_code

"""`octoqa load`: the load suite against a target (default: an embedded sandbox on loopback).

The command line only; what it runs is `octopus_qa.loadtest.runner`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..loadtest.runner import DEFAULT_LOAD_DIR, LoadOptions, run_load
from ..plan import port_option

HELP = "run the Locust load scenario with SLO gates (default target: an embedded sandbox)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        metavar="URL",
        help="base URL of the API (default: $OCTOPUS_BASE_URL, else an embedded sandbox)",
    )
    parser.add_argument(
        "--load-profile",
        "--profile",
        dest="profile",
        default="smoke",
        metavar="NAME",
        help="a profile of load/profiles.toml, e.g. smoke, ramp, step, spike, soak, arrival "
        "(default: smoke); the same option as the locustfile's --load-profile",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed the scenarios' random choices (default: a fresh one; every run prints it)",
    )
    parser.add_argument(
        "--run-time",
        metavar="DURATION",
        help="hard time limit, e.g. 90s or 15m (default and maximum: the profile's duration)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="Locust worker processes on this machine (--processes N); 0: one process; with "
        "--master-bind-host, workers on other machines",
    )
    parser.add_argument(
        "--master-bind-host",
        metavar="ADDR",
        help="the --workers run on other machines: Locust's master waits for them on ADDR "
        "(port 5557; * for every address); start each with `locust -f load/locustfile.py "
        "--worker --master-host ADDR`",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        metavar="DIR",
        help="run directory to write into (reports go to DIR/load/; default: a new reports/<id>)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="SUMMARY",
        help="an earlier run's load summary.json: p95 or throughput regressions fail the run",
    )
    parser.add_argument(
        "--allow-any-host",
        action="store_true",
        help="send load to a host outside load/allowed-hosts.toml (only to a service you own)",
    )
    parser.add_argument(
        "--load-dir",
        type=Path,
        default=DEFAULT_LOAD_DIR,
        metavar="DIR",
        help="a load directory of your own: locustfile.py with its profiles.toml, slo.toml and "
        "allowed-hosts.toml beside it (its files are used, not --config's)",
    )
    add_metrics_port(parser)


def add_metrics_port(parser: argparse.ArgumentParser) -> None:
    """`--metrics-port`, the same option on `octoqa load`, `capacity` and `run`."""
    parser.add_argument(
        "--metrics-port",
        metavar="PORT",
        help="serve the run's figures live in Prometheus' text format at /metrics on PORT "
        "(every interface) while it runs: latency percentiles, counts, gates, generator health",
    )


def metrics_port(args: argparse.Namespace) -> int | None:
    """The port `--metrics-port` names; a bad one is one line and exit 2."""
    return port_option("--metrics-port", args.metrics_port) if args.metrics_port else None


def main(args: argparse.Namespace) -> int:
    return run_load(
        LoadOptions(
            target=args.target,
            profile=args.profile,
            seed=args.seed,
            run_time=args.run_time,
            workers=args.workers,
            master_bind_host=args.master_bind_host,
            report_dir=args.report_dir,
            baseline=args.baseline,
            allow_any_host=args.allow_any_host,
            load_dir=args.load_dir,
            plan=args.plan,
            metrics_port=metrics_port(args),
        )
    )

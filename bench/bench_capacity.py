"""How stable is the capacity `octoqa capacity` finds, and how close to a known one, how fast?

    .venv/bin/python bench/bench_capacity.py                          # embedded sandbox
    .venv/bin/python bench/bench_capacity.py --sandbox-args --latency-ms 20
    .venv/bin/python bench/bench_capacity.py --runs 3 -- --step-s 10 --factor 1.5
    .venv/bin/python bench/bench_capacity.py --known-rps 300          # sandbox --max-rps 300

Each search is `octoqa capacity` in its own process, against the embedded sandbox or, with
`--sandbox-args`, a sandbox process started once for all runs with those options. Prints each
run's capacity, limit, knee and verdict, and the spread: (highest - lowest) / lowest.

`--known-rps N` searches a sandbox capped at N requests a second (`octoqa sandbox --max-rps N`:
a server whose capacity is known) with the command's own defaults, and prints each run's wall
time, the rate found, its error against N, and the load average before and after (the machines
are shared: a neighbour's load moves these figures); then how many runs were within 10 % of N
in under 90 s, the goal of issue 19.

Loopback only, bounded by each search's --max-time. Results go to bench/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from octopus_qa.sandbox.server import sandbox_process

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
SEARCH = ["--start-rps", "50", "--factor", "1.5", "--step-s", "8", "--refine", "2"]
#: `--known-rps`: the goal, a rate within this share of the known capacity ...
KNOWN_ERROR = 0.10
#: ... found within this many seconds of wall time.
KNOWN_WALL_S = 90.0


@contextlib.contextmanager
def target(sandbox_args: list[str]) -> Iterator[str | None]:
    if not sandbox_args:
        yield None  # octoqa capacity starts its own embedded sandbox
        return
    with sandbox_process(*sandbox_args) as url:
        yield url


def load_average() -> float:
    """The one-minute load average: what else this shared machine was doing."""
    return round(os.getloadavg()[0], 2)


def search(url: str | None, options: list[str], run_dir: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "octopus_qa", "capacity", "--report-dir", str(run_dir)]
    command += (["--target", url] if url else []) + options
    load_before = load_average()
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if not (run_dir / "capacity" / "summary.json").is_file():
        raise SystemExit(f"octoqa capacity exited {result.returncode}: {result.stderr.strip()}")
    summary = json.loads((run_dir / "capacity" / "summary.json").read_text(encoding="utf-8"))
    return {
        "exit_code": result.returncode,
        "wall_s": round(time.monotonic() - started, 1),
        "load_average": [load_before, load_average()],
        "last_line": result.stdout.strip().splitlines()[-1],
        **{k: summary[k] for k in ("capacity_rps", "limit", "knee_rps", "broke_at")},
        "steps": [(s["rate_rps"], s["verdict"]) for s in summary["steps"]],
        "generator_problems": [p for s in summary["steps"] for p in s["generator_problems"]],
    }


def known(run: dict[str, Any], rps: float) -> str:
    """A run against a known capacity, in a few words: its error and whether it met the goal."""
    found = run["capacity_rps"]
    if not found:
        return "no capacity found: goal missed"
    error = (found - rps) / rps
    met = abs(error) <= KNOWN_ERROR and run["wall_s"] < KNOWN_WALL_S
    return f"found {found:g} of {rps:g} req/s ({error:+.1%}): goal {'met' if met else 'missed'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--known-rps",
        type=float,
        metavar="N",
        help="search a sandbox capped at N req/s (--max-rps N) with the command's defaults",
    )
    parser.add_argument("--sandbox-args", nargs=argparse.REMAINDER, default=[])
    parser.add_argument("extra", nargs="*", help="more octoqa capacity options, after --")
    args = parser.parse_args()
    sandbox_args, options = list(args.sandbox_args), SEARCH + args.extra
    if args.known_rps is not None:
        if not args.known_rps > 0:
            parser.error("--known-rps must be more than 0")
        sandbox_args += ["--max-rps", f"{args.known_rps:g}"]
        options = list(args.extra)  # the defaults are what is measured
    runs = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp,
        target(sandbox_args) as url,
    ):
        for number in range(1, args.runs + 1):
            run = search(url, options, Path(tmp) / f"run-{number}")
            runs.append(run)
            print(
                f"run {number}: {run['last_line']}  ({run['wall_s']} s, load average "
                f"{run['load_average'][0]:g} then {run['load_average'][1]:g}; steps {run['steps']})"
            )
            if args.known_rps is not None:
                print(f"  {known(run, args.known_rps)}")
    found = [r["capacity_rps"] for r in runs if r["capacity_rps"]]
    spread = (max(found) - min(found)) / min(found) if len(found) == len(runs) else None
    print(f"capacities {found}; spread {'-' if spread is None else f'{spread:.0%}'}")
    if args.known_rps is not None:
        met = sum(known(run, args.known_rps).endswith("goal met") for run in runs)
        print(
            f"within {KNOWN_ERROR:.0%} of {args.known_rps:g} req/s in under {KNOWN_WALL_S:g} s: "
            f"{met} of {len(runs)} runs"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench_capacity-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {
                "sandbox_args": sandbox_args,
                "options": options,
                "known_rps": args.known_rps,
                "runs": runs,
                "spread": spread,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

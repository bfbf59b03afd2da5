"""How stable is the capacity `octoqa capacity` finds? Two (or more) searches, same target.

    .venv/bin/python bench/bench_capacity.py                          # embedded sandbox
    .venv/bin/python bench/bench_capacity.py --sandbox-args --latency-ms 20
    .venv/bin/python bench/bench_capacity.py --runs 3 -- --step-s 10 --factor 1.5

Each search is `octoqa capacity` in its own process, against the embedded sandbox or, with
`--sandbox-args`, a sandbox process started once for all runs with those options. Prints each
run's capacity, limit, knee and verdict, and the spread: (highest - lowest) / lowest. Loopback
only, bounded by each search's --max-time. Results go to bench/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import json
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


@contextlib.contextmanager
def target(sandbox_args: list[str]) -> Iterator[str | None]:
    if not sandbox_args:
        yield None  # octoqa capacity starts its own embedded sandbox
        return
    with sandbox_process(*sandbox_args) as url:
        yield url


def search(url: str | None, extra: list[str], run_dir: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "octopus_qa", "capacity", "--report-dir", str(run_dir)]
    command += (["--target", url] if url else []) + SEARCH + extra
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if not (run_dir / "capacity" / "summary.json").is_file():
        raise SystemExit(f"octoqa capacity exited {result.returncode}: {result.stderr.strip()}")
    summary = json.loads((run_dir / "capacity" / "summary.json").read_text(encoding="utf-8"))
    return {
        "exit_code": result.returncode,
        "wall_s": round(time.monotonic() - started, 1),
        "last_line": result.stdout.strip().splitlines()[-1],
        **{k: summary[k] for k in ("capacity_rps", "limit", "knee_rps", "broke_at")},
        "steps": [(s["rate_rps"], s["verdict"]) for s in summary["steps"]],
        "generator_problems": [p for s in summary["steps"] for p in s["generator_problems"]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--sandbox-args", nargs=argparse.REMAINDER, default=[])
    parser.add_argument("extra", nargs="*", help="more octoqa capacity options, after --")
    args = parser.parse_args()
    runs = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp,
        target(args.sandbox_args) as url,
    ):
        for number in range(1, args.runs + 1):
            run = search(url, args.extra, Path(tmp) / f"run-{number}")
            runs.append(run)
            print(f"run {number}: {run['last_line']}  ({run['wall_s']} s; steps {run['steps']})")
    found = [r["capacity_rps"] for r in runs if r["capacity_rps"]]
    spread = (max(found) - min(found)) / min(found) if len(found) == len(runs) else None
    print(f"capacities {found}; spread {'-' if spread is None else f'{spread:.0%}'}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench_capacity-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(
        json.dumps({"sandbox_args": args.sandbox_args, "runs": runs, "spread": spread}, indent=2),
        encoding="utf-8",
    )
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

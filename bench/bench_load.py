"""What in-load validation costs: requests per generator core, validated vs bare vs wrk.

Starts the sandbox (`octoqa sandbox`) in its own process on loopback, then, in alternating
rounds, loads `GET /api/v1/products?page=2&limit=20` with:
  - bare:      Locust FastHttpUser, no validation (Locust's own ceiling on this machine);
  - validated: the same request through `load/validation.py` (Exchange + cheap_response_checks
               from octopus_qa.rules, a fresh KSUID X-Request-Id per request);
  - scenario:  the whole load scenario of `load/locustfile.py` (Browser, CatalogCrawler,
               TokenChurner; validation on) with near-zero think time: a mix, other endpoints;
  - wrk:       `wrk -t1` with the same Authorization header, when wrk is installed.
Each Locust run is one process; it meters its own CPU time between test_start and test_stop
(`bench_load_locustfile.py`), so "per core" is requests per CPU-second of the generator,
whatever the sandbox on the other core manages. Reports medians and the ratios to bare; the
goal is validated/bare ≥ 0.75 (validation costs well under a quarter of Locust's rate).

    /work/venv/bin/python bench/bench_load.py [--rounds 3] [--seconds 8] [--users 32]

Loopback only; every run is bounded in time. Results go to bench/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from octopus_qa.credentials import Credentials
from octopus_qa.sandbox.server import sandbox_process
from octopus_qa.session import login

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
LOCUSTFILE = BENCH / "bench_load_locustfile.py"
PATH = "/api/v1/products?page=2&limit=20"
#: A profile file of the bench's own: the scenario's open-model pacing at a rate no user reaches.
BENCH_PROFILES = """
[limits]
max_users = 100
max_duration_s = 120
max_spawn_rate = 1000
max_rate_rps = 1000000
max_workers = 1

[profile.bench]
kind = "arrival"
description = "as fast as the generator allows"
rate_rps = 32000
per_user_rps = 1000
ramp_s = 0
hold_s = 60
"""
VARIANTS = ("bare", "validated", "scenario")
USER_CLASSES = {
    "bare": ["BareUser"],
    "validated": ["ValidatedUser"],
    "scenario": ["Browser", "CatalogCrawler", "TokenChurner"],
}
GOAL = 0.75


@contextmanager
def sandbox() -> Iterator[str]:
    """The sandbox on its own core, as a user would run it."""
    with sandbox_process() as url:
        yield url


def run_locust(variant: str, url: str, seconds: int, users: int, workdir: Path) -> dict[str, Any]:
    out = workdir / f"{variant}.json"
    out.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
        "--host", url, "--headless", "--only-summary",
        "-u", str(users), "-r", str(users), "--run-time", f"{seconds}s",
        "--profile", "bench", "--profiles-file", str(workdir / "profiles.toml"),
        "--bench-out", str(out), "--exit-code-on-error", "0",
        *USER_CLASSES[variant],
    ]  # fmt: skip
    subprocess.run(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=seconds + 60,
        check=True,
    )
    meter = json.loads(out.read_text(encoding="utf-8"))
    return {
        **meter,
        "rps": meter["requests"] / meter["wall_s"],
        "rps_per_core": meter["requests"] / meter["cpu_s"],
        "cpu_share": meter["cpu_s"] / meter["wall_s"],
    }


def run_wrk(url: str, token: str, seconds: int, users: int) -> dict[str, Any]:
    command = [
        "wrk", "-t1", f"-c{users}", f"-d{seconds}s",
        "-H", f"Authorization: Bearer {token}", url + PATH,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    output = process.stdout.read() if process.stdout else ""
    match = re.search(r"(\d+) requests in ([\d.]+)s", output)
    if process.returncode != 0 or not match:
        raise SystemExit(f"wrk failed: {output[-500:]}")
    requests, wall = int(match[1]), float(match[2])
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "requests": requests,
        "wall_s": wall,
        "cpu_s": cpu,
        "rps": requests / wall,
        "rps_per_core": requests / cpu,
        "cpu_share": cpu / wall,
    }


def median(rounds: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, choices=range(1, 11))
    parser.add_argument("--seconds", type=int, default=8, choices=range(3, 61))
    parser.add_argument("--users", type=int, default=32, choices=range(1, 101))
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    variants = (*VARIANTS, "wrk") if wrk else VARIANTS
    results: dict[str, list[dict[str, Any]]] = {variant: [] for variant in variants}
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp, sandbox() as url:
        workdir = Path(tmp)
        (workdir / "profiles.toml").write_text(BENCH_PROFILES, encoding="utf-8")
        token = login(url, Credentials.from_env()).access_token
        for round_number in range(1, args.rounds + 1):
            for variant in variants:
                if variant == "wrk":
                    result = run_wrk(url, token, args.seconds, args.users)
                else:
                    result = run_locust(variant, url, args.seconds, args.users, workdir)
                results[variant].append(result)
                print(
                    f"round {round_number} {variant:9} {result['rps']:8.0f} req/s  "
                    f"{result['rps_per_core']:8.0f} req/s per core  "
                    f"(generator CPU {result['cpu_share']:.0%})",
                    flush=True,
                )
    summary = {
        variant: {
            "median_rps": round(median(rounds, "rps"), 1),
            "median_rps_per_core": round(median(rounds, "rps_per_core"), 1),
            "median_cpu_share": round(median(rounds, "cpu_share"), 3),
            "failures": sum(r.get("failures", 0) for r in rounds),
        }
        for variant, rounds in results.items()
    }
    bare = summary["bare"]["median_rps_per_core"]
    ratios = {
        f"{variant}/bare": round(summary[variant]["median_rps_per_core"] / bare, 3)
        for variant in summary
        if variant != "bare"
    }
    print("\nmedian requests/s per generator core (and ratio to bare FastHttpUser):")
    for variant, numbers in summary.items():
        ratio = ratios.get(f"{variant}/bare", 1.0)
        print(f"  {variant:9} {numbers['median_rps_per_core']:8.0f}  ×{ratio:.2f}")
    verdict = ratios["validated/bare"] >= GOAL
    print(
        f"validated/bare = {ratios['validated/bare']:.2f} (goal ≥ {GOAL}): "
        f"{'met' if verdict else 'NOT met'}"
    )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"bench_load-{stamp}.json"
    record = {
        "benchmark": "bench_load",
        "started": stamp,
        "args": vars(args),
        "endpoint": f"GET {PATH}",
        "load_average": os.getloadavg(),
        "rounds": results,
        "medians": summary,
        "ratios": ratios,
        "goal": {"validated/bare": GOAL, "met": verdict},
    }
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

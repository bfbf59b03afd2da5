"""What in-load validation costs: requests per generator core, validated vs bare vs wrk.

Starts the sandbox (`octoqa sandbox`) in its own process on loopback and loads
`GET /api/v1/products?page=2&limit=20`, in rounds, with:
  - interleaved: one Locust process whose users switch every `--window-ms` between the bare
                 request and the validated one (`bench_load_locustfile.InterleavedUser`); CPU
                 time and finished requests are booked per window. This is the figure the goal
                 is judged on: both variants share the same moments of a shared machine whose
                 speed drifts by a quarter within minutes.
  - scenario-interleaved:
                 the whole load scenario (`load/locustfile.py`'s Browser, CatalogCrawler and
                 TokenChurner: same weights, pages, request sequence) switched by the same
                 windows between validated and its bare twin (the same requests, no checks, no
                 recording): what validation costs the scenario, not one 8 KB page;
  - exported:    the same as interleaved, with the live metrics on (`--metrics-port`): each
                 validated window starts with a scrape of the process's own /metrics over
                 HTTP (one a second at the default 500 ms windows, Prometheus' default being
                 one in 15 s), so validation + recording + export is priced against bare
                 FastHttpUser.
  - bare:        Locust FastHttpUser, no validation (Locust's own ceiling on this machine);
  - validated:   the same request through `loadtest/validation.py` (Exchange + cheap_response_checks
                 from octopus_qa.rules, a fresh KSUID X-Request-Id on a quarter of requests);
  - scenario:    the whole load scenario of `load/locustfile.py` (Browser, CatalogCrawler,
                 TokenChurner; validation on) with near-zero think time: a mix, other endpoints;
  - wrk:         `wrk -t1` with the same Authorization header, when wrk is installed.
Each Locust run meters its own CPU time between test_start and test_stop, so "per core" is
requests per CPU-second of the generator, whatever the sandbox on the other core manages. Bare
and validated also run as separate processes, back to back in each round; their ratio is the
median of the per-round ratios, reported beside the interleaved one as a cross-check. The goal is
validated/bare ≥ 0.8 interleaved (issue 19), ≥ 0.75 with the export (issue 18); the scenario's
ratio is reported, not judged.

    .venv/bin/python bench/bench_load.py [--rounds 5] [--seconds 8] [--users 32]
    .venv/bin/python bench/bench_load.py --variants interleaved
    .venv/bin/python bench/bench_load.py --variants scenario-interleaved

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

from octopus_qa.sandbox.server import sandbox_process
from octopus_qa.target import free_port
from octopus_qa.target.credentials import Credentials
from octopus_qa.target.session import login

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
VARIANTS = (
    "interleaved", "scenario-interleaved", "exported", "bare", "validated", "scenario", "wrk",
)  # fmt: skip
#: Variants measured within one process, bare and validated in turns: no separate bare run.
INTERLEAVED = ("interleaved", "scenario-interleaved", "exported")
USER_CLASSES = {
    "interleaved": ["InterleavedUser"],
    "scenario-interleaved": ["InterleavedBrowser", "InterleavedCrawler", "InterleavedChurner"],
    "exported": ["InterleavedUser"],
    "bare": ["BareUser"],
    "validated": ["ValidatedUser"],
    "scenario": ["Browser", "CatalogCrawler", "TokenChurner"],
}


@contextmanager
def sandbox() -> Iterator[str]:
    """The sandbox on its own core, as a user would run it."""
    with sandbox_process() as url:
        yield url


def run_locust(variant: str, url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    out = workdir / f"{variant}.json"
    out.unlink(missing_ok=True)
    exported = ["--metrics-port", str(free_port())] if variant == "exported" else []
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
        "--host", url, "--headless", "--only-summary",
        "-u", str(args.users), "-r", str(args.users), "--run-time", f"{args.seconds}s",
        "--load-profile", "bench", "--profiles-file", str(workdir / "profiles.toml"),
        "--slo-file", "",  # a measurement of the generator, not a run to judge
        "--bench-out", str(out), "--window-ms", str(args.window_ms), "--exit-code-on-error", "0",
        *exported, *USER_CLASSES[variant],
    ]  # fmt: skip
    subprocess.run(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=args.seconds + 60,
        check=True,
    )
    meter = json.loads(out.read_text(encoding="utf-8"))
    if variant == "exported" and not meter["scrapes"]["count"]:
        raise SystemExit("the exported variant scraped nothing: no metrics were served")
    if variant in INTERLEAVED:
        windows = meter["windows"]
        rates = {name: w["requests"] / w["cpu_s"] for name, w in windows.items() if w["cpu_s"]}
        meter["rps_per_core_by_variant"] = rates
        meter["validated/bare"] = rates["validated"] / rates["bare"]
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


def paired_ratio(rounds: list[dict[str, Any]], bare_rounds: list[dict[str, Any]]) -> float:
    """Median over rounds of (variant's rate / bare's rate in the same round)."""
    return statistics.median(
        run["rps_per_core"] / bare["rps_per_core"]
        for run, bare in zip(rounds, bare_rounds, strict=True)
    )


def variant_list(text: str) -> tuple[str, ...]:
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown variant(s): {', '.join(unknown)}")
    if set(chosen) - set(INTERLEAVED):
        chosen = ("bare", *chosen)  # every separate-run rate is a ratio to bare's
    return tuple(name for name in VARIANTS if name in chosen)


def run_rounds(args: argparse.Namespace, variants: tuple[str, ...]) -> dict[str, list[dict]]:
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
                    result = run_locust(variant, url, args, workdir)
                results[variant].append(result)
                print(f"round {round_number} {variant:20} {describe(variant, result)}", flush=True)
    return results


def describe(variant: str, result: dict[str, Any]) -> str:
    if variant in INTERLEAVED:
        rates = result["rps_per_core_by_variant"]
        scrapes = result.get("scrapes") or {}
        scraped = (
            f"; {scrapes['count']} scrapes, {1000 * scrapes['wall_s'] / scrapes['count']:.1f} ms "
            f"and {scrapes['bytes'] / scrapes['count'] / 1024:.1f} KiB each"
            if variant == "exported"
            else ""
        )
        return (
            f"bare {rates['bare']:6.0f}, validated {rates['validated']:6.0f} req/s per core  "
            f"(×{result['validated/bare']:.2f}{scraped})"
        )
    return (
        f"{result['rps']:8.0f} req/s  {result['rps_per_core']:8.0f} req/s per core  "
        f"(generator CPU {result['cpu_share']:.0%})"
    )


def summarise(results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    separate = {
        variant: {
            "median_rps": round(median(rounds, "rps"), 1),
            "median_rps_per_core": round(median(rounds, "rps_per_core"), 1),
            "median_cpu_share": round(median(rounds, "cpu_share"), 3),
            "failures": sum(r.get("failures", 0) for r in rounds),
        }
        for variant, rounds in results.items()
        if variant not in INTERLEAVED
    }
    ratios = {
        f"{variant}/bare (separate runs)": round(paired_ratio(results[variant], results["bare"]), 3)
        for variant in separate
        if variant != "bare"
    }
    for variant, (key, _) in JUDGED.items():
        if variant in results:
            ratios[key] = round(median(results[variant], "validated/bare"), 3)
    return {"medians": separate, "ratios": ratios}


#: The interleaved figures, validated/bare in one process, and the goal each is judged on (None:
#: reported, not judged): the single request without and with the export, the whole scenario.
JUDGED: dict[str, tuple[str, float | None]] = {
    "interleaved": ("validated/bare (interleaved)", 0.8),
    "scenario-interleaved": ("scenario-interleaved", None),
    "exported": ("validated+export/bare (interleaved, metrics scraped every second)", 0.75),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Bounded, so a typo cannot start an hour-long run; the metavar keeps --help to the bounds.
    parser.add_argument("--rounds", type=int, default=5, choices=range(1, 11), metavar="1..10")
    parser.add_argument("--seconds", type=int, default=8, choices=range(3, 61), metavar="3..60")
    parser.add_argument("--users", type=int, default=32, choices=range(1, 101), metavar="1..100")
    parser.add_argument(
        "--window-ms", type=int, default=500, choices=range(100, 2001), metavar="100..2000"
    )
    parser.add_argument(
        "--variants",
        type=variant_list,
        default=VARIANTS,
        help=f"comma-separated, from {', '.join(VARIANTS)}",
    )
    args = parser.parse_args()
    variants = tuple(v for v in args.variants if v != "wrk" or shutil.which("wrk"))
    results = run_rounds(args, variants)
    summary = summarise(results)
    print("\nmedian requests/s per generator core, separate runs (median ratio to bare per round):")
    ratios = summary["ratios"]
    for variant, numbers in summary["medians"].items():
        ratio = ratios.get(f"{variant}/bare (separate runs)", 1.0)
        print(f"  {variant:9} {numbers['median_rps_per_core']:8.0f}  ×{ratio:.2f}")
    met: dict[str, bool] = {}
    goals: dict[str, float] = {}
    for key, goal in JUDGED.values():
        if (judged := ratios.get(key)) is None:
            continue
        if goal is None:
            print(f"{key} = {judged:.2f} (validated / its bare twin)")
            continue
        goals[key], met[key] = goal, judged >= goal
        print(f"{key} = {judged:.2f} (goal ≥ {goal}): {'met' if met[key] else 'NOT met'}")
    verdict = all(met.values()) if met else None
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
        **summary,
        "goal": {**goals, "met": verdict},
    }
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

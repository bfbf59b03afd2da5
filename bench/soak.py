"""Soak: the load suite against the sandbox for minutes, and whether the sandbox holds up.

Serves a sandbox in this process (so its token stores can be read), runs `octoqa load` against
it for the given time (a profile of load/profiles.toml, or with `--rate` an open-model arrival
profile at that rate), samples this process's RSS every few seconds,
and reports: requests and throughput, 5xx answers (must be 0), RSS at start, peak and end, and
the sizes of the sandbox's token stores (sessions, refresh tokens, revocations, verification
cache) at start and end, which must stay within their bounds (sandbox.toml; revocations within
`access_ttl` seconds of logouts).

    .venv/bin/python bench/soak.py                      # 3 minutes, profile soak (50 users)
    .venv/bin/python bench/soak.py --minutes 0.5        # a short one
    .venv/bin/python bench/soak.py --rate 600           # open model: 600 task runs/s
    tox -e soak -- --minutes 5

Loopback only, bounded by --minutes (Locust's own hard limit on top). Results go to
bench/results/ (git-ignored). Exit 1 when a 5xx was seen or a store passed its bound.

`--rate` writes its profile (`soak-arrival`) into a configuration directory of its own
(`--config`: load/profiles.toml in force plus that profile), so load/profiles.toml is not touched;
the rate is capped by that file's `[limits]` like any profile's.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from octopus_qa import config as user_config
from octopus_qa.loadtest.capacity import ramp_for, users_for
from octopus_qa.plan.load_profiles import load_profiles
from octopus_qa.sandbox import create_app
from octopus_qa.sandbox.server import running_sandbox
from octopus_qa.sandbox.settings import settings

RESULTS = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_EVERY_S = 5.0
#: Access tokens live this long in the soak's sandbox: revocations older than it are dropped,
#: so a run of several minutes shows whether that happens.
TOKEN_TTL_S = 60.0
#: The open-model profile `--rate` writes; its users are spread like `octoqa capacity`'s steps.
ARRIVAL_PROFILE = "soak-arrival"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def server_errors(load_dir: Path) -> int:
    """5xx answers Locust recorded (the locustfile names a failure `HTTP <status> ...`)."""
    path = load_dir / "locust_failures.csv"
    if not path.exists():
        return 0
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(
            int(row["Occurrences"])
            for row in csv.DictReader(handle)
            if "HTTP 5" in row["Error"] or "undocumented 5" in row["Error"]
        )


def load_average() -> list[float]:
    """The machine's 1, 5 and 15-minute load averages: how shared it was while it measured."""
    return [round(value, 2) for value in os.getloadavg()]


def arrival_config(directory: Path, rate_rps: float, minutes: float) -> Path:
    """A configuration directory for `octoqa load --config`: the configuration in force with one
    open-model profile added, `rate_rps` task runs per second held for the soak's time."""
    directory.mkdir(parents=True, exist_ok=True)
    mine = user_config.user_dir()
    if mine is not None:  # the user's other files stay in force
        for file in mine.glob("*.toml"):
            shutil.copy(file, directory / file.name)
    in_force = user_config.path("load-profiles.toml")
    limits = load_profiles(in_force).limits
    users, per_user = users_for(rate_rps, limits.max_users)
    ramp_s = ramp_for(users, limits.max_spawn_rate)
    shipped = in_force.read_text(encoding="utf-8")
    (directory / "load-profiles.toml").write_text(
        shipped
        + f'\n[profile."{ARRIVAL_PROFILE}"]\nkind = "arrival"\n'
        + f'description = "bench/soak.py: {rate_rps:g} task runs per second, open model"\n'
        + f"rate_rps = {float(rate_rps)!r}\nper_user_rps = {per_user!r}\n"
        + f"ramp_s = {ramp_s!r}\nhold_s = {max(1.0, round(minutes * 60 - ramp_s, 1))!r}\n",
        encoding="utf-8",
    )
    return directory


def soak(minutes: float, profile: str, rate_rps: float | None = None) -> dict[str, Any]:
    app = create_app(token_ttl=TOKEN_TTL_S)
    tokens = app.state.tokens
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(SAMPLE_EVERY_S):
            samples.append(rss_mb())

    with running_sandbox(app=app) as url, tempfile.TemporaryDirectory() as report_dir:
        extra: list[str] = []
        if rate_rps is not None:
            profile = ARRIVAL_PROFILE
            config_dir = arrival_config(Path(report_dir) / "config", rate_rps, minutes)
            extra = ["--config", str(config_dir)]
        load_start = load_average()
        start_rss, start_sizes = rss_mb(), tokens.store_sizes()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "octopus_qa", "load", "--target", url, "--profile", profile]
            + ["--run-time", f"{max(1, round(minutes * 60))}s", "--report-dir", report_dir]
            + extra,
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env=dict(os.environ),
            timeout=minutes * 60 + 180,
        )
        elapsed = time.monotonic() - started
        stop.set()
        end_rss, end_sizes = rss_mb(), tokens.store_sizes()
        load_end = load_average()
        load_dir = Path(report_dir) / "load"
        summary = json.loads((load_dir / "summary.json").read_text())
        errors_5xx = server_errors(load_dir)
    config = settings()
    bounds = {
        "sessions": config.max_sessions,
        "refresh_tokens": config.max_sessions,
        "verified_cache": config.verified_cache_entries,
    }
    total = summary["endpoints"].get("total", {})
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "profile": profile,
        "offered_rps": rate_rps,
        "minutes": minutes,
        "elapsed_s": round(elapsed, 1),
        "load_exit_code": done.returncode,
        "requests": total.get("requests"),
        "rps": total.get("rps"),
        "failures": total.get("failures"),
        "rule_violations": summary.get("rule_violations"),
        "verdict": summary.get("verdict"),
        "aborted": summary.get("aborted"),
        "latency_ms": total.get("response"),
        "server_errors_5xx": errors_5xx,
        "rss_mb": {"start": start_rss, "peak": max([start_rss, *samples]), "end": end_rss},
        #: One sample every SAMPLE_EVERY_S: steady or still climbing at the end?
        "rss_samples_mb": samples,
        "stores_start": start_sizes,
        "stores_end": end_sizes,
        "stores_within_bounds": all(end_sizes[k] <= bound for k, bound in bounds.items()),
        "cpu_warning": summary.get("cpu_warning"),
        "generator": {k: summary[k] for k in ("schedule", "generator") if k in summary},
        "load_stderr_tail": done.stderr.strip().splitlines()[-3:],
        "load_average": {"start": load_start, "end": load_end},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--profile", default="soak")
    parser.add_argument(
        "--rate",
        type=float,
        help="open model instead of --profile: this many task runs per second (req/s offered)",
    )
    args = parser.parse_args()
    if not 0 < args.minutes <= 30:
        parser.error("--minutes must be more than 0 and at most 30")
    if args.rate is not None and not 0 < args.rate:
        parser.error("--rate must be more than 0")
    result = soak(args.minutes, args.profile, args.rate)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"soak-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"written to {out}", file=sys.stderr)
    return 0 if result["server_errors_5xx"] == 0 and result["stores_within_bounds"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

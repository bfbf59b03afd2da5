"""How close the sandbox's hot path comes to a bare handler returning the same bytes.

Starts, each in its own process with one uvicorn worker on loopback:
  - the sandbox (`octoqa sandbox --port 0`), and
  - a bare Starlette app whose one route returns, as fixed bytes, exactly what the sandbox
    answers to `GET /api/v1/products?limit=50`,
then loads both with the same tool (wrk when installed, else a small threaded httpx loop) in
alternating rounds, sending the same Authorization header to both, and reports the median
requests/s of each, their ratio (goal ≥ 0.6) and the latency of `limit=10000` on the sandbox.

    .venv/bin/python bench/bench_sandbox.py [--rounds 3] [--seconds 5] [--connections 32]

Loopback only; every round is bounded in time. Results go to bench/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from octopus_qa.target.credentials import Credentials
from octopus_qa.target.session import login

RESULTS = Path(__file__).resolve().parent / "results"
LIST_PATH = "/api/v1/products?limit=50"
BIG_PATH = "/api/v1/products?limit=10000"
STARTUP_SECONDS = 30.0


# --- The two servers --------------------------------------------------------------------------


def serve_bare(body_file: str, port: int) -> None:
    """The baseline: one route, fixed bytes, nothing else (runs in its own process)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    body = Path(body_file).read_bytes()

    async def products(request: object) -> Response:
        return Response(body, media_type="application/json")

    app = Starlette(routes=[Route("/api/v1/products", products)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextmanager
def process_serving(command: list[str], ready_url: str | None = None) -> Iterator[str]:
    """Run a server process; yield the URL it announces (or `ready_url` once it answers)."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        url = ready_url or _announced_url(process)
        _wait_answering(url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _announced_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    for line in process.stdout:  # the banner's first line names the URL
        found = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
        if found:
            return found.group(1)
    raise RuntimeError("the sandbox exited without announcing its URL")


def _wait_answering(url: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {STARTUP_SECONDS:g} s")


def _free_port() -> int:
    from octopus_qa.target import free_port

    return free_port()


# --- Load tools -------------------------------------------------------------------------------


def wrk_rate(url: str, token: str, seconds: float, connections: int) -> float:
    """Requests/s wrk measured (one thread: the machine has two cores, the server takes one)."""
    result = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} non-2xx answers under load")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))  # type: ignore[union-attr]


def python_rate(url: str, token: str, seconds: float, connections: int) -> float:
    """The fallback tool: `connections` threads, one keep-alive httpx client each."""
    count = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        nonlocal count
        done = 0
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            while time.monotonic() < stop:
                client.get(url).raise_for_status()
                done += 1
        with lock:
            count += done

    threads = [threading.Thread(target=worker) for _ in range(min(connections, 8))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    return count / (time.monotonic() - started)


def big_page_latency(url: str, token: str, samples: int = 20) -> dict[str, float]:
    """Sequential GETs of limit=10000 (about 4 MB each): median and worst, in ms."""
    timings = []
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        client.get(url).raise_for_status()  # warm the sort/filter cache
        for _ in range(samples):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return {
        "median_ms": round(statistics.median(timings), 1),
        "max_ms": round(max(timings), 1),
        "bytes": len(response.content),
    }


# --- The run ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--serve-bare", nargs=2, metavar=("BODY_FILE", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare[0], int(args.serve_bare[1]))
        return 0
    if not (1 <= args.rounds <= 10 and 1 <= args.seconds <= 30):
        parser.error("--rounds must be 1..10 and --seconds 1..30 (bounded load)")

    tool = "wrk" if shutil.which("wrk") else "python-threads"
    load = wrk_rate if tool == "wrk" else python_rate
    credentials = Credentials.from_env({})  # the sandbox's demo account
    sandbox_cmd = [sys.executable, "-m", "octopus_qa", "sandbox", "--port", "0"]
    with process_serving(sandbox_cmd, None) as sandbox_url, tempfile.TemporaryDirectory() as tmp:
        token = login(sandbox_url, credentials).access_token
        body = httpx.get(
            sandbox_url + LIST_PATH, headers={"Authorization": f"Bearer {token}"}
        ).content
        body_file = Path(tmp) / "page.json"
        body_file.write_bytes(body)
        bare_port = _free_port()
        bare_cmd = [sys.executable, __file__, "--serve-bare", str(body_file), str(bare_port)]
        with process_serving(bare_cmd, f"http://127.0.0.1:{bare_port}") as bare_url:
            assert httpx.get(bare_url + LIST_PATH).content == body
            targets = {"sandbox": sandbox_url + LIST_PATH, "bare": bare_url + LIST_PATH}
            for url in targets.values():  # warm-up, not measured
                load(url, token, 1.0, args.connections)
            rates: dict[str, list[float]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, url in targets.items():
                    rates[name].append(round(load(url, token, args.seconds, args.connections), 1))
            big = big_page_latency(sandbox_url + BIG_PATH, token)

    sandbox_rate = statistics.median(rates["sandbox"])
    bare_rate = statistics.median(rates["bare"])
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "tool": tool,
        "rounds": args.rounds,
        "seconds_per_round": args.seconds,
        "connections": args.connections,
        "path": LIST_PATH,
        "body_bytes": len(body),
        "rates": rates,
        "median_rps": {"sandbox": sandbox_rate, "bare": bare_rate},
        "ratio": round(sandbox_rate / bare_rate, 3),
        "limit_10000": big,
    }
    _print_table(results)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench_sandbox-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results: {out}")
    return 0


def _print_table(results: dict[str, object]) -> None:
    rates = results["rates"]
    median = results["median_rps"]
    assert isinstance(rates, dict) and isinstance(median, dict)
    rounds = f"{results['rounds']} × {results['seconds_per_round']:g} s"
    print(
        f"GET {results['path']} ({results['body_bytes']} bytes), {results['tool']}, "
        f"{results['connections']} connections, {rounds}"
    )
    print(f"{'server':<10} {'median req/s':>13}   rounds")
    for name in ("sandbox", "bare"):
        print(f"{name:<10} {median[name]:>13,.0f}   {', '.join(f'{r:,.0f}' for r in rates[name])}")
    print(f"ratio sandbox/bare: {results['ratio']:.2f} (goal ≥ 0.60)")
    big = results["limit_10000"]
    assert isinstance(big, dict)
    timing = f"median {big['median_ms']} ms, max {big['max_ms']} ms"
    print(f"GET ?limit=10000 ({big['bytes']:,} bytes): {timing}")


if __name__ == "__main__":
    sys.exit(main())

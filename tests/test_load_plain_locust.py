"""Plain Locust behaves like Locust, and still gets our gates: real, short Locust processes.

`locust -f load/locustfile.py` is how a team that already drives Locust runs our scenario.
Without `--load-profile` it honours `-u`, `-r` and `-t` (and the web UI) as any locustfile
without a shape would; with one, the profile drives the users. Either way the SLO gates judge
the run as Locust quits: printed, and Locust's exit code (0 held, 1 a gate failed). Locust's own
`--profile` option keeps its own meaning. Each run is a few seconds against a sandbox on loopback.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from test_load_runs import CLEAN_ENV, sandbox

from octopus_qa.loadtest.runner import DEFAULT_LOAD_DIR
from octopus_qa.sandbox.server import wait_listening
from octopus_qa.target import free_port

LOCUSTFILE = DEFAULT_LOAD_DIR / "locustfile.py"
RUN_TIMEOUT_S = 60
GATES_HEADER = "endpoint      metric"

pytestmark = pytest.mark.slow


def locust(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        cwd=cwd,
        env=CLEAN_ENV,
    )


def lenient_slo(tmp_path: Path) -> Path:
    """The shipped SLOs without throughput floors: a 3-user run may not reach every endpoint,
    and these tests are about who decides the exit code, not about the floors."""
    lines = (DEFAULT_LOAD_DIR / "slo.toml").read_text(encoding="utf-8").splitlines()
    text = "\n".join("min_rps = 0" if line.startswith("min_rps") else line for line in lines)
    path = tmp_path / "slo.toml"
    path.write_text(text + "\n", encoding="utf-8")
    data = tomllib.loads(text)
    assert all(e["min_rps"] == 0 for e in data["endpoint"].values())
    return path


def users_over_time(csv_prefix: Path) -> list[tuple[int, int]]:
    """(seconds since the first row, users) from Locust's stats history."""
    with Path(f"{csv_prefix}_stats_history.csv").open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["Name"] == "Aggregated"]
    start = int(rows[0]["Timestamp"])
    return [(int(row["Timestamp"]) - start, int(row["User Count"])) for row in rows]


def test_without_a_load_profile_plain_locust_honours_u_r_t_and_its_own_profile_option(
    tmp_path: Path,
) -> None:
    prefix = tmp_path / "out" / "locust"
    with sandbox() as url:
        result = locust(
            "--host", url, "-u", "3", "-r", "3", "-t", "4s", "--headless", "--only-summary",
            "--csv", str(prefix), "--csv-full-history",
            "--slo-file", str(lenient_slo(tmp_path)),
            "--profile", "team-a-nightly",  # Locust's own option: a label, not a load profile
            cwd=tmp_path,
        )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    timeline = users_over_time(prefix)
    assert max(users for _, users in timeline) == 3, timeline  # not the smoke profile's 12
    assert timeline[-1][0] <= 6, timeline  # -t 4s, not the smoke profile's 10 s
    assert "Ramping to 3 users at a rate of 3.00 per second" in output
    assert GATES_HEADER in result.stdout
    assert "load verdict: pass" in result.stdout and "exit code 0" in result.stdout


def test_a_gate_that_fails_under_plain_locust_makes_its_exit_code_1(tmp_path: Path) -> None:
    with sandbox("--fault", "total-pages-off-by-one") as url:
        result = locust(
            "--host", url, "-u", "3", "-r", "3", "-t", "4s", "--headless", "--only-summary",
            "--slo-file", str(lenient_slo(tmp_path)),
            cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rule violated under load: [pagination-headers-consistent]" in result.stdout
    breached = [line for line in result.stdout.splitlines() if line.rstrip().endswith("FAIL")]
    assert ["all", "rule_violations"] in [line.split()[:2] for line in breached]
    assert "load verdict: fail" in result.stdout


def test_a_named_load_profile_drives_the_users_instead_of_u_and_r(tmp_path: Path) -> None:
    prefix = tmp_path / "out" / "locust"
    with sandbox() as url:
        result = locust(
            "--host", url, "--load-profile", "smoke", "-u", "3", "-t", "4s", "--headless",
            "--only-summary", "--csv", str(prefix), "--csv-full-history",
            "--slo-file", str(lenient_slo(tmp_path)),
            cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    timeline = users_over_time(prefix)
    assert max(users for _, users in timeline) == 12, timeline  # smoke's users, not -u 3
    assert timeline[-1][0] <= 6, timeline  # -t still caps a profile


def test_an_unknown_load_profile_stops_plain_locust_before_any_traffic(tmp_path: Path) -> None:
    result = locust(
        "--host", "http://127.0.0.1:9", "--load-profile", "forever", "--headless", "-t", "5s",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "unknown load profile 'forever'" in result.stderr
    assert "Ramping" not in result.stderr


# --- The web UI --------------------------------------------------------------------------------


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        body = response.read().decode("utf-8")
        return (
            json.loads(body) if response.headers.get_content_type() == "application/json" else body
        )


def _post(url: str, form: dict[str, str]) -> Any:
    request = urllib.request.Request(url, data=urlencode(form).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read().decode("utf-8"))


@contextmanager
def web_ui(target: str, tmp_path: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--host",
            target,
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(port),
            *args,
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        env=CLEAN_ENV,
    )
    try:
        wait_listening(port, process, 30)  # type: ignore[arg-type]
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_the_web_ui_serves_its_page_and_runs_users_started_through_its_http_api(
    tmp_path: Path,
) -> None:
    with (
        sandbox() as target,
        web_ui(target, tmp_path, "--slo-file", str(lenient_slo(tmp_path))) as (
            ui,
            process,
        ),
    ):
        page = _get(f"{ui}/")
        assert "<html" in page.lower() and "locust" in page.lower()
        started = _post(f"{ui}/swarm", {"user_count": "2", "spawn_rate": "2", "host": target})
        assert started["success"], started
        assert "shape class" not in started["message"], started  # Locust's own users, not ours
        deadline = time.monotonic() + 20
        stats = _get(f"{ui}/stats/requests")
        while time.monotonic() < deadline and not (
            stats["user_count"] == 2 and stats["total_rps"] > 0
        ):
            time.sleep(0.5)
            stats = _get(f"{ui}/stats/requests")
        assert stats["user_count"] == 2 and stats["state"] == "running", stats
        assert _post(f"{ui}/stop", {})["success"]
        process.send_signal(signal.SIGTERM)  # how a CI job or Ctrl-C ends a web UI session
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert GATES_HEADER in output and "load verdict: pass" in output


def test_a_web_ui_session_that_never_started_a_test_is_not_judged(tmp_path: Path) -> None:
    with sandbox() as target, web_ui(target, tmp_path) as (ui, process):
        assert "locust" in _get(f"{ui}/").lower()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "nothing to judge" in output and GATES_HEADER not in output


@pytest.mark.parametrize("users", [1, 5])
def test_a_clean_plain_locust_run_passes_at_any_user_count(tmp_path: Path, users: int) -> None:
    """The shipped gates, throughput floors included: with -u 1 only Browsers run, with -u 5 no
    TokenChurner; what no running user calls is not judged, and -u/-t fix no offered rate."""
    with sandbox() as url:
        result = locust(
            "--host", url, "-u", str(users), "-r", "5", "-t", "5s", "--headless", "--only-summary",
            cwd=tmp_path,
        )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "load verdict: pass" in result.stdout
    assert "not judged: refresh p50_ms" in result.stdout  # the TokenChurner had no users
    assert "no load profile fixed the offered rate" in result.stdout

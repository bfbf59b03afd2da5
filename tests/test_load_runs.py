"""`octoqa load` end to end: real Locust runs against real sandboxes on loopback.

Each sandbox is `octoqa sandbox --port P ...` in its own process, with the latency, error rate,
token lifetime or planted fault the test needs; each load run is Locust in a subprocess for
10-15 seconds. The runs prove the gates can fail: slow answers break the latency gate, 500s
the error gate, a broken pagination header the rule-violation gate, a far better baseline the
regression gate. Targets outside the allow-list, dead ones and garbage ones are refused with
exit code 2 before any load.
"""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
from load_dirs import CLEAN_ENV
from test_report_har import assert_valid_har

from octopus_qa.loadtest import runner
from octopus_qa.loadtest.results import read_stats
from octopus_qa.loadtest.runner import DEFAULT_LOAD_DIR, LoadOptions, run_load
from octopus_qa.sandbox.server import sandbox_process, server_process
from octopus_qa.target import free_port
from octopus_qa.target.credentials import DEMO_PASSWORD

#: What a JWT looks like: none may survive in a report.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
RUN_TIMEOUT_S = 180
STARTUP_DEADLINE_S = 20.0
#: The environment of a run: no target or credentials inherited from the caller's shell.


@contextmanager
def sandbox(*options: str) -> Iterator[str]:
    with sandbox_process(*options, env=CLEAN_ENV) as url:
        yield url


def octoqa_load(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "octopus_qa", "load", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        cwd=cwd,
        env=CLEAN_ENV,
    )


def summary_of(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "load" / "summary.json").read_text(encoding="utf-8"))


def failed_gates(summary: dict[str, Any]) -> set[tuple[str, str]]:
    return {(g["endpoint"], g["metric"]) for g in summary["gates"] if g["verdict"] == "fail"}


def load_against(url: str, run_dir: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = octoqa_load("--target", url, "--report-dir", str(run_dir), *args)
    return result.returncode, summary_of(run_dir), result.stdout + result.stderr


# --- Runs that pass ---------------------------------------------------------------------------


@pytest.mark.slow
def test_smoke_run_against_the_embedded_sandbox_passes_its_gates_with_zero_failures(
    tmp_path: Path,
) -> None:
    result = octoqa_load("--load-profile", "smoke", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = (tmp_path / "reports" / "latest").resolve()
    summary = summary_of(run_dir)
    assert summary["verdict"] == "pass"
    assert summary["stage"] == "load" and summary["profile"] == "smoke"
    assert summary["endpoints"]["total"]["requests"] > 50
    assert summary["endpoints"]["total"]["failures"] == 0
    assert summary["rule_violations"] == {}
    assert {"login", "list", "detail", "availability", "refresh", "logout"} <= set(
        summary["endpoints"]
    )
    assert not failed_gates(summary)
    assert len(summary["history"]) >= 5 and max(p["users"] for p in summary["history"]) == 12
    for artifact in ("load/locust.html", "load/locust_stats.csv", "load/locust_stats_history.csv"):
        assert (run_dir / artifact).is_file(), artifact
    assert "load verdict: pass" in result.stdout
    # Judged once, inside Locust: octoqa prints the very table Locust printed as it quit.
    printed = result.stdout.split("\n", 1)[1].split("load verdict:", 1)[0]
    header = re.search(r"^endpoint +metric ", printed, re.M)
    assert header is not None, printed
    gates_printed = printed[header.start() :].split("\ngenerator ")[0]
    assert gates_printed.strip() and gates_printed in (run_dir / "load" / "locust.log").read_text()
    # ...from Locust's statistics in memory, which say what its CSV says: the same counts, and
    # Locust's own rounded percentiles kept beside the exact ones the gates judged.
    from_csv, _ = read_stats(run_dir / "load" / "locust_stats.csv")
    assert set(summary["endpoints"]) == set(from_csv)
    for key, stats in from_csv.items():
        entry = summary["endpoints"][key]
        assert (entry["requests"], entry["failures"], entry["rps"]) == (
            stats.requests,
            stats.failures,
            round(stats.rps, 3),
        )
        assert entry["locust"] == {
            "p50_ms": stats.p50_ms,
            "p95_ms": stats.p95_ms,
            "p99_ms": stats.p99_ms,
        }
        assert entry["latency_source"] == "hdr"


@pytest.mark.slow
def test_reports_carry_no_password_and_no_token(tmp_path: Path) -> None:
    with sandbox() as url:
        code, _, output = load_against(url, tmp_path / "run")
    assert code == 0, output
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert DEMO_PASSWORD not in text, path
            assert "eyJ" not in text, f"{path} holds what looks like a JWT"
            assert "Bearer " not in text, path
    assert DEMO_PASSWORD not in output


@pytest.mark.slow
def test_short_lived_tokens_are_refreshed_without_a_single_auth_failure(tmp_path: Path) -> None:
    with sandbox("--token-ttl", "3") as url:
        code, summary, output = load_against(url, tmp_path / "run", "--load-profile", "soak-smoke")
    assert code == 0, output
    endpoints = summary["endpoints"]
    assert endpoints["total"]["failures"] == 0
    assert endpoints["refresh"]["requests"] >= 12  # every user renewed, over five lifetimes
    protected = sum(
        endpoints[key]["requests"] for key in ("list", "crawl", "detail", "availability")
    )
    # Renewed before exp (every ~2 s per user at a 3 s lifetime), not before every request.
    assert endpoints["refresh"]["requests"] < protected * 0.8
    # The run outlived a token: the churner's kept login came back expired and was refused.
    assert endpoints["expired"]["requests"] >= 1 and endpoints["expired"]["failures"] == 0


@pytest.mark.slow
def test_an_expired_token_served_under_load_breaks_its_rule(tmp_path: Path) -> None:
    """A4 under load: the target serves tokens past their exp; a run that outlives one says so."""
    with sandbox("--fault", "expired-token-accepted", "--token-ttl", "3") as url:
        code, summary, output = load_against(url, tmp_path / "run", "--load-profile", "soak-smoke")
    assert code == 1, output
    assert summary["rule_violations"].get("expired-token-rejected", 0) >= 1, summary
    assert "[expired-token-rejected]" in output


@pytest.mark.slow
def test_workers_run_in_locusts_distributed_mode_and_results_merge(tmp_path: Path) -> None:
    with sandbox() as url:
        code, summary, output = load_against(url, tmp_path / "run", "--workers", "2")
    assert code == 0, output
    assert summary["workers"] == 2
    assert summary["workers_reported"] == 2
    assert summary["endpoints"]["total"]["requests"] > 50
    # Each worker's in-flight book reached the master: every request of an endpoint counted.
    concurrency = summary["concurrency"]["endpoints"]
    for key in ("list", "detail"):
        assert concurrency[key]["requests"] == summary["endpoints"][key]["requests"], key
    assert summary["concurrency"]["findings"] == []  # the clean sandbox is named nothing


@pytest.mark.slow
def test_run_time_cuts_a_profile_short(tmp_path: Path) -> None:
    with sandbox() as url:
        code, summary, output = load_against(url, tmp_path / "run", "--run-time", "4s")
    # Judged, not necessarily passed: 4 s is too short for the smoke throughput floors of the
    # rarer endpoints (a Browser thinks 0.5-2 s between steps), which is the gates' business.
    assert code in (0, 1), output
    assert summary["history"][-1]["t"] <= 6  # the smoke profile alone would run 10 s
    total = summary["endpoints"]["total"]
    assert total["requests"] > 0 and total["failures"] == 0, total


@pytest.mark.slow
def test_a_master_port_taken_before_locust_binds_it_gets_the_run_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The free port chosen for a multi-process run's master is taken before Locust binds it
    (another process got it in between): the run starts again on another port, and the worker
    the failed start forked is not left running."""
    for name in ("OCTOPUS_BASE_URL", "OCTOPUS_USERNAME", "OCTOPUS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as taken, sandbox() as url:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        chosen = iter([busy])
        monkeypatch.setattr(runner, "free_port", lambda: next(chosen, None) or free_port())
        out = io.StringIO()
        options = LoadOptions(target=url, workers=1, run_time="3s", report_dir=tmp_path / "run")
        code = run_load(options, out=out)
        on_the_busy_port = [
            process
            for process in psutil.process_iter(["cmdline"])
            if f"--master-port {busy}" in " ".join(process.info["cmdline"] or ())
        ]
    assert code in (0, 1), out.getvalue()  # judged (3 s may miss a throughput floor)
    summary = summary_of(tmp_path / "run")
    assert summary["workers_reported"] == 1 and summary["endpoints"]["total"]["requests"] > 0
    assert on_the_busy_port == []


# --- Runs that must fail (exit code 1) --------------------------------------------------------


@pytest.mark.slow
def test_slow_answers_break_the_latency_gate(tmp_path: Path) -> None:
    with sandbox("--latency-ms", "300") as url:
        code, summary, output = load_against(url, tmp_path / "run")
    assert code == 1, output
    assert summary["verdict"] == "fail"
    assert ("list", "p95_ms") in failed_gates(summary)
    assert "FAIL" in output


@pytest.mark.slow
def test_server_errors_break_the_error_rate_gate(tmp_path: Path) -> None:
    with sandbox("--error-rate", "0.05") as url:
        code, summary, output = load_against(url, tmp_path / "run", "--load-profile", "soak-smoke")
    assert code == 1, output
    assert any(metric == "error_rate" for _, metric in failed_gates(summary))
    assert summary["rule_violations"] == {}  # a documented 500 is an error, not a broken rule


@pytest.mark.slow
def test_a_contract_fault_is_named_by_its_rule_under_load(tmp_path: Path) -> None:
    """Across two worker processes: each broken response counted by its rule at the master,
    and a sample of the failing requests, from both workers, written as HAR beside the JUnit."""
    with sandbox("--fault", "total-pages-off-by-one") as url:
        code, summary, output = load_against(url, tmp_path / "run", "--workers", "2")
    assert code == 1, output
    assert summary["rule_violations"].get("pagination-headers-consistent", 0) > 0
    assert ("all", "rule_violations") in failed_gates(summary)
    assert "[pagination-headers-consistent]" in output
    har_text = (tmp_path / "run" / "load" / "failures.har").read_text(encoding="utf-8")
    assert DEMO_PASSWORD not in har_text and not JWT.search(har_text)
    har = json.loads(har_text)
    assert_valid_har(har)
    entries = har["log"]["entries"]
    assert 1 <= len(entries) <= 25  # recorder.FAILURE_SAMPLE (importing it would bring gevent)
    assert all("[pagination-headers-consistent]" in entry["comment"] for entry in entries)
    assert all(entry["request"]["url"].startswith(f"{url}/api/v1/products") for entry in entries)
    assert summary["artifacts"]["failures_har"] == "load/failures.har"


REORDERING_TARGET = Path(__file__).with_name("reordering_target.py")
ORDER_RULES = ("default-order-id-desc", "sort-orders-results")
SMOKE_USERS = 12  # load/profiles.toml: at most one answer each left unread when the run stops


@pytest.mark.slow
def test_a_page_unlike_one_that_held_for_the_same_request_is_judged_again(tmp_path: Path) -> None:
    """Pages that held are remembered by request and body (loadtest/judged_once.py): the target
    reverses every second answer to the same browsed request, and every reversed page the users
    read is counted as broken, however often its request held before."""
    command = [sys.executable, str(REORDERING_TARGET), "--port"]
    with server_process(
        lambda port: [*command, str(port)], env=CLEAN_ENV, timeout=STARTUP_DEADLINE_S
    ) as url:
        code, summary, output = load_against(url, tmp_path / "run", "--load-profile", "smoke")
        with urllib.request.urlopen(f"{url}/__reversed", timeout=10) as answer:
            reversed_pages = json.loads(answer.read())["reversed"]
    broken = sum(summary["rule_violations"].get(rule, 0) for rule in ORDER_RULES)
    assert code == 1, output
    assert set(summary["rule_violations"]) <= set(ORDER_RULES), summary["rule_violations"]
    assert reversed_pages > 0
    assert reversed_pages - SMOKE_USERS <= broken <= reversed_pages, (reversed_pages, broken)


@pytest.mark.slow
def test_a_regression_against_a_far_better_baseline_fails_the_run(tmp_path: Path) -> None:
    better = {"requests": 100_000, "failures": 0, "rps": 10_000.0, "p50_ms": 0.1, "p95_ms": 0.1}
    baseline = tmp_path / "baseline.json"
    baseline.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "stage": "load",
                "verdict": "pass",
                "profile": "smoke",
                "endpoints": {"list": better},
            }
        ),
        encoding="utf-8",
    )
    with sandbox() as url:
        code, summary, output = load_against(url, tmp_path / "run", "--baseline", str(baseline))
    assert code == 1, output
    regressions = {(g["endpoint"], g["metric"]) for g in summary["regressions"]}
    assert regressions == {("list", "p95_ms"), ("list", "rps")}
    assert all(g["source"] == "baseline" for g in summary["regressions"])


# --- Refusals (exit code 2, before any load) --------------------------------------------------


def assert_refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_host_outside_the_allow_list_is_refused_before_any_traffic(tmp_path: Path) -> None:
    started = time.monotonic()
    result = octoqa_load("--target", "https://example.invalid", cwd=tmp_path)
    assert_refused(result, "allow-list")
    assert time.monotonic() - started < 15
    assert not (tmp_path / "reports").exists()  # refused before a run directory was made


def test_an_unreachable_target_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = octoqa_load("--target", f"http://127.0.0.1:{free_port()}", cwd=tmp_path)
    assert_refused(result, "cannot reach")


def test_a_target_that_is_not_the_api_is_one_line_and_exit_2(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1"]
    with server_process(
        lambda port: [*command, str(port)], env=CLEAN_ENV, timeout=STARTUP_DEADLINE_S
    ) as url:
        result = octoqa_load("--target", url, cwd=tmp_path)
    assert_refused(result, "does not look like the Octopus Cards API")


def test_an_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    assert_refused(octoqa_load("--load-profile", "forever", cwd=tmp_path), "unknown load profile")
    # --profile, the name every other octoqa command uses, is the same option here
    assert_refused(octoqa_load("--profile", "forever", cwd=tmp_path), "unknown load profile")


def test_a_run_time_beyond_the_cap_is_refused(tmp_path: Path) -> None:
    assert_refused(octoqa_load("--run-time", "100h", cwd=tmp_path), "--run-time")


@pytest.mark.slow
def test_plain_locust_refuses_a_host_outside_the_allow_list(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(DEFAULT_LOAD_DIR / "locustfile.py"),
            "--host",
            "https://example.invalid",
            "--headless",
            "--run-time",
            "5s",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=CLEAN_ENV,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "allow-list" in result.stderr
    assert "All users spawned" not in result.stderr

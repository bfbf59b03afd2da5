"""The bottleneck named: in flight per endpoint (loadtest/concurrency.py), what the levels say
(loadtest/bottleneck.py), and real runs on loopback against the two performance faults of the
sandbox's catalogue and against the clean sandbox.

The pure parts are pinned on made-up books: a lock's latency (40 ms per request ahead) is named,
a busy server's (latency growing with everything in flight) and an out-of-proportion one are
not; failures above an in-flight count are named, failures spread evenly are not. The slow tests
run short capacity searches (seconds a step) and a smoke load run, and read the verdict line,
the report lines and summary.json.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import escape
from pathlib import Path
from typing import Any

import pytest
from load_dirs import CLEAN_ENV, load_dir_with

from octopus_qa.loadtest import host_counts
from octopus_qa.loadtest.bottleneck import (
    analyse,
    error_split,
    grew_first,
    latency_fit,
    serialises,
    solve,
    usl,
)
from octopus_qa.loadtest.capacity import Step
from octopus_qa.loadtest.concurrency import ConcurrencyBook, InFlight
from octopus_qa.loadtest.host_counts import COUNTS_FILE, HostCounts
from octopus_qa.loadtest.latency import SETTLE_EVERY
from octopus_qa.report import write_report
from octopus_qa.sandbox.server import sandbox_process

#: Light runs tried until one has overlapping availability checks (about 16 s each).
LIGHT_TRIES = 3
#: The smoke profile with four times its users, held 12 s: every gate still holds against the
#: lock (availability about 6 a second, a quarter of the lock's time), and availability checks
#: overlap in nearly every run, where the smoke's 1.6 a second overlap in a few runs of ten
#: (CI saw eight smoke runs in a row without one).
LIGHT_PROFILE = """
[profile.smoke-x4]
kind = "ramp"
description = "test: the smoke profile with four times its users"
users = 48
ramp_s = 2
hold_s = 12
"""


def book_of(latency: Any, requests: int = 40, levels: int = 6, others: int = 3) -> ConcurrencyBook:
    """A book with `requests` at each own level 1..levels and others 0..others-1 alike, each
    taking latency(own, others) ms."""
    book = ConcurrencyBook()
    for own in range(1, levels + 1):
        for other in range(others):
            for _ in range(requests):
                book.record("availability", own, other, latency(own, other), failed=False)
    return book


# --- In flight, counted -------------------------------------------------------------------------


def test_a_request_carries_the_levels_it_met_and_is_counted_out_even_when_its_check_raised() -> (
    None
):
    in_flight = InFlight()
    with in_flight.sending("list") as first, in_flight.sending("detail") as second:
        assert (first.key, first.own, first.others) == ("list", 1, 0)
        assert (second.key, second.own, second.others) == ("detail", 1, 1)
        with pytest.raises(ValueError), in_flight.sending("list") as third:
            assert (third.own, third.others) == (2, 1)
            raise ValueError("a check that blew up")
    assert in_flight.counts == {"list": 0, "detail": 0} and in_flight.total == 0


def test_an_answered_request_is_booked_under_the_levels_it_met_when_it_was_sent() -> None:
    in_flight = InFlight()
    with in_flight.sending("detail"), in_flight.sending("list") as sent:
        with in_flight.sending("list"):
            pass  # came and went while `sent` was out: the levels are those met at sending
        sent.answered(12.0, failed=False)
        sent.answered(30.0, failed=True)
    assert in_flight.book.cells == {"list": {(1, 1): [2.0, 42.0, 1.0]}}


#: Sixty list requests through `validation.send` (a subprocess: Locust patches the standard
#: library with gevent on import); prints what Locust was told and what the book holds.
SEND_SIXTY = """
import json, sys
from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook
from octopus_qa.loadtest.concurrency import IN_FLIGHT
from octopus_qa.loadtest.validation import send
from octopus_qa.plan.endpoints import ENDPOINTS
from octopus_qa.target.credentials import Credentials
from octopus_qa.target.session import login

url = sys.argv[1]
reported = []
request_event = EventHook()
request_event.add_listener(lambda **meta: reported.append(meta))
client = FastHttpSession(url, request_event, user=None)
token = login(url, Credentials.from_env()).access_token
for _ in range(60):
    send(client, ENDPOINTS["list"], "/api/v1/products", headers={"Authorization": "Bearer " + token})
print(json.dumps({
    "reported": [[m["name"], m["response_time"], m["exception"] is None] for m in reported],
    "cells": {key: [[*levels, *cell] for levels, cell in cells.items()]
              for key, cells in IN_FLIGHT.book.cells.items()},
    "total": IN_FLIGHT.total,
}))
"""


def test_send_books_each_answer_under_its_endpoint_but_not_the_429s() -> None:
    """Through `validation.send` against a sandbox answering a third of its requests 429: the
    book holds the others, under the list endpoint's key, with Locust's own latencies, and
    nothing is left counted in flight."""
    with sandbox_process("--chaos", "rate-limit=0.33,retry-after=0") as url:
        run = subprocess.run(
            [sys.executable, "-c", SEND_SIXTY, url], capture_output=True, text=True, timeout=60
        )
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout)
    limited = [row for row in seen["reported"] if row[0].startswith("429")]
    answered = [row for row in seen["reported"] if not row[0].startswith("429")]
    assert limited and answered and all(ok for _, _, ok in answered)
    assert list(seen["cells"]) == ["list"]
    (cell,) = seen["cells"]["list"]  # one request at a time: own 1, others 0
    assert cell[:2] == [1, 0] and cell[2] == len(answered) and cell[4] == 0
    assert cell[3] == pytest.approx(sum(ms for _, ms, _ in answered))
    assert seen["total"] == 0


def test_requests_booked_in_a_batch_make_the_book_booked_one_by_one() -> None:
    """Answering only appends; the book read midway, at the end, or filled past SETTLE_EVERY
    holds every request, with the same sums as `record` called for each."""
    in_flight, direct = InFlight(), ConcurrencyBook()
    with in_flight.sending("list") as sent:
        for i in range(SETTLE_EVERY + 300):
            sent.own, sent.others = 1 + i % 5, i % 3
            ms, failed = 0.5 + (i * 37 % 1000) / 7, i % 11 == 0
            sent.answered(ms, failed)
            direct.record("list", sent.own, sent.others, ms, failed)
            if i == 10:
                assert sum(cell[0] for cell in in_flight.book.cells["list"].values()) == 11
            if i == SETTLE_EVERY + 10:
                assert len(in_flight._sent) < SETTLE_EVERY
        assert in_flight.book.encode() == direct.encode()
        sent.answered(1.0, failed=False)
    in_flight.reset()
    assert in_flight.book.encode() == ConcurrencyBook().encode()


def test_workers_books_add_up_on_the_master() -> None:
    worker, other, master = ConcurrencyBook(), ConcurrencyBook(), ConcurrencyBook()
    worker.record("list", 1, 0, 2.0, failed=False)
    other.record("list", 1, 0, 4.0, failed=True)
    other.record("crawl", 3, 1, 10.0, failed=False)
    for book in (worker, other):
        master.add_encoded(json.loads(json.dumps(book.encode())))
    assert master.cells["list"][(1, 0)] == [2.0, 6.0, 1.0]
    assert master.levels["list"][1] == {2.0: 1, 4.0: 1}
    assert master.cells["crawl"][(3, 1)] == [1.0, 10.0, 0.0]


def test_workers_on_one_host_each_count_every_workers_requests(tmp_path: Path) -> None:
    """Two workers' rows in the master's file: what a request meets at its send is its own
    process's requests in flight and the other's, its endpoint's and all of them."""
    path = tmp_path / COUNTS_FILE
    host_counts.create(path, rows=2)
    first, second = InFlight(), InFlight()
    first.host, second.host = HostCounts.attach(path, 0), HostCounts.attach(path, 1)
    assert first.host is not None and second.host is not None
    with first.sending("availability"), first.sending("list"):
        with second.sending("availability") as sent:
            assert (sent.own, sent.others) == (2, 1)  # itself and the first's; the first's list
        with second.sending("detail") as sent:
            assert (sent.own, sent.others) == (1, 2)
    with second.sending("availability") as sent:  # the first's have come back
        assert (sent.own, sent.others) == (1, 0)


@pytest.mark.parametrize(
    ("rows", "row", "damage"),
    [(2, 2, None), (2, -1, None), (2, 0, "truncated"), (2, 0, "other columns"), (2, 0, "none")],
)
def test_a_worker_that_finds_no_row_of_its_own_counts_alone(
    tmp_path: Path, rows: int, row: int, damage: str | None
) -> None:
    """A worker past the rows the master expected, on another host (no file), or finding a
    file that is not one: it maps nothing in, and counts its own requests as before."""
    path = tmp_path / COUNTS_FILE
    host_counts.create(path, rows)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:-8])
    elif damage == "other columns":
        data = bytearray(path.read_bytes())
        data[8:16] = (len(host_counts.COLUMNS) + 1).to_bytes(8, "little")
        path.write_bytes(bytes(data))
    elif damage == "none":
        path.unlink()
    assert HostCounts.attach(path, row) is None


# --- What the levels say ------------------------------------------------------------------------


def test_a_lock_held_40_ms_serialises_and_its_throughput_tops_out_near_25_a_second() -> None:
    book = book_of(lambda own, others: 40.0 * own + 1.0)
    fit = latency_fit(book.cells["availability"])
    assert fit is not None and fit["per_own_ms"] == pytest.approx(40.0, abs=0.5)
    assert serialises(fit, slowest_alone_ms=41.0)
    model = usl(fit["usl_alone_ms"], fit["usl_per_own_ms"], fit["coherency_ms"])
    assert model is not None and model.peak_rps == pytest.approx(1000 / 41, rel=0.1)


#: A capacity run's availability levels under the 40 ms lock, deep in its queue (a busy
#: machine, 2026-12-06): in flight, requests, mean ms. The second waits half of the one ahead,
#: the rest whole ones: a line through them meets the axis near half of the 42 ms alone.
A_LOCK_DEEP_IN_ITS_QUEUE = [
    (1, 208, 41.9), (2, 218, 63.51), (3, 177, 102.79), (4, 125, 143.34), (5, 100, 183.48),
    (6, 79, 222.15), (7, 72, 268.27), (8, 48, 308.49), (9, 44, 346.0), (10, 56, 389.86),
    (11, 24, 433.14), (12, 13, 467.02), (13, 9, 519.3), (14, 6, 564.76), (15, 3, 593.91),
]  # fmt: skip


def test_a_lock_deep_in_its_queue_is_measured_against_the_requests_sent_alone() -> None:
    """The proportion is of what one alone took, measured: against the line's intercept (27 ms
    here) the +40 ms a request ahead read as out of proportion, and the lock went unnamed."""
    book = ConcurrencyBook()
    for own, requests, mean_ms in A_LOCK_DEEP_IN_ITS_QUEUE:
        for _ in range(requests):
            book.record("availability", own, 0, mean_ms, failed=False)
    fit = latency_fit(book.cells["availability"])
    assert fit is not None and fit["per_own_ms"] == pytest.approx(40.5, abs=1.5)
    assert fit["alone_ms"] < 30 and fit["alone_mean_ms"] == pytest.approx(41.9)
    assert serialises(fit, slowest_alone_ms=46.0)


def test_a_busy_server_slows_with_everything_in_flight_and_is_not_called_serialising() -> None:
    book = book_of(lambda own, others: 5.0 + 12.0 * (own - 1 + others))
    fit = latency_fit(book.cells["availability"])
    assert fit is not None and fit["per_other_ms"] == pytest.approx(12.0, abs=0.5)
    assert not serialises(fit, slowest_alone_ms=30.0)


def test_latency_out_of_proportion_to_one_alone_is_not_a_lock() -> None:
    # +8 ms per request ahead on 4 ms alone (a clean sandbox's crawl pages, seen on a run).
    fit = latency_fit(book_of(lambda own, others: 4.0 + 8.0 * (own - 1)).cells["availability"])
    assert fit is not None and not serialises(fit, slowest_alone_ms=5.0)


def test_latency_that_does_not_grow_is_not_named_however_slow() -> None:
    fit = latency_fit(book_of(lambda own, others: 300.0).cells["availability"])
    assert fit is not None and fit["per_own_ms"] == pytest.approx(0.0, abs=1e-6)
    assert not serialises(fit, slowest_alone_ms=300.0)


def test_usl_peak_is_where_coherency_turns_the_curve() -> None:
    model = usl(alone_ms=10.0, slope_ms=1.0, coherency_ms=0.01)  # lambda 100, sigma .1, kappa .001
    assert model is not None and model.peak_in_flight == pytest.approx(30.0, abs=0.1)
    n = 30.0
    assert model.peak_rps == pytest.approx(
        100 * n / (1 + 0.1 * (n - 1) + 0.001 * n * (n - 1)), 0.01
    )


def test_the_solver_solves_and_refuses_a_singular_system() -> None:
    assert solve([[2.0, 1.0], [1.0, 3.0]], [3.0, 5.0]) == pytest.approx([0.8, 1.4])
    assert solve([[1.0, 2.0], [2.0, 4.0]], [1.0, 2.0]) is None


def failures_book(failed: Any) -> ConcurrencyBook:
    book = ConcurrencyBook()
    for total in range(1, 13):
        for i in range(200):
            book.record("list", 1, total - 1, 5.0, failed=failed(total, i))
    return book


def test_failures_above_six_in_flight_are_named_with_the_split() -> None:
    split = error_split(failures_book(lambda total, i: total > 6 and i % 33 == 0).cells["list"])
    assert split is not None and split.above == 6 and split.rate_at_or_below == 0
    assert split.rate_above == pytest.approx(7 / 200, rel=0.01)


def test_the_crawlers_pages_fail_with_the_listings_and_are_read_with_them() -> None:
    book = failures_book(lambda total, i: total > 6 and i % 66 == 0)
    book.cells["crawl"] = {levels: list(cell) for levels, cell in book.cells["list"].items()}
    named = analyse(book, {})
    assert named["endpoints"]["crawl"]["errors_under_concurrency"] is None
    assert named["endpoints"]["list"]["errors_under_concurrency"]["failed_above"] == 2 * 24
    assert named["findings"] == [
        "listings fail under concurrency: 2.0% of requests sent with more than 6 in flight "
        "failed, 0.0% with 6 or fewer"
    ]


def test_failures_spread_evenly_or_none_are_not_named() -> None:
    assert error_split(failures_book(lambda total, i: i % 33 == 0).cells["list"]) is None
    assert error_split(failures_book(lambda total, i: False).cells["list"]) is None


def step_with(rate: float, p50: dict[str, float]) -> Step:
    return Step(
        rate, "pass", 1, rate, 0.0, None, None, [], [], None, "x",
        endpoints={key: {"p50_ms": value} for key, value in p50.items()},
    )  # fmt: skip


def test_the_latency_that_grew_first_must_stay_grown() -> None:
    steps = [
        step_with(20, {"login": 6, "availability": 41}),
        step_with(30, {"login": 15, "availability": 45}),  # a burst of logins, once
        step_with(45, {"login": 7, "availability": 90}),
        step_with(67, {"login": 7, "availability": 200}),
    ]
    grew = grew_first(steps)
    assert grew is not None and grew["endpoint"] == "availability" and grew["rate_rps"] == 45


def test_a_latency_that_doubled_and_stays_near_double_grew_first() -> None:
    """CI's steps against the 40 ms lock: 95 ms at 120 req/s, then 82 and 86 a step higher
    (under twice 43 ms, far over its lightest): availability grew first, at 120."""
    steps = [
        step_with(30, {"availability": 43}),
        step_with(101.2, {"availability": 70}),
        step_with(120, {"availability": 95}),
        step_with(125, {"availability": 82}),
        step_with(131.4, {"availability": 85.6}),
    ]
    grew = grew_first(steps)
    assert grew is not None and grew["endpoint"] == "availability" and grew["rate_rps"] == 120


# --- Real runs on loopback ----------------------------------------------------------------------


def capacity(url: str, report_dir: Path, *options: str) -> tuple[list[str], dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "octopus_qa", "capacity", "--target", url,
         "--report-dir", str(report_dir), "--max-time", "3m", *options],
        capture_output=True, text=True, timeout=300, env=CLEAN_ENV,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stdout + result.stderr
    summary = json.loads((report_dir / "capacity" / "summary.json").read_text(encoding="utf-8"))
    return result.stdout.strip().splitlines(), summary


@pytest.mark.slow
def test_a_capacity_run_names_the_availability_lock(tmp_path: Path) -> None:
    with sandbox_process("--fault", "availability-serialised", env=CLEAN_ENV) as url:
        lines, summary = capacity(
            url, tmp_path, "--start-rps", "30", "--factor", "1.5", "--step-s", "4",
            "--refine", "1", "--confirm-s", "0",
        )  # fmt: skip
    said = re.search(r"availability serialises: \+(\d+) ms per concurrent request", lines[-1])
    assert said is not None, lines
    assert 25 <= int(said.group(1)) <= 50  # the lock is held 40 ms
    assert any(line.strip().startswith("bottleneck: availability serialises") for line in lines)
    named = summary["bottleneck"]
    assert [f for f in named["findings"] if "serialises" in f] == [named["findings"][0]]
    assert named["endpoints"]["availability"]["serialises"]
    peak = named["endpoints"]["availability"]["usl"]["peak_rps"]
    assert 15 <= peak <= 40, peak  # one at a time for 40 ms: 25 a second
    assert summary["steps"][0]["endpoints"]["availability"]["p50_ms"] >= 40
    # Its p50 doubles only near the lock's limit (about 170 req/s of the mix): a busy machine's
    # generator can give out before any step it judged shows that, and then nothing grew first.
    if summary["steps"][-1]["verdict"] != "invalid":
        assert named["grew_first"]["endpoint"] == "availability", named["grew_first"]
        assert any(
            line.strip().startswith("the latency of availability grew first") for line in lines
        )
    # Little's law: the time-average in flight (rate x mean latency) is what arrivals saw.
    for step in summary["steps"]:
        entry = step_summary(tmp_path, step)["concurrency"]["endpoints"]["availability"]
        if entry["in_flight_littles_law"] >= 0.3:
            ratio = entry["in_flight_seen"] / entry["in_flight_littles_law"]
            assert 0.5 <= ratio <= 2, (step["rate_rps"], entry)


#: The open model at 100 task runs a second, two workers: availability about 10 a second against
#: the 40 ms lock, busy half the time or more.
TWO_WORKERS_PROFILE = """
[profile.arrival-100]
kind = "arrival"
description = "test: 100 task runs a second for eight seconds"
rate_rps = 100
per_user_rps = 4
ramp_s = 2
hold_s = 8
"""


@pytest.mark.slow
def test_two_workers_count_what_the_server_sees(tmp_path: Path) -> None:
    """Each of two workers counts both workers' requests: what a request met at its send is on
    average what Little's law says was in flight (each worker's own share read 0.44-0.59 of
    it), and the lock reads as from one process, +40 ms a request on 40 ms alone (+52 on 58)."""
    load_dir = load_dir_with(tmp_path, TWO_WORKERS_PROFILE)
    with sandbox_process("--fault", "availability-serialised", env=CLEAN_ENV) as url:
        result = subprocess.run(
            [sys.executable, "-m", "octopus_qa", "load", "--profile", "arrival-100",
             "--workers", "2", "--load-dir", str(load_dir), "--target", url,
             "--report-dir", str(tmp_path / "run")],
            capture_output=True, text=True, timeout=120, env=CLEAN_ENV,
        )  # fmt: skip
    assert result.returncode in (0, 1), result.stdout + result.stderr  # judged, held or not
    summary = json.loads((tmp_path / "run" / "load" / "summary.json").read_text(encoding="utf-8"))
    entry = summary["concurrency"]["endpoints"]["availability"]
    assert entry["in_flight_littles_law"] >= 0.5, entry  # the lock is busy half the time or more
    assert 0.75 <= entry["in_flight_seen"] / entry["in_flight_littles_law"] <= 1.33, entry
    fit = entry["fit"]
    assert 25 <= fit["per_own_ms"] <= 50 and fit["alone_mean_ms"] < 50, fit
    assert not list(tmp_path.rglob(COUNTS_FILE))  # the master removed the workers' counts


def step_summary(report_dir: Path, step: dict[str, Any]) -> dict[str, Any]:
    path = report_dir / step["directory"] / "summary.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.slow
def test_a_capacity_run_names_listings_that_fail_under_concurrency(tmp_path: Path) -> None:
    """From 150 req/s, past where listings start failing (near 90 on a quiet machine, 60 on a
    busy one): the search steps down, and names the failures, whether a rate held or not."""
    with sandbox_process("--fault", "listings-fail-under-load", env=CLEAN_ENV) as url:
        lines, summary = capacity(
            url, tmp_path, "--start-rps", "150", "--factor", "1.3", "--step-s", "6",
            "--refine", "1", "--confirm-s", "0",
        )  # fmt: skip
    assert summary["steps"][-1]["rate_rps"] == 150  # steps are listed by rate
    assert summary["steps"][0]["rate_rps"] <= 115.4, summary["steps"]  # at least one step down
    assert "listings fail under concurrency" in lines[-1], lines
    split = summary["bottleneck"]["endpoints"]["list"]["errors_under_concurrency"]
    assert split["rate_at_or_below"] < split["rate_above"] and split["failed_above"] >= 3
    assert not any("serialises" in finding for finding in summary["bottleneck"]["findings"])


@pytest.mark.slow
def test_a_clean_sandbox_is_named_nothing(tmp_path: Path) -> None:
    with sandbox_process(env=CLEAN_ENV) as url:
        lines, summary = capacity(
            url, tmp_path, "--start-rps", "50", "--factor", "2", "--max-rps", "400",
            "--step-s", "4",
        )  # fmt: skip
    assert summary["bottleneck"]["findings"] == [], summary["bottleneck"]["findings"]
    assert "serialises" not in lines[-1] and "under concurrency" not in lines[-1]
    assert not any(line.strip().startswith("bottleneck:") for line in lines)


@pytest.mark.slow
def test_a_light_run_says_the_lock_even_with_every_gate_green(tmp_path: Path) -> None:
    """A run whose every gate holds still says an endpoint serialises, once two of its
    requests overlapped (a light run is tried again, up to LIGHT_TRIES, in the rare case none
    did); whatever it saw, it names nothing else, and every gate holds."""
    load_dir = load_dir_with(tmp_path, LIGHT_PROFILE)
    with sandbox_process("--fault", "availability-serialised", env=CLEAN_ENV) as url:
        for attempt in range(LIGHT_TRIES):
            run_dir = tmp_path / f"run-{attempt}"
            result = subprocess.run(
                [sys.executable, "-m", "octopus_qa", "load", "--profile", "smoke-x4",
                 "--load-dir", str(load_dir), "--target", url, "--report-dir", str(run_dir)],
                capture_output=True, text=True, timeout=120, env=CLEAN_ENV,
            )  # fmt: skip
            assert result.returncode == 0, result.stdout + result.stderr  # every gate held
            summary = json.loads((run_dir / "load" / "summary.json").read_text(encoding="utf-8"))
            findings = summary["concurrency"]["findings"]
            assert all(f.startswith("availability serialises: +") for f in findings), findings
            if findings:
                break
        else:
            pytest.fail(f"{LIGHT_TRIES} light runs did not name the lock")
    assert f"bottleneck: {findings[0]}" in result.stdout
    write_report(run_dir, {"stages": []})  # the page `octoqa run` writes of its stages
    page = (run_dir / "index.html").read_text(encoding="utf-8")
    assert f"Bottleneck: {escape(findings[0])}" in page

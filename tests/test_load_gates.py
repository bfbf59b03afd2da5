"""Judging a load run: Locust's CSV read back, SLO gates and baseline regressions decided.

The fixtures are Locust 2.47 CSV as it writes it (header rows copied from a real run), so these
tests also pin the format the runner depends on.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from octopus_qa.errors import UsageError
from octopus_qa.loadtest.gates import (
    FAIL,
    PASS,
    SKIP,
    Reach,
    baseline_gates,
    failed,
    judge,
    judge_run,
    slo_gates,
)
from octopus_qa.loadtest.results import (
    EndpointStats,
    measurements_from_stats,
    read_history,
    read_measurements,
    read_stats,
)
from octopus_qa.loadtest.runner import DEFAULT_LOAD_DIR, stopped_early
from octopus_qa.loadtest.summary import gates_table, read_baseline
from octopus_qa.loadtest.timing import read_timing
from octopus_qa.loadtest.verdict import Judge, LoadFacts
from octopus_qa.plan import PlanOptions, build_plan
from octopus_qa.plan.slo import BaselineTolerance, load_slo

STATS_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
)
STATS_CSV = f"""{STATS_HEADER}
GET,/api/v1/products,380,4,10,12.1,1.0,350.0,18142.8,39.5,0.4,10,12,14,16,30,210,300,340,350,350,350
GET,/api/v1/products/[id],190,0,1,1.9,0.9,7.0,614.3,19.7,0.0,1,2,2,2,6,7,7,7,7,7,7
POST,/auth/login,13,0,8,10.1,1.4,21.2,440.0,1.35,0.0,8,10,13,19,20,21,21,21,21,21,21
POST,/auth/logout,0,0,0,0.0,0,0,0.0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A
GET,429 /api/v1/products,7,0,1,1.0,1.0,1.0,60.0,0.7,0.0,1,1,1,1,1,1,1,1,1,1,1
,Aggregated,590,4,2,4.8,0.9,350.0,75656.9,61.3,0.4,2,4,5,6,15,20,33,35,35,35,35
"""
FAILURES_CSV = """Method,Name,Error,Occurrences,First Seen,Last Seen
GET,/api/v1/products,"CatchResponseError('[pagination-headers-consistent] The pagination headers agree (L2): X-Total-Pages should be ceil(10500/100) = 105 (X-Page=1)')",3,2026-11-23T11:37:03Z,2026-11-23T11:37:07Z
GET,/api/v1/products,"CatchResponseError('[pagination-headers-consistent] The pagination headers agree (L2): X-Total-Pages should be ceil(10500/20) = 525 (X-Page=1)')",2,2026-11-23T11:37:01Z,2026-11-23T11:37:10Z
POST,/api/v1/products/[id]/availability,"CatchResponseError('[availability-false-outside-ranges] is_available=True outside')",1,2026-11-23T11:37:01Z,2026-11-23T11:37:10Z
GET,/api/v1/products,CatchResponseError('HTTP 500 (expected 200)'),2,2026-11-23T11:38:17Z,2026-11-23T11:38:17Z
GET,/api/v1/products,"CatchResponseError('[not-a-rule] made up')",9,2026-11-23T11:38:17Z,2026-11-23T11:38:17Z
GET,/api/v1/products,"CatchResponseError('no HTTP response: ConnectionRefusedError')",4,2026-11-23T11:38:18Z,2026-11-23T11:38:19Z
"""
HISTORY_CSV = """Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size
1795433678,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0.0,0,0,0
1795433679,6,GET,/api/v1/products,2.000000,0.000000,0,0,0,0,0,0,0,0,0,0,0,4,0,15,17.8,10.2,35.0,12130.0
1795433679,6,,Aggregated,4.000000,0.000000,5,7,10,17,33,40,40,40,40,40,40,11,0,15,16.3,6.6,35.0,79451.8
1795433681,12,,Aggregated,9.500000,0.500000,3,5,6,8,20,25,30,33,33,33,33,30,1,10,11.2,1.0,35.0,59917.8
"""


@pytest.fixture
def csv_prefix(tmp_path: Path) -> Path:
    prefix = tmp_path / "locust"
    Path(f"{prefix}_stats.csv").write_text(STATS_CSV, encoding="utf-8")
    Path(f"{prefix}_failures.csv").write_text(FAILURES_CSV, encoding="utf-8")
    Path(f"{prefix}_stats_history.csv").write_text(HISTORY_CSV, encoding="utf-8")
    return prefix


def stats(
    requests: int = 100, failures: int = 0, rps: float = 10.0, p95: float = 50
) -> EndpointStats:
    return EndpointStats(requests, failures, rps, p95 / 2, p95, p95 * 1.5)


# --- Reading Locust's CSV ---------------------------------------------------------------------


def test_stats_are_keyed_by_endpoint_with_locusts_percentile_buckets(csv_prefix: Path) -> None:
    endpoints, _ = read_stats(Path(f"{csv_prefix}_stats.csv"))
    assert endpoints["list"] == EndpointStats(380, 4, 39.5, 10.0, 210.0, 340.0)
    assert endpoints["total"].requests == 590
    assert endpoints["logout"].p95_ms is None  # "N/A": nothing measured
    assert endpoints["list"].error_rate == pytest.approx(4 / 380)


def test_429_answers_are_counted_apart_from_their_endpoint(csv_prefix: Path) -> None:
    endpoints, rate_limited = read_stats(Path(f"{csv_prefix}_stats.csv"))
    assert rate_limited == 7
    assert endpoints["list"].requests == 380  # the 429s are not in the endpoint's numbers


#: Run in a process of its own: the recorder imports Locust, which patches the standard library.
_RECORD_AND_MERGE = """
import sys
from octopus_qa.loadtest.recorder import Recorder
from octopus_qa.rules import RULES
worker, master = Recorder(), Recorder()
for rule_id in ("pagination-headers-consistent", "pagination-headers-consistent", "error-envelope"):
    worker.rule_broken(RULES[rule_id])
report = {}
worker.on_report_to_master("w1", report)
assert not worker.broken, "each count is sent once"
master.on_worker_report("w1", report)
master.on_worker_report("w2", report)
master.timing_file = sys.argv[1]
master.on_quitting()
"""


def test_rule_violations_are_counted_by_rule_object_and_merged_from_workers(
    tmp_path: Path,
) -> None:
    """The recorder counts each broken rule as loadtest/validation.py hands it over; a worker's
    counts ride its report to the master, which writes the sum to the timing file."""
    timing_file = tmp_path / "timing.json"
    subprocess.run(
        [sys.executable, "-c", _RECORD_AND_MERGE, str(timing_file)], check=True, timeout=60
    )
    counted = read_timing(timing_file).rule_violations
    assert counted == {"pagination-headers-consistent": 4, "error-envelope": 2}
    measured = read_measurements(tmp_path / "no-csv", counted)
    assert measured.rule_violations == {"error-envelope": 2, "pagination-headers-consistent": 4}


def test_history_follows_the_aggregate_second_by_second(csv_prefix: Path) -> None:
    history = read_history(Path(f"{csv_prefix}_stats_history.csv"))
    assert [point["t"] for point in history] == [0, 1, 3]
    assert history[2] == {
        "t": 3, "at": 1795433681, "users": 12, "rps": 9.5, "p50_ms": 3.0, "p95_ms": 25.0,
        "failures_per_s": 0.5,
    }  # fmt: skip
    assert history[0]["p95_ms"] is None


def test_missing_csv_files_read_as_nothing_measured(tmp_path: Path) -> None:
    measurements = read_measurements(tmp_path / "never-written")
    assert measurements.endpoints == {}
    assert measurements.history == []


# --- SLO gates --------------------------------------------------------------------------------


def test_latency_above_its_limit_fails_the_gate() -> None:
    assert judge("list", "p95_ms", 250, 300).verdict == FAIL
    assert judge("list", "p95_ms", 250, 250).verdict == PASS


def test_throughput_below_its_floor_fails_the_gate() -> None:
    assert judge("list", "rps", 1.0, 0.5, ">=").verdict == FAIL
    assert judge("list", "rps", 1.0, 1.0, ">=").verdict == PASS


def test_nothing_measured_skips_a_latency_gate() -> None:
    assert judge("logout", "p95_ms", 250, None).verdict == SKIP


#: What the recorder counted for the fixture's run (its failures CSV names the same rules).
FIXTURE_RULE_VIOLATIONS = {
    "availability-false-outside-ranges": 1,
    "pagination-headers-consistent": 5,
}


def test_slo_gates_on_the_fixture_name_each_breach(csv_prefix: Path) -> None:
    levels = load_slo(DEFAULT_LOAD_DIR / "slo.toml", "smoke")
    measurements = read_measurements(csv_prefix, FIXTURE_RULE_VIOLATIONS)
    gates = slo_gates(levels, measurements.endpoints, measurements.rule_violations)
    breaches = {(gate.endpoint, gate.metric) for gate in failed(gates)}
    # list: 4 of 380 failed (1.05 % > 1 %); logout: never called (0 rps < floor);
    # crawl and availability: no requests; six responses broke rules.
    assert ("list", "error_rate") in breaches
    assert ("logout", "rps") in breaches
    assert ("all", "rule_violations") in breaches
    assert ("list", "p95_ms") not in breaches  # 210 ms ≤ 250 ms
    assert ("detail", "p95_ms") not in breaches
    assert all(
        gate.verdict == SKIP
        for gate in gates
        if gate.endpoint == "logout" and gate.metric.endswith("_ms")
    )


def test_a_clean_run_passes_every_slo_gate() -> None:
    levels = load_slo(DEFAULT_LOAD_DIR / "slo.toml", "smoke")
    endpoints = {key: stats() for key in levels.endpoints}
    assert failed(slo_gates(levels, endpoints, {})) == []


# --- Baseline comparison ----------------------------------------------------------------------

TOLERANCE = BaselineTolerance(p95_tolerance=0.2, throughput_tolerance=0.2, min_requests=20)


def test_p95_growth_beyond_tolerance_is_a_regression() -> None:
    gates = baseline_gates(TOLERANCE, {"list": stats(p95=130)}, {"list": stats(p95=100).as_dict()})
    assert [(g.metric, g.verdict, g.limit) for g in gates if g.metric == "p95_ms"] == [
        ("p95_ms", FAIL, 120.0)
    ]


def test_p95_growth_within_tolerance_is_not_a_regression() -> None:
    gates = baseline_gates(TOLERANCE, {"list": stats(p95=115)}, {"list": stats(p95=100).as_dict()})
    assert failed(gates) == []


def test_throughput_loss_beyond_tolerance_is_a_regression() -> None:
    gates = baseline_gates(TOLERANCE, {"list": stats(rps=7.0)}, {"list": stats(rps=10.0).as_dict()})
    assert [(g.metric, g.source) for g in failed(gates)] == [("rps", "baseline")]


def test_endpoints_with_too_few_requests_are_not_compared() -> None:
    gates = baseline_gates(
        TOLERANCE, {"logout": stats(requests=5, p95=500)}, {"logout": stats(p95=1).as_dict()}
    )
    assert gates == []


def write_summary(path: Path, **fields: object) -> Path:
    summary = {
        "schema_version": 1,
        "stage": "load",
        "verdict": "pass",
        "profile": "smoke",
        "endpoints": {"list": stats().as_dict()},
    }
    path.write_text(json.dumps({**summary, **fields}), encoding="utf-8")
    return path


def test_baseline_is_read_from_a_load_summary_of_the_same_profile(tmp_path: Path) -> None:
    baseline = read_baseline(write_summary(tmp_path / "summary.json"), "smoke")
    assert baseline["list"]["p95_ms"] == 50


def test_baseline_from_another_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="same profile"):
        read_baseline(write_summary(tmp_path / "summary.json", profile="soak"), "smoke")


def test_baseline_that_is_not_a_load_summary_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a load summary"):
        read_baseline(write_summary(tmp_path / "summary.json", stage="contract"), "smoke")


def test_baseline_of_another_schema_version_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="schema_version 0, this octoqa reads 1"):
        read_baseline(write_summary(tmp_path / "summary.json", schema_version=0), "smoke")


def test_gates_table_marks_failures_so_they_stand_out() -> None:
    table = gates_table([judge("list", "p95_ms", 250, 300), judge("list", "p50_ms", 100, 5)])
    lines = table.splitlines()
    assert lines[0].split() == ["endpoint", "metric", "source", "measured", "limit", "verdict"]
    assert lines[2].split()[-1] == "FAIL" and "300" in lines[2]
    assert lines[3].split()[-1] == "pass"


# --- One judgement, reached inside Locust, read back by octoqa load ---------------------------


def test_a_run_without_a_load_profile_is_judged_by_the_endpoint_defaults() -> None:
    slo = DEFAULT_LOAD_DIR / "slo.toml"
    assert load_slo(slo, None).endpoints["list"].min_rps == 1.0
    assert load_slo(slo, "ramp").endpoints["list"].min_rps == 10.0


def test_judge_run_adds_the_regression_gates_only_with_a_baseline(csv_prefix: Path) -> None:
    measurements = read_measurements(csv_prefix, FIXTURE_RULE_VIOLATIONS)
    judge = Judge(load_slo(DEFAULT_LOAD_DIR / "slo.toml", "smoke"))
    alone = judge.judge(measurements)
    assert all(gate.source == "slo" for gate in alone.gates) and alone.verdict == FAIL
    better = {"list": {**stats(requests=1000, rps=1000.0, p95=1).as_dict()}}
    compared = Judge(judge.levels, better).judge(measurements)
    regressions = {(g.endpoint, g.metric) for g in compared.gates if g.source == "baseline"}
    assert regressions == {("list", "p95_ms"), ("list", "rps")}


def test_the_judgement_reads_back_from_the_facts_file_as_it_was_reached(
    csv_prefix: Path, tmp_path: Path
) -> None:
    judgement = Judge(load_slo(DEFAULT_LOAD_DIR / "slo.toml", "smoke")).judge(
        read_measurements(csv_prefix, FIXTURE_RULE_VIOLATIONS)
    )
    plan = build_plan(PlanOptions(run_dir=tmp_path, load=True, load_profile="smoke"))
    assert plan.load is not None
    locust = dataclasses.replace(judgement.measurements, no_answer=4)
    LoadFacts.of(judgement, locust, plan.load, cpu_warning=True, workers_reported=2).write(
        tmp_path / "facts.json"
    )
    facts = LoadFacts.read(tmp_path / "facts.json")
    assert facts is not None and facts.profile == "smoke" and facts.workers_reported == 2
    again = facts.judgement
    assert again.gates == judgement.gates and again.verdict == judgement.verdict == FAIL
    assert again.measurements.endpoints == judgement.measurements.endpoints
    assert again.measurements.rule_violations == judgement.measurements.rule_violations
    assert again.exit_code == 1 and again.describe() == judgement.describe()
    # What `octoqa load` reads in place of the CSV's last snapshot, which may be a second old.
    history = read_measurements(csv_prefix).history
    measured = facts.measurements(history, {"rule": 1})
    assert measured.endpoints == locust.endpoints and measured.no_answer == 4
    assert measured.history == history and measured.rule_violations == {"rule": 1}


def test_facts_of_a_locust_that_never_judged_hold_no_judgement(tmp_path: Path) -> None:
    assert LoadFacts.read(tmp_path / "missing.json") is None
    (tmp_path / "partial.json").write_text('{"profile": "smoke", "cpu_warning": false}')
    assert LoadFacts.read(tmp_path / "partial.json") is None


def test_locusts_statistics_in_memory_read_as_its_csv_reads(csv_prefix: Path) -> None:
    """The same numbers through both readers (the live check is the smoke run's summary)."""

    def entry(row: dict[str, str]) -> SimpleNamespace:
        def percentile(fraction: float) -> float:
            return float(row[f"{round(fraction * 100)}%"])

        return SimpleNamespace(
            name=row["Name"],
            num_requests=int(row["Request Count"]),
            num_failures=int(row["Failure Count"]),
            total_rps=float(row["Requests/s"]),
            get_response_time_percentile=percentile,
        )

    with Path(f"{csv_prefix}_stats.csv").open(newline="", encoding="utf-8") as handle:
        rows = [entry(row) for row in csv.DictReader(handle)]
    with Path(f"{csv_prefix}_failures.csv").open(newline="", encoding="utf-8") as handle:
        errors = [
            SimpleNamespace(error=row["Error"], occurrences=int(row["Occurrences"]))
            for row in csv.DictReader(handle)
        ]
    total = next(row for row in rows if row.name == "Aggregated")
    stats_in_memory = SimpleNamespace(
        entries={(row.name, "GET"): row for row in rows if row is not total},
        total=total,
        errors={str(index): error for index, error in enumerate(errors)},
    )
    in_memory = measurements_from_stats(stats_in_memory)
    from_csv = read_measurements(csv_prefix)
    assert in_memory.endpoints == from_csv.endpoints
    assert in_memory.rate_limited == from_csv.rate_limited == 7
    assert in_memory.rule_violations == from_csv.rule_violations
    assert in_memory.no_answer == from_csv.no_answer == 4
    # A single process holds the exception itself (Locust's CatchResponseError), whose text
    # has no class name around it.
    stats_in_memory.errors["refused"] = SimpleNamespace(
        error=ConnectionError("no HTTP response: ConnectionResetError"), occurrences=3
    )
    assert measurements_from_stats(stats_in_memory).no_answer == 4 + 3


def test_a_run_stopped_for_silence_says_so_even_when_the_target_is_back() -> None:
    """The recorder stops a run whose target answers nothing for TARGET_SILENT_S; the summary
    says where it stopped, also when the probe afterwards finds the target up again."""
    silent = {"after_s": 8.0, "silent_s": 5.7, "unanswered": 62}
    back = stopped_early(None, silent, no_answer=62)
    assert back["stopped_after_s"] == 8.0 and back["no_answer_requests"] == 62
    assert "stopped 8 s in, after 5.7 s without an HTTP answer; it answers now" in back["message"]
    gone = stopped_early({"message": "the target went away", "no_answer_requests": 62}, silent, 62)
    assert gone["message"] == (
        "the target went away; the run stopped 8 s in, after 5.7 s without an HTTP answer"
    )


# --- A gate judges the API, never the choice of users ---------------------------------------


def test_an_endpoint_no_running_user_calls_is_not_judged_and_says_why(csv_prefix: Path) -> None:
    measurements = read_measurements(csv_prefix, FIXTURE_RULE_VIOLATIONS)
    levels = load_slo(DEFAULT_LOAD_DIR / "slo.toml", "smoke")
    everything = judge_run(levels, measurements)
    browsers_only = judge_run(
        levels, measurements, reach=Reach(frozenset({"login", "list"}), ("Browser",))
    )
    for full, reached in zip(everything, browsers_only, strict=True):
        if full.endpoint in ("login", "list", "all"):
            assert reached == full  # judged exactly as before: a broken one still fails
        else:
            assert reached.verdict == SKIP and reached.reason.startswith(
                f"no running user calls {full.endpoint} (users that ran: Browser)"
            )
    assert "not judged: refresh p50_ms" in gates_table(browsers_only)


@pytest.mark.parametrize(
    ("reach", "reason"),
    [
        (Reach(fixed_offer=False), "no load profile fixed the offered rate"),
        (Reach(search_step=True), "a capacity step: the search chose its rate"),
    ],
)
def test_where_the_run_did_not_choose_its_offer_only_the_throughput_floors_are_not_judged(
    csv_prefix: Path, reach: Reach, reason: str
) -> None:
    """-u/-t chose the offer, or a capacity search did (a step under 10 req/s judges no
    login: they come with its ramp): a floor then says nothing about the API."""
    measurements = read_measurements(csv_prefix, FIXTURE_RULE_VIOLATIONS)
    levels = load_slo(DEFAULT_LOAD_DIR / "slo.toml", None)
    everything = judge_run(levels, measurements)
    chosen_elsewhere = judge_run(levels, measurements, reach=reach)
    for full, judged in zip(everything, chosen_elsewhere, strict=True):
        if full.metric == "rps":
            assert judged.verdict == SKIP and reason in judged.reason
        else:
            assert judged == full
    assert any(g.metric == "rps" and g.verdict == FAIL for g in everything)  # the fixture's floors

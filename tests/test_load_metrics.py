"""Watching a run live: `--metrics-port` serves Prometheus' text format, and Prometheus reads it.

The fast tests read the collector's exposition with prometheus_client's own parser (exact
percentiles of both clocks, counts by endpoint with 429s apart, the gates judged live, the
generator's health), hold the Grafana dashboard to the names the exporter serves, and refuse a
bad or busy port with one line and exit 2 before anything runs.

The slow ones are real: a plain Locust run serves `/metrics` while it runs; and Debian's
`prometheus` (installed by `.ci/run`; skipped with the reason where it is missing) scrapes an
`octoqa load --workers 2` run against a slowed-down sandbox every second: the gate it breaches
shows as breached in Prometheus while the run still goes on, and the p99 Prometheus stored last
for an endpoint is the run summary's, within HDR's resolution, merged from both workers.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from load_dirs import load_dir_with, watched_profile
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry
from test_load_runs import CLEAN_ENV, sandbox

from octopus_qa.loadtest.generator import ProcessHealth
from octopus_qa.loadtest.latency import (
    HIGHEST_US,
    RESPONSE,
    SERVICE,
    LatencyBook,
    new_histogram,
    to_us,
    values_at,
)
from octopus_qa.loadtest.metrics import FAMILIES, LiveFigures, LiveRunCollector
from octopus_qa.loadtest.runner import DEFAULT_LOAD_DIR
from octopus_qa.plan.endpoints import ENDPOINTS, RATE_LIMITED_PREFIX
from octopus_qa.plan.slo import load_slo
from octopus_qa.target import free_port

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana").glob("*.json"))
LIST, DETAIL = ENDPOINTS["list"].name, ENDPOINTS["detail"].name
#: Labels Prometheus adds to every series it scrapes.
TARGET_LABELS = {"job", "instance"}
RUN_TIMEOUT_S = 120
#: HDR keeps three significant digits: two values of the same bucket differ by at most 0.1 %.
HDR_RESOLUTION = 0.001
PROMETHEUS = shutil.which("prometheus")


# --- The exposition, read back ------------------------------------------------------------------


def scrape(figures: LiveFigures) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """What Prometheus would read: sample name and labels → value, parsed by prometheus_client."""
    from prometheus_client.exposition import generate_latest

    registry = CollectorRegistry()
    registry.register(LiveRunCollector(lambda: figures))
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def figures(**changes: Any) -> LiveFigures:
    """A run's state as Locust and the recorder would hold it: 120 list requests (6 failed,
    3 answered 429), 10 detail requests, one broken rule, one worker's health."""
    book = LatencyBook()
    for i in range(120):
        book.record(LIST, service_ms=10.0 + i, lag_ms=40.0 if i % 10 == 0 else 0.0)
    for i in range(10):
        book.record(DETAIL, service_ms=5.0 + i)
    health = ProcessHealth(starts=200, late_backlog=7, late_wakeup=2, dropped=1)
    health.sample_cpu(40.0)
    health.sample_cpu(60.0)
    values: dict[str, Any] = {
        "book": book,
        "counts": {LIST: (120, 6), DETAIL: (10, 0), RATE_LIMITED_PREFIX + LIST: (3, 0)},
        "rule_violations": {"pagination-headers-consistent": 1},
        "levels": load_slo(DEFAULT_LOAD_DIR / "slo.toml", None),
        "processes": {"worker 1": health},
        "users": 10,
        "achieved_rps": 19.5,
        "per_user_rps": 2.0,
        "profile": "arrival",
    }
    return LiveFigures(**{**values, **changes})


def test_a_scrape_reads_the_exact_percentiles_of_both_clocks() -> None:
    state = figures()
    samples = scrape(state)
    for clock, label in ((RESPONSE, "intended-start"), (SERVICE, "sent")):
        exact = state.book.summary([LIST], clock)
        assert exact is not None
        served = sample(
            samples, "octoqa_latency_seconds", endpoint="list", clock=label, quantile="0.99"
        )
        assert served == pytest.approx(exact.p99_ms / 1000)
        p50 = sample(
            samples, "octoqa_latency_seconds", endpoint="list", clock=label, quantile="0.5"
        )
        assert p50 == pytest.approx(exact.p50_ms / 1000)
    # The 40 ms lags are in the intended-start clock only.
    intended = sample(
        samples, "octoqa_latency_seconds", endpoint="list", clock="intended-start", quantile="0.999"
    )
    sent = sample(
        samples, "octoqa_latency_seconds", endpoint="list", clock="sent", quantile="0.999"
    )
    assert intended is not None and sent is not None and intended > sent
    total = state.book.summary([LIST, DETAIL], RESPONSE)
    assert total is not None
    assert sample(
        samples, "octoqa_latency_seconds", endpoint="total", clock="intended-start", quantile="0.5"
    ) == pytest.approx(total.p50_ms / 1000)


@pytest.mark.parametrize("seed", range(8))
def test_percentiles_in_one_pass_are_hdrs_own(seed: int) -> None:
    """`latency.values_at` (a scrape's percentiles, summed in C) gives hdrh's own values, also
    for histograms merged from encoded ones as a master's are."""
    rng = random.Random(seed)
    merged = new_histogram()
    for part in range(3):
        histogram = new_histogram()
        for _ in range(rng.choice((1, 2, 17, 1000, 20_000))):
            histogram.record_value(
                to_us(rng.lognormvariate(rng.uniform(-2, 6), rng.uniform(0.1, 2)))
            )
        if part == 2:
            histogram.record_value(HIGHEST_US)  # the range's very end
        merged.decode_and_add(histogram.encode())
        for candidate in (histogram, merged):
            wanted = [0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0]
            assert values_at(candidate, wanted) == {
                p: candidate.get_value_at_percentile(p) for p in wanted
            }


def test_counts_are_by_endpoint_with_429s_and_broken_rules_apart() -> None:
    samples = scrape(figures())
    assert sample(samples, "octoqa_requests_total", endpoint="list") == 120
    assert sample(samples, "octoqa_request_failures_total", endpoint="list") == 6
    assert sample(samples, "octoqa_rate_limited_responses_total", endpoint="list") == 3
    assert sample(samples, "octoqa_requests_total", endpoint="detail") == 10
    rule = "pagination-headers-consistent"
    assert sample(samples, "octoqa_rule_violations_total", rule=rule) == 1
    # A request name the endpoint table does not know is bounded to one label value.
    own = scrape(figures(counts={"/my/own/[id]": (4, 1)}))
    assert sample(own, "octoqa_requests_total", endpoint="other") == 4


def test_the_gates_are_judged_live_once_an_endpoint_has_enough_requests() -> None:
    samples = scrape(figures())

    def gate(name: str, endpoint: str, metric: str) -> float | None:
        return sample(samples, name, endpoint=endpoint, gate=metric)

    # list: 120 requests (>= abort_min_requests), 6 failed: 5 % > 1 %.
    assert gate("octoqa_gate_breached", "list", "error_rate") == 1
    assert gate("octoqa_gate_error_measured_ratio", "list", "error_rate") == 0.05
    assert gate("octoqa_gate_error_limit_ratio", "list", "error_rate") == 0.01
    # Its p50 (about 70 ms) holds under 100 ms; its p99 (about 170 ms) under 500 ms.
    assert gate("octoqa_gate_breached", "list", "p50_ms") == 0
    assert gate("octoqa_gate_latency_limit_seconds", "list", "p50_ms") == 0.1
    measured = gate("octoqa_gate_latency_measured_seconds", "list", "p99_ms")
    exact = figures().book.summary([LIST], RESPONSE)
    assert exact is not None and measured == pytest.approx(exact.p99_ms / 1000)
    # detail: 10 requests, fewer than abort_min_requests (50): not judged yet, so not shown.
    assert gate("octoqa_gate_breached", "detail", "p50_ms") is None
    # The rule budget (0) is judged from the first broken rule on.
    assert gate("octoqa_gate_breached", "all", "rule_violations") == 1
    assert gate("octoqa_gate_rule_violations_measured", "all", "rule_violations") == 1
    # No gates at all (`--slo-file ""`): nothing about gates is served.
    ungated = scrape(figures(levels=None))
    assert not [key for key in ungated if key[0].startswith("octoqa_gate_")]


def test_users_rates_and_the_generators_health_are_served() -> None:
    samples = scrape(figures(capacity_step_rps=20.0))
    assert sample(samples, "octoqa_users") == 10
    assert sample(samples, "octoqa_offered_requests_per_second") == 20.0  # 10 users x 2/s
    assert sample(samples, "octoqa_achieved_requests_per_second") == 19.5
    assert sample(samples, "octoqa_capacity_step_requests_per_second") == 20.0
    worker = {"process": "worker 1"}
    assert sample(samples, "octoqa_generator_cpu_mean_ratio", **worker) == 0.5
    assert sample(samples, "octoqa_generator_cpu_max_ratio", **worker) == 0.6
    assert sample(samples, "octoqa_generator_task_starts_total", **worker) == 200
    late = "octoqa_generator_late_starts_total"
    assert sample(samples, late, cause="backlog", **worker) == 7
    assert sample(samples, late, cause="wakeup", **worker) == 2
    assert sample(samples, "octoqa_generator_dropped_starts_total", **worker) == 1
    assert sample(samples, "octoqa_run_info", profile="arrival", model="open") == 1
    assert sample(samples, "octoqa_run_finished") == 0
    # The closed model has no schedule: no offered rate, no task starts.
    closed = scrape(figures(per_user_rps=None))
    assert sample(closed, "octoqa_offered_requests_per_second") is None
    assert sample(closed, "octoqa_generator_task_starts_total", **worker) is None


def test_every_sample_belongs_to_a_declared_family_named_by_prometheus_conventions() -> None:
    declared = {family.sample_name: family for family in FAMILIES}
    for name, labels in scrape(figures(capacity_step_rps=5.0)):
        family = declared.get(name)
        assert family is not None, f"{name} is served but not declared in metrics.FAMILIES"
        assert {label for label, _ in labels} == set(family.labels), name
    for family in FAMILIES:
        assert re.fullmatch(r"octoqa_[a-z][a-z0-9_]*", family.name), family.name
        assert family.name.endswith("_total") == (family.kind == "counter"), family.name
        assert not re.search(r"_(ms|percent|milliseconds)(_|$)", family.name), family.name
        if re.search(r"latency|lag", family.name):
            assert family.name.endswith("_seconds"), f"{family.name}: seconds, the base unit"


# --- The Grafana dashboard ----------------------------------------------------------------------

METRIC = re.compile(r"\b(octoqa_[a-z0-9_]+)\s*(\{[^}]*\})?")
MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")


def queries(node: Any) -> Iterator[str]:
    """Every PromQL string in a dashboard: panel targets and template variable queries."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                yield value
            elif key == "query" and isinstance(value, str) and "octoqa_" in value:
                yield value
            else:
                yield from queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from queries(item)


def test_a_dashboard_is_shipped() -> None:
    assert DASHBOARDS, "deploy/grafana/ holds no dashboard"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_the_dashboard_queries_only_what_the_exporter_serves_and_shows_all_of_it(
    path: Path,
) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    served = {family.sample_name: family for family in FAMILIES}
    used: set[str] = set()
    for query in queries(dashboard):
        for match in METRIC.finditer(query):
            name, selector = match.group(1), match.group(2) or ""
            family = served.get(name)
            assert family is not None, f"{path.name} queries {name}, which is not served: {query}"
            labels = set(MATCHER.findall(selector))
            unknown = labels - set(family.labels) - TARGET_LABELS
            assert not unknown, f"{name} has no label {sorted(unknown)}: {query}"
            used.add(name)
    assert used == set(served), f"not on the dashboard: {sorted(set(served) - used)}"
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert any("octoqa_" in t.get("expr", "") for t in panel["targets"]), panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}", "no data source hard-wired"


def test_the_docs_name_every_metric_served() -> None:
    docs = (ROOT / "docs" / "load.md").read_text(encoding="utf-8")
    section = docs.split("## Watching a run live", 1)[1].split("\n## ", 1)[0]
    missing = [f.sample_name for f in FAMILIES if f"`{f.sample_name}`" not in section]
    assert not missing, f"docs/load.md § Watching a run live does not name {missing}"


# --- Bad or busy ports: one line, exit 2, before anything runs ------------------------------------


def octoqa(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "octopus_qa", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=CLEAN_ENV,
    )


@pytest.mark.parametrize("command", ["load", "capacity", "run"])
@pytest.mark.parametrize("port", ["9x", "70000", "0"])
def test_a_bad_metrics_port_is_one_line_and_exit_2(command: str, port: str, tmp_path: Path) -> None:
    result = octoqa(command, "--metrics-port", port, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("octoqa: error: --metrics-port "), lines
    assert not (tmp_path / "reports").exists()


def test_the_port_travels_in_the_plan_of_a_pipeline_run_and_of_each_capacity_step(
    tmp_path: Path,
) -> None:
    """`octoqa run` hands its stages the plan, `octoqa capacity` each step its own: the port
    (and a step's rate, shown live) must be in them, since nothing else reaches Locust."""
    from octopus_qa.loadtest.capacity import CapacityOptions, _step_plan
    from octopus_qa.pipeline import PipelineConfig, RunOptions, plan_run
    from octopus_qa.plan import PlanOptions, build_plan

    pipeline = PipelineConfig.default()
    options = RunOptions(report_dir=tmp_path / "run", metrics_port=9646)
    planned = plan_run(pipeline, pipeline.profile(None), options)
    assert planned.load is not None and planned.load.metrics_port == 9646
    plan = build_plan(PlanOptions(run_dir=tmp_path, load=True, metrics_port=9646))
    step = _step_plan(plan, CapacityOptions(step_s=8), 37.5)
    assert step.load is not None
    assert (step.load.metrics_port, step.load.capacity_step_rps) == (9646, 37.5)


def test_a_busy_metrics_port_stops_the_run_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as occupant:
        occupant.bind(("127.0.0.1", 0))
        occupant.listen()
        port = occupant.getsockname()[1]
        result = octoqa(
            "load", "--metrics-port", str(port), "--report-dir", str(tmp_path / "run"), cwd=tmp_path
        )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"octoqa: error: --metrics-port {port}: cannot listen there (Address already in use)"
    ]
    assert not (tmp_path / "run").exists()  # no sandbox started, no plan written


# --- Real runs ----------------------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], timeout_s: float, every_s: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every_s)
    return False


def metrics_text(port: int) -> str:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2, trust_env=False)
    except httpx.TransportError:
        return ""
    return response.text if response.status_code == 200 else ""


@pytest.mark.slow
def test_plain_locust_serves_metrics_while_it_runs_and_its_final_figures_before_it_exits(
    tmp_path: Path,
) -> None:
    port = free_port()
    slo = tmp_path / "slo.toml"  # throughput floors off: a 3-user run need not reach them
    text = (DEFAULT_LOAD_DIR / "slo.toml").read_text(encoding="utf-8")
    slo.write_text(re.sub(r"(?m)^min_rps = .*$", "min_rps = 0", text), encoding="utf-8")
    log_path = tmp_path / "locust.log"
    scrapes: list[str] = []
    with sandbox() as url, log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "locust", "-f", str(DEFAULT_LOAD_DIR / "locustfile.py"),
                "--host", url, "-u", "3", "-r", "3", "-t", "6s", "--headless", "--only-summary",
                "--slo-file", str(slo), "--metrics-port", str(port),
            ],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=CLEAN_ENV,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while process.poll() is None and time.monotonic() < deadline:
                scrapes.append(metrics_text(port))  # a scraper every 0.25 s
                time.sleep(0.25)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
    output = log_path.read_text(encoding="utf-8")
    running = [s for s in scrapes if "octoqa_run_finished 0.0" in s]
    assert any('octoqa_requests_total{endpoint="list"}' in s for s in running), output
    assert any("octoqa_run_finished 1.0" in s for s in scrapes), "no scrape read the final figures"
    assert process.returncode == 0, output
    assert not metrics_text(port), "the server stops with the run"


@contextmanager
def prometheus(tmp_path: Path, scrape_port: int) -> Iterator[str]:
    """Debian's Prometheus scraping the loopback port every second, its API on a free port."""
    if PROMETHEUS is None:
        pytest.skip("Debian's prometheus package is not installed (.ci/run installs it)")
    web = f"127.0.0.1:{free_port()}"
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: octoqa\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{scrape_port}']\n",
        encoding="utf-8",
    )
    log = (tmp_path / "prometheus.log").open("w", encoding="utf-8")
    process = subprocess.Popen(
        [
            PROMETHEUS, f"--config.file={config}", f"--web.listen-address={web}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}", "--log.level=warn",
        ],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        ready = wait_for(lambda: _ready(f"http://{web}") or process.poll() is not None, 30)
        assert ready and process.poll() is None, (tmp_path / "prometheus.log").read_text()
        yield f"http://{web}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1, trust_env=False).status_code == 200
    except httpx.TransportError:
        return False


def query(prometheus_url: str, expr: str) -> float | None:
    """One value from Prometheus' HTTP API (an instant query), or None when it has none."""
    response = httpx.get(
        f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=5, trust_env=False
    )
    data = response.json()
    assert data["status"] == "success", data
    result = data["data"]["result"]
    assert len(result) <= 1, f"{expr} matched several series: {result}"
    return float(result[0]["value"][1]) if result else None


LIVE_PROFILE = watched_profile("live-metrics")


@pytest.fixture
def load_dir(tmp_path: Path) -> Path:
    """A copy of `load/` with the test's profile, and gates judged live from 5 requests on."""
    directory = load_dir_with(tmp_path, LIVE_PROFILE)
    slo = directory / "slo.toml"
    text = slo.read_text(encoding="utf-8")
    slo.write_text(text.replace("abort_min_requests = 50", "abort_min_requests = 5"), "utf-8")
    return directory


@pytest.mark.slow
def test_prometheus_sees_a_breach_live_and_stores_the_summarys_p99(
    tmp_path: Path, load_dir: Path
) -> None:
    port = free_port()
    run_dir = tmp_path / "run"
    breached = 'octoqa_gate_breached{endpoint="list", gate="p50_ms"}'
    with prometheus(tmp_path, port) as api, sandbox("--latency-ms", "150") as url:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "octopus_qa", "load", "--target", url,
                "--report-dir", str(run_dir), "--load-dir", str(load_dir),
                "--profile", "live-metrics", "--workers", "2", "--metrics-port", str(port),
            ],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=CLEAN_ENV,
        )  # fmt: skip
        try:
            # Every answer takes 150 ms, list's p50 limit is 100 ms: breached from its 5th request.
            seen_live = wait_for(
                lambda: process.poll() is not None or query(api, breached) == 1, RUN_TIMEOUT_S
            )
            running = process.poll() is None
            output, _ = process.communicate(timeout=RUN_TIMEOUT_S)
        finally:
            if process.poll() is None:
                process.kill()
        stored = {
            name: query(api, f"last_over_time({expr}[5m])")
            for name, expr in {
                "p99": 'octoqa_latency_seconds{endpoint="list", clock="intended-start", '
                'quantile="0.99"}',
                "p99 sent": 'octoqa_latency_seconds{endpoint="list", clock="sent", quantile="0.99"}',
                "requests": 'octoqa_requests_total{endpoint="list"}',
                "finished": "octoqa_run_finished",
            }.items()
        }
        offered = query(api, "max_over_time(octoqa_offered_requests_per_second[5m])")
        workers = query(api, "count(last_over_time(octoqa_generator_cpu_mean_ratio[5m]))")
    assert seen_live and running, f"the breach never showed while the run lasted:\n{output}"
    summary = json.loads((run_dir / "load" / "summary.json").read_text(encoding="utf-8"))
    verdicts = {(g["endpoint"], g["metric"]): g["verdict"] for g in summary["gates"]}
    assert verdicts[("list", "p50_ms")] == "fail"
    # A breached gate is exit 1; a generator this shared machine starved makes the run invalid.
    assert process.returncode == {"fail": 1, "invalid": 2}[summary["verdict"]], output
    assert stored["finished"] == 1, "the last scrape read the final figures"
    endpoint = summary["endpoints"]["list"]
    for name, clock in (("p99", "response"), ("p99 sent", "service")):
        value = stored[name]
        expected = endpoint[clock]["p99_ms"]
        assert value is not None and value * 1000 == pytest.approx(expected, rel=HDR_RESOLUTION)
    assert stored["requests"] == endpoint["requests"]  # the master's count: both workers'
    assert summary["workers_reported"] == 2 and workers == 2
    assert offered == 20.0
    print(
        f"\nPrometheus stored {stored}; the summary: list {endpoint['requests']} requests, p99 "
        f"{endpoint['response']['p99_ms']} ms (sent: {endpoint['service']['p99_ms']} ms)"
    )

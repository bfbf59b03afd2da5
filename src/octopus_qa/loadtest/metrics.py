"""Watching a run live: its figures in Prometheus' text format at `/metrics` (`--metrics-port`).

The process that sees every worker's data (the Locust master in a distributed run, else the only
process) serves them while the run lasts. Nothing is counted twice and nothing is added to the
request path: a custom collector (`LiveRunCollector`) reads the run's state when Prometheus
scrapes: the recorder's merged HDR histograms, Locust's counts, the recorder's count of each
broken rule, the generator's health, and the gates of `slo.toml` judged on the run so far by the
same function that stops a run whose breach lasts (`abort.live_gates`).

Every family is declared once in `FAMILIES`: its name (`octoqa_` first, base units in the name,
counters end in `_total`), type, help and labels. The Grafana dashboard in `deploy/grafana/`
queries only these names (tests/test_load_metrics.py holds them together). Labels are bounded:
an endpoint key of `plan/endpoints.py` (a request name the table does not know is `other`), a
rule id, a gate, a Locust process.

The percentiles are HDR's own values (three significant digits), the ones summary.json shows:
a scrape after the run's end reads the figures the run was judged by. So as Locust quits, the
server stays up until one scrape has read those final figures (`octoqa_run_finished` 1), for at
most twice the interval the scraper kept during the run (5 to 20 s: FINAL_SCRAPE_WAIT_S); a run
nobody scraped does not wait.

The server is gevent's WSGI server running prometheus_client's WSGI app in the run's own event
loop: a scrape is a greenlet like a user, and it pauses between histograms so users keep their
schedule while the percentiles are computed.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.exposition import make_wsgi_app
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ..errors import UsageError
from ..plan.endpoints import ENDPOINTS, RATE_LIMITED_PREFIX, endpoint_for_name
from ..plan.slo import GATE_CLOCKS, LATENCY_METRICS, ServiceLevels
from .abort import live_gates
from .gates import FAIL, Gate, judge
from .generator import ProcessHealth
from .latency import PERCENTILES, LatencyBook, LatencySummary
from .locust_run import LocustRun

if TYPE_CHECKING:
    from .recorder import Recorder

__all__ = [
    "FAMILIES",
    "Exporter",
    "Family",
    "LiveFigures",
    "LiveRunCollector",
    "serve_metrics",
]

#: How long the server waits, as Locust quits, for a scrape of the final figures: twice the
#: scraper's interval, within these bounds (a scraper late by a busy second is still waited for).
FINAL_SCRAPE_WAIT_S = (5.0, 20.0)
#: A request name `plan/endpoints.py` does not know (a locustfile of the user's own).
OTHER = "other"
#: Every endpoint's requests together, 429s aside (summary.json's "total").
TOTAL = "total"
#: The clocks of `latency.py` as slo.toml's `gate_latency_from` names them.
CLOCK_LABELS = {clock: label for label, clock in GATE_CLOCKS.items()}


@dataclass(frozen=True)
class Family:
    """One metric family the exporter serves, declared once."""

    name: str
    kind: str  # gauge | counter | info
    help: str
    labels: tuple[str, ...] = ()

    def new(self) -> Metric:
        """An empty family to add this scrape's samples to."""
        labels = list(self.labels)
        if self.kind == "counter":
            return CounterMetricFamily(self.name, self.help, labels=labels)
        if self.kind == "info":  # its labels come with its one sample, as a dict
            return InfoMetricFamily(self.name, self.help, labels=[])
        return GaugeMetricFamily(self.name, self.help, labels=labels)

    @property
    def sample_name(self) -> str:
        """The name a query uses (an info family's samples end in `_info`)."""
        return f"{self.name}_info" if self.kind == "info" else self.name


LATENCY = Family(
    "octoqa_latency_seconds",
    "gauge",
    "Exact latency percentiles of the run so far (HDR histograms merged from every worker, "
    "3 significant digits), by endpoint (total: all but 429s), clock (intended-start: from the "
    "request's slot on the open model's schedule; sent: from sending) and quantile",
    ("endpoint", "clock", "quantile"),
)
REQUESTS = Family(
    "octoqa_requests_total",
    "counter",
    "Requests answered other than 429, by endpoint (Locust's count, reset with its statistics)",
    ("endpoint",),
)
FAILURES = Family(
    "octoqa_request_failures_total",
    "counter",
    "Requests that failed: an unexpected status, a broken rule or no HTTP answer",
    ("endpoint",),
)
RATE_LIMITED = Family(
    "octoqa_rate_limited_responses_total",
    "counter",
    "429 answers, counted apart: neither failures nor in the latency percentiles",
    ("endpoint",),
)
RULE_VIOLATIONS = Family(
    "octoqa_rule_violations_total",
    "counter",
    "Responses that broke a documented rule under load, by rule id",
    ("rule",),
)
GATE_BREACHED = Family(
    "octoqa_gate_breached",
    "gauge",
    "1 while a gate of slo.toml is breached on the run so far, 0 while it holds; latency and "
    "error-rate gates from abort_min_requests requests on, the rule budget always, "
    "throughput floors only at the end (not here)",
    ("endpoint", "gate"),
)
GATE_LATENCY_MEASURED = Family(
    "octoqa_gate_latency_measured_seconds",
    "gauge",
    "A latency gate's percentile so far, on the clock slo.toml gates",
    ("endpoint", "gate"),
)
GATE_LATENCY_LIMIT = Family(
    "octoqa_gate_latency_limit_seconds",
    "gauge",
    "A latency gate's limit in slo.toml",
    ("endpoint", "gate"),
)
GATE_ERROR_MEASURED = Family(
    "octoqa_gate_error_measured_ratio",
    "gauge",
    "An error-rate gate's failures / requests so far",
    ("endpoint", "gate"),
)
GATE_ERROR_LIMIT = Family(
    "octoqa_gate_error_limit_ratio",
    "gauge",
    "An error-rate gate's limit in slo.toml (max_error_rate)",
    ("endpoint", "gate"),
)
GATE_RULES_MEASURED = Family(
    "octoqa_gate_rule_violations_measured",
    "gauge",
    "The rule budget gate's broken-rule responses so far",
    ("endpoint", "gate"),
)
GATE_RULES_LIMIT = Family(
    "octoqa_gate_rule_violations_limit",
    "gauge",
    "The rule budget gate's limit in slo.toml (max_rule_violations)",
    ("endpoint", "gate"),
)
USERS = Family("octoqa_users", "gauge", "Users running now (on a master: over its workers)")
OFFERED = Family(
    "octoqa_offered_requests_per_second",
    "gauge",
    "Open model: task runs per second the schedule asks of the running users now "
    "(absent in the closed model, where think time decides)",
)
ACHIEVED = Family(
    "octoqa_achieved_requests_per_second",
    "gauge",
    "Requests per second Locust counts now (its current rate, 429s included)",
)
CAPACITY_STEP = Family(
    "octoqa_capacity_step_requests_per_second",
    "gauge",
    "octoqa capacity: the rate the step being played offers",
)
CPU_MEAN = Family(
    "octoqa_generator_cpu_mean_ratio",
    "gauge",
    "A Locust process's mean CPU so far (1: one core; generator.toml's max_cpu_percent / 100)",
    ("process",),
)
CPU_MAX = Family(
    "octoqa_generator_cpu_max_ratio",
    "gauge",
    "A Locust process's highest one-second CPU so far (1: one core)",
    ("process",),
)
LOOP_LAG = Family(
    "octoqa_generator_loop_lag_seconds",
    "gauge",
    "How late a Locust process's event loop woke, so far, at the quantile "
    "generator.toml's max_loop_lag_p99_ms judges",
    ("process", "quantile"),
)
TASK_STARTS = Family(
    "octoqa_generator_task_starts_total",
    "counter",
    "Open model: task starts on the schedule",
    ("process",),
)
LATE_STARTS = Family(
    "octoqa_generator_late_starts_total",
    "counter",
    "Open model: task starts more than late_after_ms behind their slot, by cause (backlog: "
    "the user still waited for the API; wakeup: the generator woke late)",
    ("process", "cause"),
)
DROPPED_STARTS = Family(
    "octoqa_generator_dropped_starts_total",
    "counter",
    "Open model: slots on the schedule a user never started",
    ("process",),
)
RUN = Family("octoqa_run", "info", "The run: its load profile and model", ("profile", "model"))
FINISHED = Family(
    "octoqa_run_finished",
    "gauge",
    "1 once the run has ended (these are the figures it was judged by), 0 while it runs",
)

FAMILIES: tuple[Family, ...] = (
    LATENCY,
    REQUESTS,
    FAILURES,
    RATE_LIMITED,
    RULE_VIOLATIONS,
    GATE_BREACHED,
    GATE_LATENCY_MEASURED,
    GATE_LATENCY_LIMIT,
    GATE_ERROR_MEASURED,
    GATE_ERROR_LIMIT,
    GATE_RULES_MEASURED,
    GATE_RULES_LIMIT,
    USERS,
    OFFERED,
    ACHIEVED,
    CAPACITY_STEP,
    CPU_MEAN,
    CPU_MAX,
    LOOP_LAG,
    TASK_STARTS,
    LATE_STARTS,
    DROPPED_STARTS,
    RUN,
    FINISHED,
)


def seconds(milliseconds: float) -> float:
    """Milliseconds (HDR's whole microseconds, as summary.json writes them) in seconds, without
    floating point's noise in the last digit (1.94 ms is 0.00194 s, not 0.0019399999999999999)."""
    return round(milliseconds * 1000.0) / 1_000_000


def _same(value: float) -> float:
    return value


#: A gate's (measured, limit) families and how its slo.toml unit converts to theirs.
GATE_FAMILIES: Mapping[str, tuple[Family, Family, Callable[[float], float]]] = {
    **{metric: (GATE_LATENCY_MEASURED, GATE_LATENCY_LIMIT, seconds) for metric in LATENCY_METRICS},
    "error_rate": (GATE_ERROR_MEASURED, GATE_ERROR_LIMIT, _same),
    "rule_violations": (GATE_RULES_MEASURED, GATE_RULES_LIMIT, _same),
}


@dataclass(frozen=True)
class LiveFigures:
    """The run's state at the moment of a scrape (on a master: merged from its workers)."""

    book: LatencyBook
    #: Locust's counts by request name: (requests, failures).
    counts: Mapping[str, tuple[int, int]]
    rule_violations: Mapping[str, int]
    #: The gates; None: a run without them (`--slo-file ""`).
    levels: ServiceLevels | None
    processes: Mapping[str, ProcessHealth]
    users: int
    achieved_rps: float
    #: Each user's task runs per second in the open model; None: the closed model.
    per_user_rps: float | None = None
    capacity_step_rps: float | None = None
    profile: str | None = None
    finished: bool = False


#: Adds one sample to this scrape: its family, label values (in the family's order) and value.
Add = Callable[[Family, Iterable[str], float], None]


def endpoint_label(name: str) -> str:
    """The endpoint key a Locust request name is reported under (bounded: `other` else)."""
    endpoint = endpoint_for_name(name)
    return endpoint.key if endpoint is not None else OTHER


def _quantile(percentile: float) -> str:
    return f"{percentile / 100:g}"


def _no_pause() -> None:
    return None


class LiveRunCollector(Collector):
    """Reads the run's figures when scraped; nothing is kept between scrapes but their count."""

    def __init__(
        self, figures: Callable[[], LiveFigures], pause: Callable[[], None] = _no_pause
    ) -> None:
        self._figures = figures
        #: Called between histograms: in Locust, a yield to the users (gevent.sleep(0)).
        self._pause = pause
        self.scrapes = 0
        self.final_scrapes = 0
        #: Monotonic times of the last two scrapes: the scraper's interval.
        self.scraped_at: list[float] = []

    def describe(self) -> Iterable[Metric]:
        """Every family, without samples: the registry learns the names without a scrape."""
        return [family.new() for family in FAMILIES]

    def collect(self) -> Iterable[Metric]:
        figures = self._figures()
        families = {family.name: family.new() for family in FAMILIES}

        def add(family: Family, labels: Iterable[str], value: float) -> None:
            metric: Any = families[family.name]  # prometheus_client's add_metric is per type
            metric.add_metric(list(labels), value)

        summaries = self._latency(figures.book, add)
        self._counts(figures, add)
        if figures.levels is not None:
            for gate in self._gates(figures, figures.levels, summaries):
                self._gate(gate, add)
        self._run(figures, add)
        run: Any = families[RUN.name]
        run.add_metric([], {"profile": figures.profile or "", "model": _model(figures)})
        for process, health in sorted(figures.processes.items()):
            self._health(process, health, add, schedule=figures.per_user_rps is not None)
        self._scraped(figures.finished)
        return list(families.values())

    def interval_s(self) -> float | None:
        """The time between the last two scrapes (None before two)."""
        if len(self.scraped_at) < 2:
            return None
        return self.scraped_at[-1] - self.scraped_at[-2]

    def _scraped(self, finished: bool) -> None:
        self.scrapes += 1
        self.final_scrapes += finished
        self.scraped_at = [*self.scraped_at[-1:], time.monotonic()]

    def _latency(self, book: LatencyBook, add: Add) -> dict[tuple[str, str], LatencySummary]:
        """Each endpoint's percentiles on both clocks, from its histograms merged; returned for
        the gates to judge without a second walk."""
        names: dict[str, list[str]] = defaultdict(list)
        for name in book.names():
            if not name.startswith(RATE_LIMITED_PREFIX):
                names[endpoint_label(name)].append(name)
                names[TOTAL].append(name)
        summaries = {}
        for endpoint, endpoint_names in sorted(names.items()):
            for clock, clock_label in CLOCK_LABELS.items():
                summary = book.summary(endpoint_names, clock)
                self._pause()
                if summary is None:
                    continue
                summaries[(endpoint, clock)] = summary
                for key, percentile in PERCENTILES:
                    value = seconds(getattr(summary, key))
                    add(LATENCY, (endpoint, clock_label, _quantile(percentile)), value)
        return summaries

    @staticmethod
    def _counts(figures: LiveFigures, add: Add) -> None:
        requests: dict[str, int] = defaultdict(int)
        failures: dict[str, int] = defaultdict(int)
        limited: dict[str, int] = defaultdict(int)
        for name, (count, failed) in figures.counts.items():
            if name.startswith(RATE_LIMITED_PREFIX):
                limited[endpoint_label(name.removeprefix(RATE_LIMITED_PREFIX))] += count
                continue
            endpoint = endpoint_label(name)
            requests[endpoint] += count
            failures[endpoint] += failed
        for endpoint in sorted(requests):
            add(REQUESTS, (endpoint,), requests[endpoint])
            add(FAILURES, (endpoint,), failures[endpoint])
        for endpoint, count in sorted(limited.items()):
            add(RATE_LIMITED, (endpoint,), count)
        for rule, count in sorted(figures.rule_violations.items()):
            add(RULE_VIOLATIONS, (rule,), count)

    @staticmethod
    def _gates(
        figures: LiveFigures,
        levels: ServiceLevels,
        summaries: Mapping[tuple[str, str], LatencySummary],
    ) -> list[Gate]:
        """The gates as the abort watch judges them now, and the run's rule budget."""
        by_name = {
            ENDPOINTS[key].name: summaries.get((key, levels.latency_clock))
            for key in levels.endpoints
        }
        gates = live_gates(levels, by_name.get, figures.counts)
        broken = sum(figures.rule_violations.values())
        return [*gates, judge("all", "rule_violations", levels.max_rule_violations, broken)]

    @staticmethod
    def _gate(gate: Gate, add: Add) -> None:
        labels = (gate.endpoint, gate.metric)
        add(GATE_BREACHED, labels, 1.0 if gate.verdict == FAIL else 0.0)
        measured, limit, unit = GATE_FAMILIES[gate.metric]
        if gate.measured is not None:
            add(measured, labels, unit(gate.measured))
        add(limit, labels, unit(gate.limit))

    @staticmethod
    def _run(figures: LiveFigures, add: Add) -> None:
        add(USERS, (), figures.users)
        add(ACHIEVED, (), round(figures.achieved_rps, 3))
        if figures.per_user_rps is not None:
            add(OFFERED, (), round(figures.users * figures.per_user_rps, 6))
        if figures.capacity_step_rps is not None:
            add(CAPACITY_STEP, (), figures.capacity_step_rps)
        add(FINISHED, (), 1.0 if figures.finished else 0.0)

    @staticmethod
    def _health(
        process: str,
        health: ProcessHealth,
        add: Add,
        *,
        schedule: bool,
    ) -> None:
        """One process's health; its schedule's starts only in the open model (it has one)."""
        add(CPU_MEAN, (process,), round(health.cpu_mean / 100.0, 4))
        add(CPU_MAX, (process,), round(health.cpu_max / 100.0, 4))
        add(LOOP_LAG, (process, "0.99"), seconds(health.loop_lag_p99_ms))
        if not schedule:
            return
        add(TASK_STARTS, (process,), health.starts)
        add(LATE_STARTS, (process, "backlog"), health.late_backlog)
        add(LATE_STARTS, (process, "wakeup"), health.late_wakeup)
        add(DROPPED_STARTS, (process,), health.dropped)


def _model(figures: LiveFigures) -> str:
    return "open" if figures.per_user_rps is not None else "closed"


# --- Inside Locust ----------------------------------------------------------------------------


class Exporter:
    """The `/metrics` server of one Locust run, on the process that sees every worker's data."""

    def __init__(self, collector: LiveRunCollector, port: int) -> None:
        from gevent.pywsgi import WSGIServer  # only a Locust process serves (gevent's loop)

        self.collector = collector
        self.port = port
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        # Uncompressed: a scrape on loopback gains nothing from gzip, and the generator pays it.
        app = make_wsgi_app(registry, disable_compression=True)
        self._server = WSGIServer(("", port), app, log=None)
        #: Set as Locust quits: what a scrape reads from then on is final.
        self.finished = False

    def start(self) -> None:
        try:
            self._server.start()
        except OSError as exc:
            problem = f"--metrics-port {self.port}: cannot listen there ({exc.strerror})"
            raise UsageError(problem) from None
        logging.getLogger(__name__).info(
            "live metrics at http://0.0.0.0:%d/metrics (Prometheus text format)", self.port
        )

    def finish(self) -> None:
        """The run is over: serve until a scraper has read the final figures once, then stop.

        Waits at most twice the interval the scraper kept (within FINAL_SCRAPE_WAIT_S), and not
        at all when nothing scraped during the run."""
        import gevent

        self.finished = True
        collector = self.collector
        shortest, longest = FINAL_SCRAPE_WAIT_S
        interval = collector.interval_s()
        if collector.scrapes:
            wait_s = min(max(2 * interval, shortest), longest) if interval else longest
            deadline = time.monotonic() + wait_s
            while not collector.final_scrapes and time.monotonic() < deadline:
                gevent.sleep(0.05)
        self._server.stop(timeout=1)


def serve_metrics(environment: Any, run: LocustRun, recorder: Recorder) -> Exporter:
    """Serve this Locust run's figures on the plan's metrics port until Locust quits; a port
    that cannot be listened on is a UsageError (exit 2, before any traffic)."""
    import gevent
    from locust.runners import MasterRunner

    port = run.load.metrics_port
    assert port is not None, "serve_metrics is called for a run with a metrics port"
    master = isinstance(environment.runner, MasterRunner)
    exporter: Exporter

    def figures() -> LiveFigures:
        return figures_of(environment, run, recorder, finished=exporter.finished, master=master)

    exporter = Exporter(LiveRunCollector(figures, pause=lambda: gevent.sleep(0)), port)
    exporter.start()
    environment.events.quit.add_listener(lambda **_: exporter.finish())
    return exporter


def figures_of(
    environment: Any, run: LocustRun, recorder: Recorder, *, finished: bool, master: bool
) -> LiveFigures:
    """What Locust and the recorder hold now (Locust's objects are untyped: read loosely). A
    master's own process sends nothing: its health is its workers', once they have reported."""
    counts: dict[str, tuple[int, int]] = {}
    for entry in environment.stats.entries.values():
        requests, failures = counts.get(entry.name, (0, 0))
        counts[entry.name] = (requests + entry.num_requests, failures + entry.num_failures)
    profile = run.load.profile
    runner = environment.runner
    return LiveFigures(
        book=recorder.book,
        counts=counts,
        rule_violations=dict(recorder.broken),
        levels=run.load.slo,
        processes=recorder.processes() if recorder.workers or not master else {},
        users=int(runner.user_count) if runner is not None else 0,
        achieved_rps=float(environment.stats.total.current_rps or 0.0),
        per_user_rps=profile.per_user_rps if profile is not None else None,
        capacity_step_rps=run.load.capacity_step_rps,
        profile=profile.name if profile is not None else None,
        finished=finished,
    )

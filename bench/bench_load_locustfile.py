"""The users `bench_load.py` measures, and the in-process meters it reads (not a test scenario).

- BareUser: Locust's FastHttpUser sending one list request over and over, no validation; the
  ceiling of what one Locust process can send.
- ValidatedUser: the same request through `loadtest.validation.send()`: an Exchange built
  from the response and `octopus_qa.rules.cheap_response_checks` on it, as under real load,
  and timed as under real load: paced on an arrival grid, its exact latency recorded from the
  intended start by the locustfile's recorder (`octopus_qa.loadtest.recorder`).
- InterleavedUser: both of the above in turns, inside one process. A meter switches every user
  between "bare" and "validated" every `--window-ms` and books the process's CPU time and the
  requests finished in each window to that window's variant. Both variants then share the same
  moments of a shared machine, whose speed drifts by a quarter within minutes; separate runs
  compare different moments. With `--metrics-port P` (the locustfile's live metrics, served by
  this process) each validated window starts with a scrape of this process's own `/metrics`, over
  HTTP as Prometheus would: the export's whole cost, both ends of it, lands on the validated side.
- Browser, CatalogCrawler, TokenChurner: the load scenario itself (`load/locustfile.py`),
  validation on; with `--load-profile bench` from the bench's own profiles file their pacing is
  close to zero, so they run as fast as the generator allows.

Between `test_start` and `test_stop` the meter counts requests, wall time and this process's CPU
time, and writes them to `--bench-out` as JSON: requests per CPU-second is the rate per core.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task
from locust.contrib.fasthttp import FastHttpSession

LOAD_DIR = Path(__file__).resolve().parents[1] / "load"
sys.path.insert(0, str(LOAD_DIR))

from locustfile import Browser, CatalogCrawler, TokenChurner  # noqa: E402

from octopus_qa.loadtest.recorder import RECORDER  # noqa: E402
from octopus_qa.loadtest.tokens import TokenKeeper  # noqa: E402
from octopus_qa.loadtest.validation import send  # noqa: E402
from octopus_qa.plan.endpoints import ENDPOINTS  # noqa: E402
from octopus_qa.target.credentials import Credentials  # noqa: E402

__all__ = [
    "BareUser",
    "Browser",
    "CatalogCrawler",
    "InterleavedUser",
    "TokenChurner",
    "ValidatedUser",
]

PATH = "/api/v1/products"
QUERY = {"page": "2", "limit": "20"}
LIST = ENDPOINTS["list"]
#: Unmetered time after test_start: every user has logged in and is sending.
WARM_UP_S = 1.5


def bare_request(client: FastHttpSession, headers: dict[str, str]) -> None:
    client.get(f"{PATH}?page=2&limit=20", name=LIST.name, headers=headers)


def validated_request(client: FastHttpSession, tokens: TokenKeeper) -> None:
    send(client, LIST, PATH, query=QUERY, headers=tokens.authorization())


class BareUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        body = Credentials.from_env().as_login_body()
        token = self.client.post("/auth/login", json=body).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    @task
    def list_products(self) -> None:
        bare_request(self.client, self.headers)


class ValidatedUser(FastHttpUser):
    """Validated and timed as under real load: exact latency recorded from the intended start."""

    def wait_time(self) -> float:
        return RECORDER.wait_s(self) or 0.0

    def context(self) -> dict[str, Any]:
        return RECORDER.request_context(self)

    def on_start(self) -> None:
        self.tokens = TokenKeeper(self.client, Credentials.from_env())

    @task
    def list_products(self) -> None:
        validated_request(self.client, self.tokens)


class Windows:
    """Alternating windows of bare and validated requests, and what each variant cost."""

    VARIANTS = ("bare", "validated")

    def __init__(self) -> None:
        self.current: str | None = None  # None: warm-up, not metered
        self.finished = {variant: 0 for variant in self.VARIANTS}
        self.booked = {variant: {"requests": 0, "cpu_s": 0.0} for variant in self.VARIANTS}
        #: The live metrics port to scrape at the start of each validated window (0: none).
        self.scrape_port = 0
        self.scrapes = {"count": 0, "wall_s": 0.0, "bytes": 0}

    def scrape(self) -> None:
        """GET this process's own /metrics, as Prometheus does (a greenlet: the window runs on)."""
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.scrape_port, timeout=10)
        try:
            connection.request("GET", "/metrics", headers={"Accept": "text/plain"})
            body = connection.getresponse().read()
        finally:
            connection.close()
        self.scrapes["count"] += 1
        self.scrapes["wall_s"] += time.perf_counter() - started
        self.scrapes["bytes"] += len(body)

    def count(self, variant: str) -> None:
        """A request of `variant` finished; it counts only if its window is still open."""
        if self.current == variant:
            self.finished[variant] += 1

    def alternate(self, window_s: float) -> None:
        gevent.sleep(WARM_UP_S)
        turn = 0
        while True:
            variant = self.VARIANTS[turn % len(self.VARIANTS)]
            self.current = variant
            cpu, finished = time.process_time(), self.finished[variant]
            if variant == "validated" and self.scrape_port:
                gevent.spawn(self.scrape)
            gevent.sleep(window_s)
            # Only whole windows are booked: test_stop kills this greenlet mid-sleep.
            self.booked[variant]["cpu_s"] += time.process_time() - cpu
            self.booked[variant]["requests"] += self.finished[variant] - finished
            turn += 1


WINDOWS = Windows()


class InterleavedUser(FastHttpUser):
    # Not a subclass of ValidatedUser: Locust would inherit its task too.

    def wait_time(self) -> float:
        if WINDOWS.current == "validated":
            return RECORDER.wait_s(self) or 0.0
        return 0.0

    def context(self) -> dict[str, Any]:
        return RECORDER.request_context(self) if WINDOWS.current == "validated" else {}

    def on_start(self) -> None:
        self.tokens = TokenKeeper(self.client, Credentials.from_env())
        self.headers = self.tokens.authorization() or {}

    @task
    def list_products(self) -> None:
        variant = WINDOWS.current
        if variant == "validated":
            validated_request(self.client, self.tokens)
        else:
            bare_request(self.client, self.headers)
        if variant is not None:
            WINDOWS.count(variant)


@events.init_command_line_parser.add_listener
def add_options(parser: Any) -> None:
    parser.add_argument("--bench-out", default="", include_in_web_ui=False)
    parser.add_argument("--window-ms", type=int, default=500, include_in_web_ui=False)


#: BENCH_TIMING=0 turns recording and intended-start timing off (what they cost, measured apart).
TIMED = os.environ.get("BENCH_TIMING", "1") != "0"


@events.init.add_listener
def record_only_timed_requests(environment: Any, **_: Any) -> None:
    """The locustfile's recorder listens to every request: here only the validated (timed) ones
    are recorded, so bare FastHttpUser stays bare and the ratio prices validation + recording.
    The bench profile's pacing (1,000 task runs/s per user) keeps every user behind its grid:
    the schedule's arithmetic runs on every request and never makes a user wait."""
    environment.events.request.remove_listener(RECORDER.on_request)
    if TIMED:
        environment.events.request.add_listener(record_timed)
    else:
        RECORDER.interval_s = None  # no schedule: wait_s is None, request_context is {}


def record_timed(context: dict[str, Any] | None = None, **kwargs: Any) -> None:
    if context and "lag_ms" in context:
        RECORDER.on_request(context=context, **kwargs)


METER: dict[str, Any] = {}


@events.test_start.add_listener
def start_meter(environment: Any, **_: Any) -> None:
    METER.update(wall=time.perf_counter(), cpu=time.process_time())
    window_s = environment.parsed_options.window_ms / 1000
    WINDOWS.scrape_port = int(environment.parsed_options.metrics_port or 0)
    METER["alternating"] = gevent.spawn(WINDOWS.alternate, window_s)


@events.test_stop.add_listener
def stop_meter(environment: Any, **_: Any) -> None:
    METER["alternating"].kill()
    total = environment.runner.stats.total
    result = {
        "requests": total.num_requests,
        "failures": total.num_failures,
        "wall_s": time.perf_counter() - METER["wall"],
        "cpu_s": time.process_time() - METER["cpu"],
        "windows": WINDOWS.booked,
        "scrapes": WINDOWS.scrapes,
        "recorded": RECORDER.book.summary(RECORDER.book.names(), "service").count
        if RECORDER.book.names()
        else 0,
    }
    Path(environment.parsed_options.bench_out).write_text(json.dumps(result), encoding="utf-8")

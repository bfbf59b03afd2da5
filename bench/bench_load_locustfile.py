"""The users `bench_load.py` measures, and the in-process meters it reads (not a test scenario).

- BareUser: Locust's FastHttpUser sending one list request over and over, no validation; the
  ceiling of what one Locust process can send.
- ValidatedUser: the same request through `loadtest.validation.send()`: an Exchange built
  from the response and `octopus_qa.rules.cheap_response_checks` on it, as under real load,
  and timed as under real load: paced on an arrival grid, its exact latency recorded from the
  intended start by the locustfile's recorder (`octopus_qa.loadtest.recorder`).
- InterleavedUser: both of the above in turns, inside one process. A meter switches every user
  between "bare" and "validated" every `--window-ms` and books the process's CPU time and the
  requests started and finished in the same window to that window's variant. Both variants
  then share the same moments of a shared machine, whose speed drifts by a quarter within
  minutes; separate runs compare different moments. With `--metrics-port P` (the locustfile's
  live metrics, served by this process) each validated window starts with a scrape of this
  process's own `/metrics`, over HTTP as Prometheus would: the export's whole cost, both ends of
  it, lands on the validated side.
- Browser, CatalogCrawler, TokenChurner: the load scenario itself (`load/locustfile.py`),
  validation on; with `--load-profile bench` from the bench's own profiles file their pacing is
  close to zero, so they run as fast as the generator allows.
- InterleavedBrowser, InterleavedCrawler, InterleavedChurner: the same scenario (same weights,
  tasks, pages, request sequence) switched by the same windows between its validated self and
  its bare twin: in a bare window every request the scenario makes goes through `bare_send`
  (the same request, no trace id drawn, no check, not recorded, unpaced), whose reply still
  tells the scenario what it reads to choose its next request (ids, pages, tokens).

Between `test_start` and `test_stop` the meter counts requests, wall time and this process's CPU
time, and writes them to `--bench-out` as JSON: requests per CPU-second is the rate per core.
"""

from __future__ import annotations

import cProfile
import http.client
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import gevent
from locust import FastHttpUser, constant, events, task
from locust.contrib.fasthttp import FastHttpSession

LOAD_DIR = Path(__file__).resolve().parents[1] / "load"
sys.path.insert(0, str(LOAD_DIR))

from locustfile import Browser, CatalogCrawler, TokenChurner  # noqa: E402

from octopus_qa.loadtest import validation  # noqa: E402
from octopus_qa.loadtest.recorder import RECORDER  # noqa: E402
from octopus_qa.loadtest.tokens import TokenKeeper  # noqa: E402
from octopus_qa.loadtest.validation import RETRY_POLICY, Reply, send  # noqa: E402
from octopus_qa.plan.endpoints import ENDPOINTS, Endpoint  # noqa: E402
from octopus_qa.rules import RETRY_LATER, Exchange  # noqa: E402
from octopus_qa.target.credentials import Credentials  # noqa: E402

__all__ = [
    "BareUser",
    "Browser",
    "CatalogCrawler",
    "InterleavedBrowser",
    "InterleavedChurner",
    "InterleavedCrawler",
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

    def count(self, context: dict[str, Any] | None = None, **_: Any) -> None:
        """A request finished (Locust's `request` event): it counts for the variant of the
        window it started in (`Interleaved.context`), only if that window is still open."""
        variant = context.get("window") if context else None
        if variant is not None and variant == self.current:
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


class Interleaved:
    """The one switch of every interleaved user: in a validated window it is paced and timed as
    under real load, in a bare window it is plain FastHttpUser (no schedule, no recording).
    Each request carries the window it started in, for `Windows.count`."""

    def wait_time(self) -> float:
        if WINDOWS.current == "validated":
            return RECORDER.wait_s(self) or 0.0
        return 0.0

    def context(self) -> dict[str, Any]:
        window = WINDOWS.current
        if window == "validated":
            # The recorder's context is a new dict each time: tagged in place, not copied, so
            # the window costs the validated request no more than a real run's context does.
            context = RECORDER.request_context(self)
            context["window"] = window
            return context
        return {"window": window}


class InterleavedUser(Interleaved, FastHttpUser):
    # Not a subclass of ValidatedUser: Locust would inherit its task too.

    def on_start(self) -> None:
        self.tokens = TokenKeeper(self.client, Credentials.from_env())
        self.headers = self.tokens.authorization() or {}

    @task
    def list_products(self) -> None:
        if WINDOWS.current == "bare":
            bare_request(self.client, self.headers)
        else:
            validated_request(self.client, self.tokens)


# The whole scenario against its bare twin: the scenario's own users, switched by the windows.
class InterleavedBrowser(Interleaved, Browser):
    pass


class InterleavedCrawler(Interleaved, CatalogCrawler):
    pass


class InterleavedChurner(Interleaved, TokenChurner):
    pass


def bare_send(
    client: FastHttpSession,
    endpoint: Endpoint,
    path: str,
    *,
    query: dict[str, str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    expect: int = 200,
    **_: Any,  # the judge: a bare request is not judged
) -> Reply:
    """The request `validation.send` would make, sent as plain FastHttpUser code sends it: no
    trace id drawn, no check, no failure bookkeeping. The scenario still reads its reply (the
    ids it opens next, the next page, its tokens), so the same requests follow in both windows;
    a 429's Retry-After is honoured as `send` honours it, so neither twin floods the other."""
    url = f"{path}?{urlencode(query)}" if query else path
    response = client.request(endpoint.method, url, name=endpoint.name, headers=headers, json=body)
    status = response.status_code
    if not status:
        return Reply(0, None, False)
    exchange = Exchange(
        method=endpoint.method,
        path=path,
        status=status,
        headers=dict(response.headers.iterlower()),
        body=response.content or b"",
        query=query or {},
    )
    if status == RETRY_LATER:
        gevent.sleep(RETRY_POLICY.wait_for(exchange.headers.get("retry-after")))
        return Reply(status, exchange, False)
    return Reply(status, exchange, status == expect)


def switching_send(client: FastHttpSession, *args: Any, **kwargs: Any) -> Reply:
    """`validation.send`, or its bare twin in a bare window."""
    if WINDOWS.current == "bare":
        return bare_send(client, *args, **kwargs)
    return validation.send(client, *args, **kwargs)


def route_sends_through_windows() -> None:
    """Every module that imported `validation.send` by name (the locustfile, the token keeper)
    sends through `switching_send` instead; outside interleaved runs no window is ever bare."""
    for module in list(sys.modules.values()):
        if module.__name__ not in (validation.__name__, __name__) and (
            getattr(module, "send", None) is validation.send
        ):
            module.send = switching_send  # type: ignore[attr-defined]


route_sends_through_windows()


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


def record_timed(
    name: str,
    response_time: float,
    context: dict[str, Any] | None = None,
    response: Any = None,
    **_: Any,
) -> None:
    """The recorder's listener for the validated requests alone, handed its arguments as
    Locust hands them to it in a real run (not repacked: the bench prices the run's cost)."""
    if context and "lag_ms" in context:
        RECORDER.on_request(name, response_time, context, response)


METER: dict[str, Any] = {}
#: BENCH_PROFILE=FILE: cProfile on this process's CPU clock between test_start and test_stop,
#: written to FILE (pstats): where a request's CPU goes, whatever the shared machine's load
#: (a wall-clock profiler counts the moments another process held the core).
PROFILE_TO = os.environ.get("BENCH_PROFILE", "")


@events.test_start.add_listener
def start_meter(environment: Any, **_: Any) -> None:
    METER.update(wall=time.perf_counter(), cpu=time.process_time())
    if PROFILE_TO:
        METER["profile"] = cProfile.Profile(time.process_time)
        METER["profile"].enable()
    if not any(issubclass(user, Interleaved) for user in environment.user_classes):
        return  # a separate run: no windows, every request as its variant sends it
    window_s = environment.parsed_options.window_ms / 1000
    WINDOWS.scrape_port = int(environment.parsed_options.metrics_port or 0)
    environment.events.request.add_listener(WINDOWS.count)
    METER["alternating"] = gevent.spawn(WINDOWS.alternate, window_s)


@events.test_stop.add_listener
def stop_meter(environment: Any, **_: Any) -> None:
    if "profile" in METER:
        METER["profile"].disable()
        METER["profile"].dump_stats(PROFILE_TO)
    if "alternating" in METER:
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

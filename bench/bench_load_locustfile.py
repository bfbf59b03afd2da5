"""The users `bench_load.py` measures, and the in-process meter it reads (not a test scenario).

- BareUser: Locust's FastHttpUser sending one list request over and over, no validation; the
  ceiling of what one Locust process can send.
- ValidatedUser: the same request through `load/validation.py`'s `send()`: an Exchange built
  from the response and `octopus_qa.rules.cheap_response_checks` on it, as under real load.
- Browser, CatalogCrawler, TokenChurner: the load scenario itself (`load/locustfile.py`),
  validation on; with `--profile bench` from the bench's own profiles file their pacing is
  close to zero, so they run as fast as the generator allows.

Between `test_start` and `test_stop` the meter counts requests, wall time and this process's CPU
time, and writes them to `--bench-out` as JSON: requests per CPU-second is the rate per core.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, events, task

LOAD_DIR = Path(__file__).resolve().parents[1] / "load"
sys.path.insert(0, str(LOAD_DIR))

from locustfile import Browser, CatalogCrawler, TokenChurner  # noqa: E402
from tokens import TokenKeeper  # noqa: E402
from validation import send  # noqa: E402

from octopus_qa.credentials import Credentials  # noqa: E402
from octopus_qa.loadtest.endpoints import ENDPOINTS  # noqa: E402

__all__ = ["BareUser", "Browser", "CatalogCrawler", "TokenChurner", "ValidatedUser"]

PATH = "/api/v1/products"
QUERY = {"page": "2", "limit": "20"}
LIST = ENDPOINTS["list"]


class BareUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        body = Credentials.from_env().as_login_body()
        token = self.client.post("/auth/login", json=body).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    @task
    def list_products(self) -> None:
        self.client.get(f"{PATH}?page=2&limit=20", name=LIST.name, headers=self.headers)


class ValidatedUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.tokens = TokenKeeper(self.client, Credentials.from_env())

    @task
    def list_products(self) -> None:
        send(self.client, LIST, PATH, query=QUERY, headers=self.tokens.authorization())


@events.init_command_line_parser.add_listener
def add_options(parser: Any) -> None:
    parser.add_argument("--bench-out", default="", include_in_web_ui=False)


METER: dict[str, float] = {}


@events.test_start.add_listener
def start_meter(environment: Any, **_: Any) -> None:
    METER.update(wall=time.perf_counter(), cpu=time.process_time())


@events.test_stop.add_listener
def stop_meter(environment: Any, **_: Any) -> None:
    total = environment.runner.stats.total
    result = {
        "requests": total.num_requests,
        "failures": total.num_failures,
        "wall_s": time.perf_counter() - METER["wall"],
        "cpu_s": time.process_time() - METER["cpu"],
    }
    Path(environment.parsed_options.bench_out).write_text(json.dumps(result), encoding="utf-8")

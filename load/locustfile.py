"""Who uses the Octopus Cards API, and how often: the load scenario.

Three kinds of client, weighted like real traffic:

- Browser (most users): logs in once, lists products with random pages, limits, filters and
  sort orders, opens the details of products it saw, checks their availability at
  denominations inside and outside their ranges, and thinks between steps.
- CatalogCrawler (a partner syncing the catalog): walks every page with large limits.
- TokenChurner (short-lived clients): logs in, refreshes, logs out, again.

Tokens are renewed before their `exp` and after a 401, never once per request (`tokens.py`).
Every response is judged under load by the contract suite's own rule checks
(`octopus_qa.rules`, through `validation.py`): a broken rule is a Locust failure named by its
rule id. Users over time follow the profile named with `--load-profile` (`profiles.toml`,
played by `shapes.py`; every profile ends by itself), or, without one, Locust's own `-u`, `-r`
and `-t` (or the web UI). Either way the run is judged by the SLO gates of `slo.toml` as Locust
quits: the gates are printed and decide the exit code (0 held, 1 a gate failed).
Every request's latency is recorded unrounded, from sending and from its intended start on the
open model's schedule, with the generator's own health (`octopus_qa.loadtest.recorder`;
`--timing-file`); the gates judge those exact figures.

Run it through octoqa (target checks, preflight login, summary.json, the run report):

    octoqa load --load-profile smoke             # against an embedded sandbox on loopback
    octoqa load --target http://127.0.0.1:8080 --load-profile ramp --workers 2

or with plain Locust, the way you drive Locust already:

    octoqa sandbox --port 8080 &
    locust -f load/locustfile.py --host http://127.0.0.1:8080 -u 20 -r 5 -t 30s --headless
    locust -f load/locustfile.py --host http://127.0.0.1:8080 --load-profile smoke --headless \\
        --csv reports/manual/locust --csv-full-history --html reports/manual/locust.html
    locust -f load/locustfile.py --host http://127.0.0.1:8080      # web UI on :8089

Credentials come from OCTOPUS_USERNAME / OCTOPUS_PASSWORD (default: the sandbox's demo account).
A host that is neither loopback nor in `allowed-hosts.toml` is refused unless `--allow-any-host`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

import gevent
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.runners import STATE_INIT, WorkerRunner
from locust.stats import CSV_STATS_INTERVAL_SEC
from shapes import (
    DEFAULT_PROFILES_FILE,
    THINK_TIME,
    ProfileShape,
    pacing,
    selected_profile,
    use_shape_if_chosen,
)
from tokens import TokenKeeper
from validation import send

from octopus_qa.errors import OctoqaError
from octopus_qa.loadtest.recorder import RECORDER
from octopus_qa.loadtest.results import measurements_from_stats
from octopus_qa.loadtest.timing import Timing, exact_endpoints
from octopus_qa.loadtest.verdict import Judge, Judgement
from octopus_qa.plan.endpoints import ENDPOINTS
from octopus_qa.plan.generator import GENERATOR_FILE, load_generator_limits
from octopus_qa.plan.hosts import check_target_allowed, load_allowed_hosts
from octopus_qa.plan.slo import load_slo
from octopus_qa.rules import (
    Exchange,
    availability_false_outside_ranges,
    listing_is_in_requested_order,
    listing_matches_filters,
    product_matches_list_entry,
)
from octopus_qa.target.credentials import Credentials

__all__ = ["Browser", "CatalogCrawler", "ProfileShape", "TokenChurner"]

HERE = Path(__file__).resolve().parent
PRODUCTS = "/api/v1/products"
LIST, CRAWL, DETAIL, AVAILABILITY = (
    ENDPOINTS[key] for key in ("list", "crawl", "detail", "availability")
)
#: How many products a browser remembers to open and check later.
REMEMBERED_PRODUCTS = 50
SORT_FIELDS = ("id", "name")
BROWSE_LIMITS = (10, 20, 50, 100)
CRAWL_LIMITS = (500, 1000, 2000)


def paced(user: ApiUser) -> float:
    """Open model: until the user's next slot on the schedule (`RECORDER`); closed: think time."""
    wait = RECORDER.wait_s(user)
    return pacing(user) if wait is None else wait


class ApiUser(FastHttpUser):
    """A client of the API: its own login, its pacing from the profile."""

    abstract = True
    wait_time = paced
    think_time = THINK_TIME  # closed-model pause between tasks; the open model ignores it

    def on_start(self) -> None:
        self.tokens = TokenKeeper(self.client, Credentials.from_env())

    def on_stop(self) -> None:
        RECORDER.user_stopped(self)

    def context(self) -> dict[str, Any]:
        """Each request carries its task's lag behind schedule, for the latency recorder."""
        return RECORDER.request_context(self)

    def authorized(self) -> dict[str, str] | None:
        return self.tokens.authorization()

    def after(self, status: int) -> None:
        if status == 401:
            self.tokens.unauthorized()


def random_sort() -> dict[str, str]:
    """A sort object as either document writes it: keys and direction in any case (L4)."""
    field_key, direction_key = random.choice((("field", "direction"), ("Field", "Direction")))
    direction = random.choice(("ASC", "DESC", "asc", "desc"))
    return {field_key: random.choice(SORT_FIELDS), direction_key: direction}


def listing_holds(exchange: Exchange) -> None:
    """A browsed page keeps its filters (L6) and its order (L5): the page is parsed anyway."""
    listing_matches_filters(exchange)
    listing_is_in_requested_order(exchange)


class Browser(ApiUser):
    """Someone choosing a gift card: browse, look closer, check the amount they want."""

    weight = 8

    def on_start(self) -> None:
        super().on_start()
        self.seen: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self.facets: dict[str, set[str]] = {
            "category": set(),
            "country_id": set(),
            "currency_id": set(),
        }
        self.total_pages = 1
        self.tokens.login()

    @task(5)
    def browse_products(self) -> None:
        query = {"page": str(random.randint(1, max(1, min(self.total_pages, 20))))}
        if random.random() < 0.7:
            query["limit"] = str(random.choice(BROWSE_LIMITS))
        if random.random() < 0.4:
            query["sort"] = json.dumps(random_sort(), separators=(",", ":"))
        known = [name for name, values in self.facets.items() if values]
        if known and random.random() < 0.3:
            parameter = random.choice(known)
            query[parameter] = random.choice(sorted(self.facets[parameter]))
            query["page"] = "1"
        auth = self.authorized()
        if auth is None:
            return
        reply = send(self.client, LIST, PRODUCTS, query=query, headers=auth, judge=listing_holds)
        self.after(reply.status)
        # Under a contract fault the page still lists products: keep browsing them.
        if reply.status == 200 and reply.exchange is not None and isinstance(reply.json, list):
            self.remember(reply.exchange)

    def remember(self, exchange: Exchange) -> None:
        unfiltered = not any(name in exchange.query for name in self.facets)
        pages = exchange.headers.get("x-total-pages", "")
        if unfiltered and pages.isdigit():  # an unfiltered listing tells how far paging goes
            self.total_pages = int(pages)
        for product in exchange.json or ():
            self.seen[product["id"]] = product
            self.facets["category"].add(product["category"])
            self.facets["country_id"].add(product["country_code"])
            self.facets["currency_id"].add(product["currency_code"])
        while len(self.seen) > REMEMBERED_PRODUCTS:
            self.seen.popitem(last=False)
        for values in self.facets.values():
            while len(values) > REMEMBERED_PRODUCTS:
                values.pop()

    def pick_seen_product(self) -> dict[str, Any] | None:
        return random.choice(list(self.seen.values())) if self.seen else None

    @task(3)
    def open_product(self) -> None:
        entry = self.pick_seen_product()
        auth = self.authorized() if entry else None
        if entry is None or auth is None:
            return

        def same_as_list_entry(exchange: Exchange) -> None:
            product_matches_list_entry(exchange.json, entry)

        reply = send(
            self.client, DETAIL, f"{PRODUCTS}/{entry['id']}", headers=auth, judge=same_as_list_entry
        )
        self.after(reply.status)

    @task(2)
    def check_availability(self) -> None:
        product = self.pick_seen_product()
        auth = self.authorized() if product else None
        if product is None or auth is None:
            return
        denomination = choose_denomination(product["available_denominations"])

        def false_outside_ranges(exchange: Exchange) -> None:
            body = exchange.json
            is_available = body.get("is_available") if isinstance(body, dict) else None
            availability_false_outside_ranges(product, denomination, is_available)

        reply = send(
            self.client,
            AVAILABILITY,
            f"{PRODUCTS}/{product['id']}/availability",
            body={"denomination": denomination, "quantity": random.randint(1, 5)},
            headers=auth,
            judge=false_outside_ranges,
        )
        self.after(reply.status)


def choose_denomination(ranges: list[dict[str, float]]) -> float:
    """Mostly an amount inside one of the ranges; sometimes one below or above all of them."""
    low = min(r["min_value"] for r in ranges)
    high = max(r["max_value"] for r in ranges)
    roll = random.random()
    if roll < 0.15 and low >= 0.04:
        return round(low / 2, 2)  # below every range, still a valid denomination (P4)
    if roll < 0.3:
        return round(min(high * 2 + 1, 1_000_000_000), 2)  # above every range
    chosen = random.choice(ranges)
    amount = round(random.uniform(chosen["min_value"], chosen["max_value"]), 2)
    return min(max(amount, chosen["min_value"]), chosen["max_value"])


class CatalogCrawler(ApiUser):
    """A partner mirroring the catalog: every page, large limits, one sort order per pass."""

    weight = 1
    think_time = between(0.2, 1.0)

    def on_start(self) -> None:
        super().on_start()
        self.tokens.login()
        self.start_pass()

    def start_pass(self) -> None:
        self.page = 1
        self.pass_query = {"limit": str(random.choice(CRAWL_LIMITS))}
        if random.random() < 0.5:
            self.pass_query["sort"] = json.dumps(random_sort(), separators=(",", ":"))

    @task
    def fetch_next_page(self) -> None:
        auth = self.authorized()
        if auth is None:
            return
        query = {**self.pass_query, "page": str(self.page)}
        reply = send(self.client, CRAWL, PRODUCTS, query=query, headers=auth)
        self.after(reply.status)
        exchange = reply.exchange
        more = exchange is not None and exchange.headers.get("x-has-more") == "true"
        # Counted, not parsed: a crawl page holds up to 2,000 products the crawler never reads.
        if reply.status == 200 and more and exchange.array_length:
            self.page += 1
        else:
            self.start_pass()


class TokenChurner(ApiUser):
    """A short-lived client: log in, refresh twice, log out, and start over."""

    weight = 1
    think_time = between(0.2, 0.6)
    REFRESHES_PER_LOGIN = 2

    def on_start(self) -> None:
        super().on_start()
        self.refreshes = 0

    @task
    def next_auth_step(self) -> None:
        if not self.tokens.logged_in:
            self.tokens.login()
            self.refreshes = 0
        elif self.refreshes < self.REFRESHES_PER_LOGIN:
            self.tokens.refresh()
            self.refreshes += 1
        else:
            self.tokens.logout()


# --- Options and run-wide checks -----------------------------------------------------------------


@events.init_command_line_parser.add_listener
def add_options(parser: Any) -> None:
    parser.add_argument(
        "--load-profile",
        default="",
        metavar="NAME",
        include_in_web_ui=False,
        help="Play a load profile of --profiles-file (smoke, ramp, step, spike, soak, arrival...) "
        "instead of -u/-r",
    )
    parser.add_argument(
        "--profiles-file",
        default=str(DEFAULT_PROFILES_FILE),
        include_in_web_ui=False,
        help="Load profiles (TOML) that --load-profile NAME picks from",
    )
    parser.add_argument(
        "--slo-file",
        default=str(HERE / "slo.toml"),
        include_in_web_ui=False,
        help="SLO gates (TOML) that judge the run as Locust quits and set its exit code, and "
        "stop it early when a gate stays breached for [run] abort_after_s "
        "(empty: no gates, Locust's own exit code)",
    )
    parser.add_argument(
        "--slo-baseline",
        default="",
        metavar="SUMMARY",
        include_in_web_ui=False,
        help="An earlier run's load summary.json: p95 or throughput regressions fail the run",
    )
    parser.add_argument(
        "--allowed-hosts-file",
        default=str(HERE / "allowed-hosts.toml"),
        include_in_web_ui=False,
        help="Hosts besides loopback that may receive load",
    )
    parser.add_argument(
        "--allow-any-host",
        action="store_true",
        default=False,
        include_in_web_ui=False,
        help="Send load to a host outside the allow-list (only to a service you own)",
    )
    parser.add_argument(
        "--timing-file",
        default="",
        include_in_web_ui=False,
        help="Write exact latency histograms and the generator's health as JSON to this path",
    )
    parser.add_argument(
        "--generator-file",
        default=str(HERE / GENERATOR_FILE),
        include_in_web_ui=False,
        help="Limits the load generator itself must keep (TOML)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        include_in_web_ui=False,
        help="Seed the scenarios' random choices (pages, filters, amounts); octoqa load passes one",
    )
    parser.add_argument(
        "--facts-file",
        default="",
        include_in_web_ui=False,
        help="Write the judgement and run facts Locust's CSV lacks (profile, cpu_warning) as "
        "JSON to this path",
    )


GENERATOR: dict[str, Any] = {"cpu_warning": False, "workers_reported": set(), "judge": None}


@events.init.add_listener
def refuse_before_any_traffic(environment: Environment, **_: Any) -> None:
    """An unlisted host, an unknown/unbounded profile or unreadable gates: exit code 2.

    Then, without `--load-profile`, the shape steps aside for Locust's own -u/-r/-t.
    """
    options = environment.parsed_options
    if options is not None and getattr(options, "seed", None) is not None:
        random.seed(options.seed)  # the users' choices; every process draws the same sequence
    if isinstance(environment.runner, WorkerRunner):
        return
    try:
        profile = selected_profile(options)
        if options.slo_file:
            GENERATOR["judge"] = Judge.from_files(
                Path(options.slo_file),
                profile.name if profile else None,
                Path(options.slo_baseline) if options.slo_baseline else None,
            )
        if environment.host:
            allowed = load_allowed_hosts(Path(options.allowed_hosts_file))
            check_target_allowed(environment.host, allowed, options.allow_any_host)
    except OctoqaError as exc:
        logging.error("%s", exc)
        sys.exit(exc.exit_code)
    use_shape_if_chosen(environment)


@events.init.add_listener
def record_timing(environment: Environment, **_: Any) -> None:
    """Every process records exact latencies and its own health; the master merges them."""
    options = environment.parsed_options
    try:
        profile = selected_profile(options)
        limits = load_generator_limits(Path(options.generator_file))
        name = profile.name if profile else None
        levels = load_slo(Path(options.slo_file), name) if options.slo_file else None
    except OctoqaError as exc:
        logging.error("%s", exc)
        sys.exit(exc.exit_code)
    RECORDER.install(
        environment,
        per_user_rps=profile.per_user_rps if profile else None,
        late_after_ms=limits.late_after_ms,
        timing_file=options.timing_file,
        levels=levels,
    )


@events.cpu_warning.add_listener
def note_starved_generator(**_: Any) -> None:
    """A generator above ~90 % CPU measured itself, not the API: the summary must say so."""
    GENERATOR["cpu_warning"] = True


@events.worker_report.add_listener
def note_reporting_worker(client_id: str, **_: Any) -> None:
    """Which workers sent statistics to this master: proof the merged numbers are theirs."""
    GENERATOR["workers_reported"].add(client_id)


@events.quitting.add_listener
def judge_the_run(environment: Environment, **_: Any) -> None:
    """The SLO gates judge the run: printed, Locust's exit code, and the facts file's verdict."""
    if isinstance(environment.runner, WorkerRunner) or GENERATOR["judge"] is None:
        return
    if environment.runner is not None and environment.runner.state == STATE_INIT:
        print("load verdict: none (no test was started in this session: nothing to judge)")
        return  # a web UI opened and closed again is not a run that failed its floors
    options = environment.parsed_options
    # Locust's CSV writer snapshots once a second and is not flushed at the end, and in
    # distributed mode the workers' last reports may still be on their way: one more tick.
    gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.25)
    judgement = judge_exactly(GENERATOR["judge"], environment)
    total = judgement.measurements.endpoints.get("total")
    print(judgement.describe(), flush=True)
    print(
        f"load verdict: {judgement.verdict} ({total.requests if total else 0} requests; "
        f"SLO gates of {options.slo_file}); exit code {judgement.exit_code}",
        flush=True,
    )
    environment.process_exit_code = max(environment.process_exit_code or 0, judgement.exit_code)
    if options.facts_file:
        write_facts(environment, judgement.as_facts())


def judge_exactly(judge: Judge, environment: Environment) -> Judgement:
    """Locust's counts with the exact percentiles of the recorder's histograms (the clock
    slo.toml names), judged; a run the recorder stopped early on a sustained breach fails."""
    measured = measurements_from_stats(environment.stats, RECORDER.broken)
    exact = exact_endpoints(
        measured.endpoints, Timing(book=RECORDER.book), judge.levels.latency_clock
    )
    judgement = judge.judge(dataclasses.replace(measured, endpoints=exact))
    if RECORDER.aborted or RECORDER.target_silent:
        judgement = dataclasses.replace(judgement, verdict="fail")
    return judgement


def write_facts(environment: Environment, judgement: dict[str, Any]) -> None:
    """What octoqa load reads back: the judgement, and run facts Locust's CSV lacks."""
    options = environment.parsed_options
    runner = environment.runner
    profile = selected_profile(options)
    facts = {
        **judgement,
        "profile": profile.name if profile else None,
        "model": "open" if profile and profile.per_user_rps is not None else "closed",
        "cpu_warning": bool(
            GENERATOR["cpu_warning"]
            or getattr(runner, "cpu_warning_emitted", False)
            or getattr(runner, "worker_cpu_warning_emitted", False)
        ),
        "workers_reported": len(GENERATOR["workers_reported"]),
    }
    Path(options.facts_file).write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")

"""Inside every Locust process: record each request's exact latency and the generator's health.

The locustfile installs one `Recorder` (`install(environment)`) and lets it pace and time its
users (`wait_s`, `request_context`). It listens to Locust's own events, so every request any
client makes is recorded whatever code sent it:
- `request`: the service time Locust measured (unrounded, from `perf_counter`) and the lag of
  the task's start behind its schedule, into the `LatencyBook` under the request's name, and
  the gated clock's value into the `Timeline` of the second it came back in (the run over time,
  exact, for the report's chart). The listener only appends what it was handed to a list; the
  list goes into the book and the timeline whenever either is read, or every `SETTLE_EVERY`
  requests (as the in-flight levels are booked, concurrency.py);
- a monitor greenlet: the process's CPU every second and the event loop's oversleep every tick;
- a silence watch (on the master or a single process): when requests have come back without
  any HTTP answer (refused, reset, timed out) for `TARGET_SILENT_S` and none was answered
  meanwhile, the target went away and the run stops there, what it measured kept;
- `rule_broken` (called by loadtest/validation.py): one more response that broke that rule, counted
  by the rule itself, not parsed back out of Locust's failure text;
- `report_to_master` (on a worker, every stats report): the histograms, seconds and rule counts
  recorded since the last report, and this process's health so far, ride along with Locust's
  statistics;
- `worker_report` (on the master): added into the master's book and timeline, health kept per
  worker; a second of the timeline is summed up once every worker has reported past it;
- `quitting` (on the master or a single process): everything to `--timing-file` as JSON, which
  the runner judges after Locust has exited.

Locust's own statistics stay as they are, beside these.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from ..plan.endpoints import RATE_LIMITED_PREFIX
from ..plan.slo import ServiceLevels
from ..report.har import har_entry
from ..rules import Exchange, Rule
from .abort import BreachWatch, breaches
from .concurrency import IN_FLIGHT
from .generator import ProcessHealth
from .latency import RESPONSE, SETTLE_EVERY, LatencyBook, Timeline, complete_before, to_us
from .schedule import ArrivalSchedule

#: Message key inside Locust's worker report.
REPORT_KEY = "octoqa_timing"
#: The monitor's tick: how often the event loop is asked to wake, to measure how late it does.
LOOP_TICK_S = 0.05
CPU_EVERY_S = 1.0
LOCAL = "local"
#: No HTTP answer for this long, only requests that got none: the target went away, stop the run.
TARGET_SILENT_S = 5.0
#: Failing requests kept per run as HAR entries (load/failures.har): the first ones, a sample
#: bounded in size however long the run and however many fail.
FAILURE_SAMPLE = 25


class Recorder:
    """The recording of one Locust process (and, on a master, the merge of its workers')."""

    def __init__(self) -> None:
        self._book = LatencyBook()
        self._timeline = Timeline()
        #: Requests answered and not yet in the book and timeline: (name, service ms, lag ms,
        #: the second it came back in). `on_request` only appends; a read settles them all.
        self._answered: list[tuple[str, float, float, int]] = []
        #: On a master: each worker's last report time (whole epoch seconds), for the timeline.
        self._reported_upto: dict[str, int] = {}
        #: Responses that broke each rule, by rule id (a worker's: since its last report).
        self.broken: Counter[str] = Counter()
        #: The first failing requests, as HAR entries (a worker's: since its last report).
        self.failures: list[dict[str, Any]] = []
        self._failures_seen = 0
        self.health = ProcessHealth()
        self.workers: dict[str, ProcessHealth] = {}
        self.interval_s: float | None = None  # open model: seconds between a user's task starts
        self.late_after_s = 0.025
        self.timing_file = ""
        self._schedules: dict[int, ArrivalSchedule] = {}
        self._monitor: gevent.Greenlet | None = None
        self._watch_greenlet: gevent.Greenlet | None = None
        self._environment: Environment | None = None
        self.levels: ServiceLevels | None = None
        self.aborted: dict[str, Any] | None = None
        #: Set when the run stopped because the target stopped answering (the silence watch).
        self.target_silent: dict[str, Any] | None = None
        self._started_at = 0.0
        self._last_answer = 0.0  # monotonic time of the last request that got an HTTP answer
        self._unanswered = 0  # requests since then that got none
        self._worker_silence: dict[str, tuple[float, int, float]] = {}
        self._silence_greenlet: gevent.Greenlet | None = None

    @property
    def book(self) -> LatencyBook:
        """Every request's latencies by name, every request answered so far in it."""
        if self._answered:
            self._settle()
        return self._book

    @property
    def timeline(self) -> Timeline:
        """The gated clock second by second, every request answered so far in it."""
        if self._answered:
            self._settle()
        return self._timeline

    def _settle(self) -> None:
        """The requests answered since the last read, into the book and the timeline: in one
        loop, which runs warm, where once a request the same work ran cold (bench/README.md)."""
        answered, self._answered = self._answered, []
        record, timeline = self._book.record, self._timeline
        from_intended_start = timeline.clock == RESPONSE
        for name, service_ms, lag_ms, second in answered:
            record(name, service_ms, lag_ms)
            if not name.startswith(RATE_LIMITED_PREFIX):  # as the "total" row: 429s aside
                timeline.record(second, service_ms + lag_ms if from_intended_start else service_ms)

    # --- Set-up -----------------------------------------------------------------------------

    def install(
        self,
        environment: Environment,
        *,
        per_user_rps: float | None,
        late_after_ms: float,
        timing_file: str,
        levels: ServiceLevels | None = None,
    ) -> None:
        self._environment = environment
        self.levels = levels
        self.pace(per_user_rps=per_user_rps, late_after_ms=late_after_ms)
        self.timing_file = timing_file
        IN_FLIGHT.install(environment, timing_file)  # in flight per endpoint (concurrency.py)
        self._timeline = Timeline(
            levels.latency_clock if levels is not None else RESPONSE,
            closes_behind=not isinstance(environment.runner, WorkerRunner),
        )
        events: Any = environment.events  # Locust's EventHook is untyped
        events.request.add_listener(self.on_request)
        events.test_start.add_listener(self.on_test_start)
        events.test_stop.add_listener(self.on_test_stop)
        events.spawning_complete.add_listener(self.on_spawning_complete)
        if isinstance(environment.runner, WorkerRunner):
            events.report_to_master.add_listener(self.on_report_to_master)
        else:
            events.worker_report.add_listener(self.on_worker_report)
            events.quitting.add_listener(self.on_quitting)

    def pace(self, *, per_user_rps: float | None, late_after_ms: float) -> None:
        """The open model's schedule (None: the closed model) and when a start counts as late;
        set at start-up, and again on a worker that takes its master's plan before its users."""
        self.interval_s = 1.0 / per_user_rps if per_user_rps else None
        self.late_after_s = late_after_ms / 1000.0

    # --- Users: pacing and timing -----------------------------------------------------------

    def wait_s(self, user: Any) -> float | None:
        """The open model's wait before the user's next slot; None in the closed model."""
        if self.interval_s is None:
            return None
        schedule = self._schedule(user)
        return schedule.wait_s(time.perf_counter())

    def _schedule(self, user: Any) -> ArrivalSchedule:
        assert self.interval_s is not None
        schedule = self._schedules.get(id(user))
        if schedule is None:
            schedule = self._schedules[id(user)] = ArrivalSchedule(
                self.interval_s, time.perf_counter()
            )
        return schedule

    def start_delay_s(self) -> float:
        """Open model: how long a new user waits before its first request, a random part of one
        interval: Locust starts a second's users at once, and their grids would coincide. 0 in
        the closed model."""
        return random.uniform(0.0, self.interval_s) if self.interval_s is not None else 0.0

    def request_context(self, user: Any) -> dict[str, Any]:
        """Locust's per-request context: how late this request's task started (open model)."""
        if self.interval_s is None:
            return {}
        schedule = self._schedule(user)
        lag = schedule.started(time.perf_counter())
        if lag is not None:  # the task's first request: book its start
            health = self.health
            health.starts += 1
            if lag > self.late_after_s:
                if schedule.backlogged:
                    health.late_backlog += 1
                else:
                    health.late_wakeup += 1
        return {"lag_ms": schedule.lag_s * 1000.0}

    def user_stopped(self, user: Any) -> None:
        schedule = self._schedules.pop(id(user), None)
        if schedule is not None:
            self.health.dropped += schedule.dropped(time.perf_counter())

    def on_spawning_complete(self, **_: Any) -> None:
        """With --reset-stats Locust forgets the ramp once every user runs: so do we (every
        process gets this event, workers from their master)."""
        if self._environment is not None and self._environment.reset_stats:
            self.book.reset()

    def rule_broken(self, rule: Rule) -> None:
        self.broken[rule.id] += 1

    def failed(self, exchange: Exchange, why: str) -> None:
        """A request the run failed (a broken rule, an unexpected status): kept as a HAR entry
        while the sample has room (report/har.py), with why it failed."""
        if self._failures_seen >= FAILURE_SAMPLE:
            return
        self._failures_seen += 1
        host = self._environment.host if self._environment is not None else ""
        self.failures.append(har_entry(exchange, host or "", comment=why[:500]))

    def on_request(
        self,
        name: str,
        response_time: float,
        context: dict[str, Any] | None = None,
        response: Any = None,
        **_: Any,
    ) -> None:
        answered = self._answered
        answered.append(
            (
                name,
                response_time or 0.0,
                context.get("lag_ms", 0.0) if context else 0.0,
                int(time.time()),
            )
        )
        if len(answered) >= SETTLE_EVERY:
            self._settle()
        if getattr(response, "status_code", None):  # any HTTP answer, errors included
            self._last_answer = time.monotonic()
            self._unanswered = 0
        else:
            self._unanswered += 1

    # --- The generator's own health ---------------------------------------------------------

    def on_test_start(self, **_: Any) -> None:
        self._started_at = self._last_answer = time.monotonic()
        runner = self._environment_runner()
        if self._silence_greenlet is None and not isinstance(runner, WorkerRunner):
            self._silence_greenlet = gevent.spawn(self._watch_silence)
        if self._monitor is None and not isinstance(runner, MasterRunner):
            self._monitor = gevent.spawn(self._watch)
        levels = self.levels
        if self._watch_greenlet is None and levels is not None and levels.abort_after_s > 0:
            if not isinstance(runner, WorkerRunner):
                self._watch_greenlet = gevent.spawn(self._watch_gates, levels)

    def _watch_gates(self, levels: ServiceLevels) -> None:
        """Every second, the gates on the run so far; a breach that lasts stops the run."""
        watch = BreachWatch(levels.abort_after_s)
        environment = self._environment
        assert environment is not None
        while True:
            gevent.sleep(1.0)
            counts = {
                name: (entry.num_requests, entry.num_failures)
                for (name, _), entry in environment.stats.entries.items()
            }
            breached = breaches(levels, self.book, counts)
            if watch.update(time.monotonic(), breached):
                self.aborted = {
                    "after_s": round(time.monotonic() - self._started_at, 1),
                    "breached_for_s": levels.abort_after_s,
                    "gates": breached,
                }
                logging.getLogger(__name__).error(
                    "aborting: %s breached for %g s", "; ".join(breached), levels.abort_after_s
                )
                if environment.runner is not None:
                    gevent.spawn(environment.runner.quit)
                return

    def _silence(self) -> tuple[float, int]:
        """How long no request has got an HTTP answer, and how many got none meanwhile: this
        process's, or on a master the least silent worker's time and all workers' count."""
        now = time.monotonic()
        if not self._worker_silence:
            return now - self._last_answer, self._unanswered
        silent = min(since + now - received for since, _, received in self._worker_silence.values())
        return silent, sum(count for _, count, _ in self._worker_silence.values())

    def _watch_silence(self) -> None:
        """Every second: a target that has answered nothing for TARGET_SILENT_S, while requests
        kept coming back unanswered, is gone; stop the run (the runner probes it and says so)."""
        while True:
            gevent.sleep(1.0)
            silent, unanswered = self._silence()
            if unanswered and silent >= TARGET_SILENT_S:
                self.target_silent = {
                    "after_s": round(time.monotonic() - self._started_at, 1),
                    "silent_s": round(silent, 1),
                    "unanswered": unanswered,
                }
                logging.getLogger(__name__).error(
                    "stopping: no HTTP answer for %.0f s (%d requests unanswered)",
                    silent,
                    unanswered,
                )
                runner = self._environment_runner()
                if runner is not None:
                    gevent.spawn(runner.quit)
                return

    def on_test_stop(self, **_: Any) -> None:
        for key in list(self._schedules):
            schedule = self._schedules.pop(key)
            self.health.dropped += schedule.dropped(time.perf_counter())
        if self._monitor is not None:
            self._monitor.kill(block=False)
            self._monitor = None
        for attribute in ("_watch_greenlet", "_silence_greenlet"):
            greenlet = getattr(self, attribute)
            if greenlet is not None and greenlet is not gevent.getcurrent():
                greenlet.kill(block=False)
                setattr(self, attribute, None)

    def _environment_runner(self) -> Any:
        return self._environment.runner if self._environment is not None else None

    def _watch(self) -> None:
        process = psutil.Process()
        process.cpu_percent()  # the first call only starts psutil's interval
        next_cpu = time.perf_counter() + CPU_EVERY_S
        while True:
            asked = time.perf_counter()
            gevent.sleep(LOOP_TICK_S)
            woke = time.perf_counter()
            self.health.loop_lag.record_value(to_us(max(0.0, woke - asked - LOOP_TICK_S) * 1000))
            if woke >= next_cpu:
                self.health.sample_cpu(process.cpu_percent())
                next_cpu = woke + CPU_EVERY_S

    # --- Distributed runs -------------------------------------------------------------------

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        data[REPORT_KEY] = {
            "latency": self.book.encode(),
            "health": self.health.encode(),
            "broken": dict(self.broken),
            "failures": self.failures,
            "silence": [time.monotonic() - self._last_answer, self._unanswered],
            # Every value recorded before `upto` (a whole second) is in `seconds`.
            "timeline": {"upto": int(time.time()), "seconds": self.timeline.take_open()},
        }
        self.book.reset()  # the master adds what each report carries: send each value once
        self.broken.clear()
        self.failures = []

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        timing = data.get(REPORT_KEY)
        if not isinstance(timing, dict):
            return
        self.book.add_encoded(timing.get("latency") or {})
        self._add_timeline(client_id, timing.get("timeline"))
        self.broken.update(
            {str(rule): int(count) for rule, count in (timing.get("broken") or {}).items()}
        )
        room = FAILURE_SAMPLE - len(self.failures)
        self.failures.extend(list(timing.get("failures") or [])[: max(room, 0)])
        self.workers[client_id] = ProcessHealth.decode(timing.get("health") or {})
        silence = timing.get("silence")
        if isinstance(silence, list) and len(silence) == 2:
            self._worker_silence[client_id] = (float(silence[0]), int(silence[1]), time.monotonic())

    def _add_timeline(self, client_id: str, part: Any) -> None:
        """A worker's seconds into the master's timeline; the seconds every connected worker has
        reported past are complete, and summed up."""
        if not isinstance(part, dict):
            return
        self.timeline.add_encoded(part.get("seconds") or {})
        self._reported_upto[client_id] = int(part.get("upto") or 0)
        runner = self._environment_runner()
        connected = list(runner.clients.keys()) if isinstance(runner, MasterRunner) else []
        done = complete_before(self._reported_upto, connected)
        if done is not None:
            self.timeline.close_before(done)

    def processes(self) -> dict[str, ProcessHealth]:
        """Health by process: the workers in a distributed run, else this one process."""
        if self.workers:
            return {f"worker {i + 1}": h for i, (_, h) in enumerate(sorted(self.workers.items()))}
        return {LOCAL: self.health}

    def on_quitting(self, **_: Any) -> None:
        if not self.timing_file:
            return
        data = {
            "model": "open" if self.interval_s is not None else "closed",
            "late_after_ms": self.late_after_s * 1000.0,
            "latency": self.book.encode(),
            "timeline": {"clock": self.timeline.clock, "seconds": self.timeline.rows()},
            "processes": {name: h.encode() for name, h in self.processes().items()},
            "aborted": self.aborted,
            "rule_violations": dict(self.broken),
            "failures": self.failures,
            "target_silent": self.target_silent,
        }
        Path(self.timing_file).write_text(json.dumps(data) + "\n", encoding="utf-8")


RECORDER = Recorder()

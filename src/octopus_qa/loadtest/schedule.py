"""When each task run of an open-model user *should* start, and how late it actually started.

An open-model profile promises a rate: `per_user_rps` task runs per second per user, on a fixed
grid `t0, t0 + 1/rate, t0 + 2/rate, ...` (Locust's `constant_throughput` only paces from the
last task's end and forgets a slot it missed). A user still waiting for a slow answer when its
next slot comes starts late and then catches up, as wrk2 does; the lag of each start is added
to the latencies of the requests it makes (`latency.RESPONSE`), so a stalled server shows in the
tail instead of silently thinning the load (coordinated omission).

Two reasons a start is late, counted apart because they blame different parties:
- *backlog*: the user was still busy with an earlier task when the slot came (the API was slow);
- *late wake-up*: the user was idle, asked to wake on time and woke late (the generator was
  starved of CPU): the run then measured the generator.
A slot that passed before the run ended but was never started is *dropped*.

Pure arithmetic on a clock the caller passes: no Locust, no gevent.
"""

from __future__ import annotations

import math


class ArrivalSchedule:
    """The start grid of one user; call `wait_s` after each task and `started` at each start."""

    def __init__(self, interval_s: float, now: float) -> None:
        if interval_s <= 0:
            raise ValueError("an arrival schedule needs a positive interval")
        self.interval_s = interval_s
        # The first task starts as soon as the user has started. Users spawned together would
        # share one grid and arrive in bursts: each starts a random part of an interval late
        # (the recorder's `start_delay_s`), so their grids interleave, and any window after
        # their spawn is offered the rate promised, with no task more than the rate over a
        # user's life (a task at the spawn and a phase before the second slot offered one too
        # many: near a capacity, a queue the judged window inherited).
        self.intended = now
        self.lag_s = 0.0  # of the current task's start behind its slot
        self.backlogged = False  # the current slot came while the previous task still ran
        self._pending = True  # a slot has been handed out and not yet started

    def wait_s(self, now: float) -> float:
        """After a task: take the next slot; how long to sleep until it (0 when already late)."""
        if self._pending:
            # The previous slot's task sent nothing: it still counts as started, on time.
            self._pending = False
        self.intended += self.interval_s
        self.backlogged = now > self.intended
        self._pending = True
        return max(0.0, self.intended - now)

    def started(self, now: float) -> float | None:
        """At a task's first request: its lag behind the slot in seconds (None if not the first)."""
        if not self._pending:
            return None
        self._pending = False
        self.lag_s = max(0.0, now - self.intended)
        return self.lag_s

    def dropped(self, now: float) -> int:
        """Slots whose time had come by `now` but that were never started."""
        if now < self.intended:
            return 0
        passed = math.floor((now - self.intended) / self.interval_s) + 1
        return passed if self._pending else passed - 1

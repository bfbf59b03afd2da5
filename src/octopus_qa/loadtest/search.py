"""Which rate a capacity search measures next, from what the steps so far said.

Pure arithmetic on `Reading`s (no Locust, no clock), so the choice can be pinned on made-up
steps. The shape is the one load-testing practice settles on (a quick probe, steps that
shrink as the latency nears its gate, then a bisection of the bracket, then a confirmation),
with the signals a step already measures deciding each move instead of a fixed geometry:

- **climb**: from `start` by up to `factor` a step while every latency is far from its gate
  (pressure, the highest measured / limit of any latency gate, at most `FAR`); the factor
  shrinks towards `MIN_GROWTH` as the pressure nears 1, and to that floor when the latency
  rose through the step's hold (a queue building: the offer is already at the edge).
- **bracket**: the first step that breaks a gate ends the climb. What a broken step achieved
  is the most the target served: no rate much above it can hold, so the bracket's top comes
  down to there (within `ACHIEVED_MARGIN`, its noise). When that is well under its offer
  (under `THROUGHPUT_BOUND`: the target was bound by its throughput, a queue took the rest),
  the next probe goes just under it; otherwise the bracket is bisected.
- **descend** when the first step breaks: nothing has held yet to bracket from, so the next
  probe goes just under what a throughput-bound step served, else `factor` lower, at most
  `DESCENTS` times, until a rate holds; the bracket above it is then narrowed as usual. Only a
  target that breaks at every rate tried holds none.
- **doubt**: a break with no sign of saturation (the step served its offer, no queue built, and
  no gate went past `NOISE_PRESSURE` × its limit: a few slow answers in a short step, as a busy
  machine's stall makes) is measured once more at the same rate before the search believes
  it, at most `RETRIES` times a search, and only where believing it could cost more than twice
  the resolution (in the climb, or a bracket still wider than that); the second reading
  decides.
- **check the ceiling**: a bracket that closed on a top read from what a broken step served,
  not on a measured break, is measured at that top before the search stops. A target whose
  throughput collapses when overloaded (thrashing, timeouts, retries) serves less at a rate far
  past its capacity than it can hold: if the top holds, that reading was the collapse, and the
  bracket reopens up to the lowest rate measured to break, with its own `refine` bisections.
  Once a search: one step more on a target that queues instead.
- **stop** when the bracket is within `resolution` of the rate that held, after `refine`
  bisections, or at `maximum`.

The capacity is always a rate that was measured to hold, never an inference; the confirmation
hold (`capacity.py`) measures it once more, longer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Below this pressure the climb takes its whole factor.
FAR = 0.5
#: The smallest growth a climbing step takes (near a gate, or with a queue building).
MIN_GROWTH = 1.1
#: A broken step that achieved less than this share of its offer was bound by throughput ...
THROUGHPUT_BOUND = 0.97
#: ... when that left at least this many requests of its hold unserved: fewer is the count's
#: noise (a step at 10 req/s, 10 users at one a second, served 36 of 40 in its 4 s hold).
MIN_SHORTFALL = 10
#: How far above a throughput-bound step's achieved rate the bracket's top is put (its noise).
ACHIEVED_MARGIN = 0.03
#: A break whose worst gate stayed under this multiple of its limit, with no other sign of
#: saturation, may be noise: it is measured again. (150 ms against a 100 ms p50 is not.)
NOISE_PRESSURE = 1.5
RETRIES = 2
#: How many times a search whose first step broke steps down (by its factor) to find a rate
#: that holds: from 50 req/s at ×2, down to 6.2.
DESCENTS = 3


@dataclass(frozen=True)
class Reading:
    """What one step says about the next: did it hold, how near its gates, how much it served."""

    rate_rps: float
    held: bool
    #: Highest latency measured / its gate's limit over every latency gate (1 and more: broken).
    pressure: float
    achieved_rps: float
    #: The latency rose through the hold: a queue was building at this rate.
    queue_growing: bool = False
    #: How long the step was judged at its rate, for the shortfall's count (None: not known).
    hold_s: float | None = None

    @property
    def throughput_bound(self) -> bool:
        """It served well under its offer: under THROUGHPUT_BOUND of it, by MIN_SHORTFALL
        requests or more over its hold."""
        shortfall = self.rate_rps - self.achieved_rps
        if self.hold_s is not None and shortfall * self.hold_s < MIN_SHORTFALL:
            return False
        return self.achieved_rps < THROUGHPUT_BOUND * self.rate_rps

    @property
    def doubtful(self) -> bool:
        """A break nothing else corroborates: it may be the machine's noise, not the target."""
        saturated = self.throughput_bound or self.queue_growing
        return not self.held and not saturated and self.pressure < NOISE_PRESSURE


def growth(reading: Reading, factor: float) -> float:
    """The climb's next factor after a step that held: all of `factor` far from every gate,
    down to MIN_GROWTH as the pressure nears 1 or when a queue was building."""
    if reading.queue_growing or reading.throughput_bound:
        return min(factor, MIN_GROWTH)
    room = (1.0 - reading.pressure) / (1.0 - FAR)  # 1 at FAR, 0 at the gate
    scaled = 1.0 + (factor - 1.0) * min(1.0, max(0.0, room))
    return max(min(factor, MIN_GROWTH), scaled)


@dataclass
class Search:
    """The search's state: the rate that held highest, the lowest known to break, and why."""

    start: float
    factor: float
    maximum: float
    resolution: float = 0.05
    refine: int = 4
    held: float | None = None
    #: The lowest rate measured to break a gate.
    broke: float | None = None
    #: The bracket's top: `broke`, or lower where a throughput-bound step said so.
    ceiling: float | None = None
    bisections: int = 0
    last: Reading | None = None
    #: Where a throughput-bound step put the next probe (just under what it achieved).
    _aim: float | None = None
    #: A doubtful break's rate, to measure again; the rates measured again so far.
    _again: float | None = None
    _retried: list[float] = field(default_factory=list)
    #: The steps down taken while nothing had held.
    _descents: int = 0
    #: Whether a ceiling read from what a broken step served was measured (`_check_ceiling`,
    #: once a search), and whether the step being measured is that check (not a bisection).
    _checked: bool = False
    _checking: bool = False

    @property
    def stepping_down(self) -> bool:
        """A step broke and none has held yet: the next probes go down (`_descend`)."""
        return self.held is None and self.broke is not None

    @property
    def checking_ceiling(self) -> bool:
        """The rate `next_rate` just gave is the bracket's top read from what a broken step
        served, measured once before the search stops (`_check_ceiling`)."""
        return self._checking

    def next_rate(self) -> float | None:
        """The rate to measure next, or None when the search is done."""
        if self._again is not None:
            return self._again
        if self.last is None:
            return _rounded(min(self.start, self.maximum))
        if self.ceiling is None:
            return self._climb(self.last)
        return self._narrow()

    def record(self, reading: Reading) -> bool:
        """A measured step; a step inside the bracket counts as one of the `refine`. False when
        the search doubts a break and will measure its rate again (`doubtful`)."""
        again, self._again = self._again, None
        doubt = reading.doubtful and self._worth_doubting()
        if again is None and doubt and len(self._retried) < RETRIES:
            self._again = reading.rate_rps
            self._retried.append(reading.rate_rps)
            return False
        checking, self._checking = self._checking, False
        bracketing = self.held is not None and self.ceiling is not None
        bracketing = bracketing and again is None and not checking
        self.last = reading
        if reading.held:
            self.held = max(self.held or 0.0, reading.rate_rps)
            if checking:
                # It holds more than a broken step served: that step's target collapsed. The
                # bracket up to the lowest break is new, and gets the bisections it is due.
                self.ceiling, self.bisections = self.broke, 0
        else:
            self.broke = min(self.broke or reading.rate_rps, reading.rate_rps)
            self.ceiling = min(self.ceiling or reading.rate_rps, reading.rate_rps)
            served = reading.achieved_rps
            if served > (self.held or 0.0):  # no rate above what it served would hold either
                self.ceiling = min(self.ceiling, served * (1.0 + ACHIEVED_MARGIN))
                if reading.throughput_bound:
                    self._aim = served * (1.0 - self.resolution)
        if bracketing:
            self.bisections += 1
        return True

    def _worth_doubting(self) -> bool:
        """A break is measured again only where believing it could cost more than twice the
        resolution: during the climb, or in a bracket still wider than that."""
        if self.ceiling is None or self.held is None:
            return True
        return self.ceiling - self.held > 2 * self.resolution * self.held

    def _climb(self, last: Reading) -> float | None:
        if last.rate_rps >= self.maximum:
            return None
        return _rounded(min(last.rate_rps * growth(last, self.factor), self.maximum))

    def _narrow(self) -> float | None:
        assert self.ceiling is not None
        low, high = self.held, self.ceiling
        if low is None:
            return self._descend()
        if self.bisections >= self.refine:
            return None
        if high - low <= self.resolution * low:
            return self._check_ceiling(high)
        aim, self._aim = self._aim, None
        if aim is not None and low * (1.0 + self.resolution / 2) < aim < high:
            return _rounded(aim)
        middle = _rounded((low + high) / 2)
        return middle if low < middle < high else None

    def _check_ceiling(self, high: float) -> float | None:
        """The bracket closed: on a measured break the search is done; on a top read from what
        a broken step served, that top is measured first, once a search (it may have been a
        collapse)."""
        rate = _rounded(high)
        read_not_measured = self.broke is not None and high < self.broke
        if not read_not_measured or self._checked or rate <= (self.held or 0.0):
            return None
        self._checked = self._checking = True
        return rate

    def _descend(self) -> float | None:
        """Nothing has held yet: the next probe is just under what a throughput-bound step
        served (no more can hold), else `factor` below the lowest rate that broke; at most
        DESCENTS steps down."""
        assert self.broke is not None
        aim, self._aim = self._aim, None
        if self._descents >= DESCENTS:
            return None
        rate = _rounded(aim if aim is not None else self.broke / self.factor)
        if not 0 < rate < self.broke:
            return None
        self._descents += 1
        return rate


def _rounded(rate: float) -> float:
    """A rate as the steps name it (one decimal: `step-112.5`)."""
    return round(rate, 1)

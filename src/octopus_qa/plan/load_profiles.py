"""Load profiles: the shapes a run can take, read from `load/profiles.toml` and bounded.

A profile is data (users, spawn rates, durations, an arrival rate), never code. Each kind
compiles to a list of stages, `(until_s, users, spawn_rate)`, which `loadtest/shapes.py` plays as a
Locust `LoadTestShape`. Every profile must end: a profile without a finite duration, or above
the caps in the file's `[limits]` table, is refused before any traffic is sent.

Kinds:
- `ramp`: closed model, spawn `users` over `ramp_s`, hold them for `hold_s` (smoke and soak are
  ramps with different numbers).
- `step`: closed model, `start_users`, then `step_users` more every `step_s`, `steps` times.
- `spike`: closed model, `base_users` for `warm_s`, `peak_users` for `spike_s`, back to base
  for `cool_s`.
- `arrival`: open model, `rate_rps` task runs per second whatever the response time: each user
  runs its tasks at `per_user_rps` (Locust's `constant_throughput`), and the user count is
  `ceil(rate_rps / per_user_rps)`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from .. import config
from ..errors import UsageError

KINDS = ("ramp", "step", "spike", "arrival")

# Types of the file's values: a new key is one line in its table's Struct below. The ranges here
# only say what a number can mean (finite, not negative); the caps are the file's `[limits]`.
Users = Annotated[int, Meta(ge=0)]
Seconds = Annotated[float, Meta(ge=0, le=1e9)]
Rate = Annotated[float, Meta(gt=0, le=1e9)]


class Limits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`[limits]`: the caps every profile is held to."""

    max_users: Annotated[int, Meta(ge=1)]
    max_duration_s: Annotated[float, Meta(gt=0, le=1e9)]
    max_spawn_rate: Rate
    max_rate_rps: Rate
    max_workers: Annotated[int, Meta(ge=0)]


class _Entry(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, tag_field="kind"
):
    """`[profile.NAME]`: its `kind` picks which of the tables below it is."""

    description: str = ""


class Ramp(_Entry, frozen=True, tag="ramp"):
    users: Users
    ramp_s: Seconds
    hold_s: Seconds


class Step(_Entry, frozen=True, tag="step"):
    start_users: Users
    step_users: Users
    step_s: Seconds
    steps: Annotated[int, Meta(ge=0, le=10_000)]


class Spike(_Entry, frozen=True, tag="spike"):
    base_users: Users
    peak_users: Users
    warm_s: Seconds
    spike_s: Seconds
    cool_s: Seconds


class Arrival(_Entry, frozen=True, tag="arrival"):
    rate_rps: Rate
    per_user_rps: Rate
    ramp_s: Seconds
    hold_s: Seconds


Entry = Ramp | Step | Spike | Arrival


class _ProfilesFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    limits: Limits
    profile: dict[str, Entry]


@dataclass(frozen=True)
class Stage:
    until_s: float
    users: int
    spawn_rate: float


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str
    description: str
    stages: tuple[Stage, ...]
    #: Task runs per second per user in the open model; None in the closed model (think time).
    per_user_rps: float | None = None

    @property
    def duration_s(self) -> float:
        return self.stages[-1].until_s

    @property
    def peak_users(self) -> int:
        return max(stage.users for stage in self.stages)

    def tick(self, elapsed_s: float) -> tuple[int, float] | None:
        """(users, spawn_rate) for this moment of the run, or None when the profile is over."""
        for stage in self.stages:
            if elapsed_s < stage.until_s:
                return stage.users, stage.spawn_rate
        return None


@dataclass(frozen=True)
class ProfileBook:
    limits: Limits
    profiles: Mapping[str, Profile]

    def get(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            raise UnknownLoadProfile(name, tuple(self.profiles)) from None


class UnknownLoadProfile(UsageError):
    """A load profile the profiles file in force does not have."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        self.name, self.known = name, known
        super().__init__(f"unknown load profile {name!r} (known: {', '.join(sorted(known))})")


def load_profiles(path: Path) -> ProfileBook:
    """Read and check a profiles file; any problem is one ConfigError naming file, key, problem."""
    data = config.read(path, _ProfilesFile)
    profiles = {
        name: _compile(path, name, entry, data.limits) for name, entry in data.profile.items()
    }
    return ProfileBook(data.limits, profiles)


def arrival_profile(
    name: str,
    *,
    rate_rps: float,
    per_user_rps: float,
    ramp_s: float,
    hold_s: float,
    limits: Limits,
    description: str = "",
) -> Profile:
    """An open-model profile made in code (a capacity search's step), held to `limits` like
    one read from a file; a step beyond them is a ConfigError naming the limit."""
    entry = Arrival(
        description=description,
        rate_rps=rate_rps,
        per_user_rps=per_user_rps,
        ramp_s=ramp_s,
        hold_s=hold_s,
    )
    return _compile(Path(f"<{name}>"), name, entry, limits)


def _spawn_rate(users: int, seconds: float) -> float:
    """Spawn `users` evenly over `seconds` (at once when there is no ramp)."""
    return users / seconds if seconds > 0 else float(max(users, 1))


def _stages(entry: Entry) -> list[Stage]:
    if isinstance(entry, Ramp):
        rate = _spawn_rate(entry.users, entry.ramp_s)
        return [Stage(entry.ramp_s + entry.hold_s, entry.users, rate)]
    if isinstance(entry, Step):
        start, step = entry.start_users, entry.step_users
        rate = _spawn_rate(step or start, entry.step_s / 4)  # each step arrives within a quarter
        steps = range(entry.steps + 1)
        return [Stage(entry.step_s * (i + 1), start + step * i, rate) for i in steps]
    if isinstance(entry, Spike):
        base, peak = entry.base_users, entry.peak_users
        sudden = float(max(peak - base, 1))  # the spike arrives within a second
        warm_s, spike_s = entry.warm_s, entry.spike_s
        return [
            Stage(warm_s, base, _spawn_rate(base, warm_s / 4)),
            Stage(warm_s + spike_s, peak, sudden),
            Stage(warm_s + spike_s + entry.cool_s, base, sudden),
        ]
    users = users_offering(entry.rate_rps, entry.per_user_rps)
    return [Stage(entry.ramp_s + entry.hold_s, users, _spawn_rate(users, entry.ramp_s))]


def users_offering(rate_rps: float, per_user_rps: float) -> int:
    """How many users, each at `per_user_rps`, offer `rate_rps`: the division rounded up, but
    not by floating point's last bit (1000.2 / 2.0004 is 500.00000000000006: 500 users, not
    501, which a capacity step at the user cap was refused for)."""
    return max(1, math.ceil(rate_rps / per_user_rps - 1e-9))


def _compile(path: Path, name: str, entry: Entry, limits: Limits) -> Profile:
    per_user_rps = entry.per_user_rps if isinstance(entry, Arrival) else None
    kind = type(entry).__struct_config__.tag
    profile = Profile(name, str(kind), entry.description, tuple(_stages(entry)), per_user_rps)
    _check_bounded(path, profile, limits, entry)
    return profile


def _check_bounded(path: Path, profile: Profile, limits: Limits, entry: Entry) -> None:
    """Refuse a profile that would not end, or would exceed the file's caps."""
    key = f"profile.{profile.name}"

    def refuse(problem: str) -> config.ConfigError:
        return config.ConfigError(path, key, problem)

    if not profile.stages or profile.duration_s <= 0:
        raise refuse("has no duration: every run must be bounded")
    if profile.duration_s > limits.max_duration_s:
        raise refuse(
            f"lasts {profile.duration_s:g} s, above the cap of {limits.max_duration_s:g} s "
            "(limits.max_duration_s)"
        )
    if not 1 <= profile.peak_users <= limits.max_users:
        raise refuse(
            f"needs {profile.peak_users} users; allowed 1..{limits.max_users} (limits.max_users)"
        )
    if any(stage.spawn_rate > limits.max_spawn_rate for stage in profile.stages):
        raise refuse(
            f"spawns faster than {limits.max_spawn_rate:g} users/s (limits.max_spawn_rate)"
        )
    if isinstance(entry, Arrival) and entry.rate_rps > limits.max_rate_rps:
        raise refuse(
            f"asks for {entry.rate_rps:g} requests/s, above the cap of "
            f"{limits.max_rate_rps:g} (limits.max_rate_rps)"
        )

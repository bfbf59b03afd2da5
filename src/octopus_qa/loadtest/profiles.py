"""Load profiles: the shapes a run can take, read from `load/profiles.toml` and bounded.

A profile is data (users, spawn rates, durations, an arrival rate), never code. Each kind
compiles to a list of stages, `(until_s, users, spawn_rate)`, which `load/shapes.py` plays as a
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
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError

KINDS = ("ramp", "step", "spike", "arrival")


@dataclass(frozen=True)
class Stage:
    until_s: float
    users: int
    spawn_rate: float


@dataclass(frozen=True)
class Limits:
    max_users: int
    max_duration_s: float
    max_spawn_rate: float
    max_rate_rps: float
    max_workers: int


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
            known = ", ".join(sorted(self.profiles))
            raise UsageError(f"unknown load profile {name!r} (known: {known})") from None


def load_profiles(path: Path) -> ProfileBook:
    """Read and check a profiles file; any problem is a UsageError naming the file and profile."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read load profiles {path}: {exc}") from None
    try:
        limits = Limits(**data["limits"])
        profiles = {
            name: _compile(name, dict(entry), limits) for name, entry in data["profile"].items()
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path}: malformed profile data ({type(exc).__name__}: {exc})") from None
    return ProfileBook(limits, profiles)


def _number(entry: Mapping[str, Any], key: str, profile: str) -> float:
    value = entry.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise UsageError(f"load profile {profile!r}: {key} must be a finite number, got {value!r}")
    if value < 0:
        raise UsageError(f"load profile {profile!r}: {key} must not be negative, got {value!r}")
    return float(value)


def _spawn_rate(users: int, seconds: float) -> float:
    """Spawn `users` evenly over `seconds` (at once when there is no ramp)."""
    return users / seconds if seconds > 0 else float(max(users, 1))


def _ramp(name: str, entry: Mapping[str, Any]) -> list[Stage]:
    users = int(_number(entry, "users", name))
    ramp_s, hold_s = _number(entry, "ramp_s", name), _number(entry, "hold_s", name)
    rate = _spawn_rate(users, ramp_s)
    return [Stage(ramp_s + hold_s, users, rate)]


def _step(name: str, entry: Mapping[str, Any]) -> list[Stage]:
    start = int(_number(entry, "start_users", name))
    step = int(_number(entry, "step_users", name))
    step_s = _number(entry, "step_s", name)
    steps = int(_number(entry, "steps", name))
    rate = _spawn_rate(step or start, step_s / 4)  # each step arrives within its first quarter
    return [Stage(step_s * (i + 1), start + step * i, rate) for i in range(steps + 1)]


def _spike(name: str, entry: Mapping[str, Any]) -> list[Stage]:
    base = int(_number(entry, "base_users", name))
    peak = int(_number(entry, "peak_users", name))
    warm_s, spike_s, cool_s = (_number(entry, k, name) for k in ("warm_s", "spike_s", "cool_s"))
    sudden = float(max(peak - base, 1))  # the spike arrives within a second
    return [
        Stage(warm_s, base, _spawn_rate(base, warm_s / 4)),
        Stage(warm_s + spike_s, peak, sudden),
        Stage(warm_s + spike_s + cool_s, base, sudden),
    ]


def _arrival(name: str, entry: Mapping[str, Any]) -> list[Stage]:
    rate = _number(entry, "rate_rps", name)
    per_user = _number(entry, "per_user_rps", name)
    if per_user <= 0:
        raise UsageError(f"load profile {name!r}: per_user_rps must be positive")
    users = math.ceil(rate / per_user)
    ramp_s, hold_s = _number(entry, "ramp_s", name), _number(entry, "hold_s", name)
    return [Stage(ramp_s + hold_s, users, _spawn_rate(users, ramp_s))]


_COMPILERS = {"ramp": _ramp, "step": _step, "spike": _spike, "arrival": _arrival}


def _compile(name: str, entry: dict[str, Any], limits: Limits) -> Profile:
    kind = entry.get("kind")
    if kind not in _COMPILERS:
        raise UsageError(f"load profile {name!r}: kind must be one of {', '.join(KINDS)}")
    stages = tuple(_COMPILERS[kind](name, entry))
    per_user_rps = _number(entry, "per_user_rps", name) if kind == "arrival" else None
    profile = Profile(name, kind, str(entry.get("description", "")), stages, per_user_rps)
    _check_bounded(profile, limits, entry)
    return profile


def _check_bounded(profile: Profile, limits: Limits, entry: Mapping[str, Any]) -> None:
    """Refuse a profile that would not end, or would exceed the file's caps."""
    name = profile.name
    if not profile.stages or profile.duration_s <= 0:
        raise UsageError(f"load profile {name!r} has no duration: every run must be bounded")
    if profile.duration_s > limits.max_duration_s:
        raise UsageError(
            f"load profile {name!r} lasts {profile.duration_s:g} s, above the cap of "
            f"{limits.max_duration_s:g} s"
        )
    if not 1 <= profile.peak_users <= limits.max_users:
        raise UsageError(
            f"load profile {name!r} needs {profile.peak_users} users; allowed 1..{limits.max_users}"
        )
    if any(stage.spawn_rate > limits.max_spawn_rate for stage in profile.stages):
        raise UsageError(
            f"load profile {name!r} spawns faster than {limits.max_spawn_rate:g} users/s"
        )
    if profile.kind == "arrival" and entry["rate_rps"] > limits.max_rate_rps:
        raise UsageError(
            f"load profile {name!r} asks for {entry['rate_rps']} requests/s, above the cap of "
            f"{limits.max_rate_rps:g}"
        )

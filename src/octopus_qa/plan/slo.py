"""Service level objectives, read from `load/slo.toml`: what each endpoint must achieve.

The file is versioned and holds, per endpoint, latency limits (p50/p95/p99), a maximum error
rate and a minimum throughput; a profile may override an endpoint's numbers (a throughput floor
depends on the load). It also holds the run-wide rule-violation budget and the tolerances for
comparing against a baseline run.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from .. import config
from .endpoints import ENDPOINTS

#: Metric name → how the measured value must compare with the limit.
LATENCY_METRICS = ("p50_ms", "p95_ms", "p99_ms")
OBJECTIVE_KEYS = (*LATENCY_METRICS, "max_error_rate", "min_rps")
#: `[run] gate_latency_from` → the clock of `latency.py` the latency gates judge.
GATE_CLOCKS = {"intended-start": "response", "sent": "service"}

# Types of the file's values (finite, not negative; a rate is a fraction). A new key is one line
# in its table's Struct below.
Limit = Annotated[float, Meta(ge=0, le=1e9)]
Fraction = Annotated[float, Meta(ge=0, le=1)]
Count = Annotated[int, Meta(ge=0)]


@dataclass(frozen=True)
class Objectives:
    endpoint: str
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_error_rate: float
    min_rps: float


class BaselineTolerance(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`[baseline]`: how far a run may fall behind the baseline it is compared with."""

    p95_tolerance: Annotated[float, Meta(ge=0, le=100)]
    throughput_tolerance: Fraction
    min_requests: Count
    #: `octoqa capacity --baseline`: the capacity may drop by at most this fraction. Defaulted,
    #: so a slo.toml written before the capacity gate existed still reads.
    capacity_tolerance: Fraction = 0.15


@dataclass(frozen=True)
class ServiceLevels:
    version: int
    max_rule_violations: int
    baseline: BaselineTolerance
    endpoints: Mapping[str, Objectives]
    #: Which latency the gates judge: "response" (from the intended start, the default) or
    #: "service" (sent to answered). They differ only in the open model.
    latency_clock: str = "response"
    #: Stop the run early when a latency or error-rate gate has been breached this long
    #: (seconds, judged every second on the run so far; 0: never), once an endpoint has at
    #: least `abort_min_requests` requests (k6's abortOnFail with delayAbortEval).
    abort_after_s: float = 0.0
    abort_min_requests: int = 50


class _Objectives(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    p50_ms: Limit
    p95_ms: Limit
    p99_ms: Limit
    max_error_rate: Fraction
    min_rps: Limit


class _Override(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A profile's override of some of an endpoint's objectives."""

    p50_ms: Limit | None = None
    p95_ms: Limit | None = None
    p99_ms: Limit | None = None
    max_error_rate: Fraction | None = None
    min_rps: Limit | None = None


class _ProfileOverrides(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    endpoint: dict[str, _Override] = {}


class _Run(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_rule_violations: Count
    gate_latency_from: Literal["intended-start", "sent"] = "intended-start"
    abort_after_s: Annotated[float, Meta(ge=0, le=86_400)] = 0.0
    abort_min_requests: Count = 50


class _SloFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: Annotated[int, Meta(ge=1)]
    run: _Run
    baseline: BaselineTolerance
    endpoint: dict[str, _Objectives]
    profile: dict[str, _ProfileOverrides] = {}


def load_slo(
    path: Path, profile: str | None, known_profiles: Collection[str] | None = None
) -> ServiceLevels:
    """The objectives in force for `profile` (endpoint defaults with that profile's overrides;
    the defaults alone for a run without a load profile, plain Locust's `-u`/`-r`).

    `known_profiles`, when given, are the load profiles there are: an override for any other
    (a misspelt `[profile.rmap]`) is refused rather than silently never applied.
    """
    data = config.read(path, _SloFile)
    for key in data.endpoint:
        _check_endpoint(path, f"endpoint.{key}", key)
    for name, overrides in data.profile.items():
        if known_profiles is not None and name not in known_profiles:
            known = ", ".join(known_profiles)
            raise config.ConfigError(
                path, f"profile.{name}", f"no such load profile (known: {known})"
            )
        for key in overrides.endpoint:
            _check_endpoint(path, f"profile.{name}.endpoint.{key}", key)
    own = data.profile.get(profile or "", _ProfileOverrides()).endpoint
    endpoints = {
        key: _objectives(key, entry, own.get(key, _Override()))
        for key, entry in data.endpoint.items()
    }
    return ServiceLevels(
        data.version,
        data.run.max_rule_violations,
        data.baseline,
        endpoints,
        latency_clock=GATE_CLOCKS[data.run.gate_latency_from],
        abort_after_s=data.run.abort_after_s,
        abort_min_requests=data.run.abort_min_requests,
    )


def _check_endpoint(path: Path, key: str, endpoint: str) -> None:
    if endpoint not in ENDPOINTS:
        known = ", ".join(ENDPOINTS)
        raise config.ConfigError(path, key, f"unknown endpoint (known: {known})")


def _objectives(key: str, entry: _Objectives, override: _Override) -> Objectives:
    values = {name: getattr(entry, name) for name in OBJECTIVE_KEYS}
    values.update(
        {name: value for name in OBJECTIVE_KEYS if (value := getattr(override, name)) is not None}
    )
    return Objectives(endpoint=key, **{name: float(value) for name, value in values.items()})

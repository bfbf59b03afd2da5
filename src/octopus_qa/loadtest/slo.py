"""Service level objectives, read from `load/slo.toml`: what each endpoint must achieve.

The file is versioned and holds, per endpoint, latency limits (p50/p95/p99), a maximum error
rate and a minimum throughput; a profile may override an endpoint's numbers (a throughput floor
depends on the load). It also holds the run-wide rule-violation budget and the tolerances for
comparing against a baseline run.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .endpoints import ENDPOINTS

#: Metric name → how the measured value must compare with the limit.
LATENCY_METRICS = ("p50_ms", "p95_ms", "p99_ms")
OBJECTIVE_KEYS = (*LATENCY_METRICS, "max_error_rate", "min_rps")
#: `[run] gate_latency_from` → the clock of `latency.py` the latency gates judge.
GATE_CLOCKS = {"intended-start": "response", "sent": "service"}


@dataclass(frozen=True)
class Objectives:
    endpoint: str
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_error_rate: float
    min_rps: float


@dataclass(frozen=True)
class BaselineTolerance:
    p95_tolerance: float
    throughput_tolerance: float
    min_requests: int


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


def load_slo(path: Path, profile: str) -> ServiceLevels:
    """The objectives in force for `profile` (endpoint defaults with that profile's overrides)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read the SLO file {path}: {exc}") from None
    try:
        overrides = data.get("profile", {}).get(profile, {}).get("endpoint", {})
        endpoints = {
            key: _objectives(path, key, {**entry, **overrides.get(key, {})})
            for key, entry in data["endpoint"].items()
        }
        baseline = BaselineTolerance(
            float(data["baseline"]["p95_tolerance"]),
            float(data["baseline"]["throughput_tolerance"]),
            int(data["baseline"]["min_requests"]),
        )
        clock = GATE_CLOCKS.get(str(data["run"].get("gate_latency_from", "intended-start")))
        if clock is None:
            raise UsageError(
                f"{path}: [run] gate_latency_from must be one of {', '.join(GATE_CLOCKS)}"
            )
        levels = ServiceLevels(
            int(data["version"]),
            int(data["run"]["max_rule_violations"]),
            baseline,
            endpoints,
            latency_clock=clock,
            abort_after_s=float(data["run"].get("abort_after_s", 0.0)),
            abort_min_requests=int(data["run"].get("abort_min_requests", 50)),
        )
        if not (math.isfinite(levels.abort_after_s) and levels.abort_after_s >= 0):
            raise UsageError(f"{path}: [run] abort_after_s must be finite and ≥ 0")
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path}: malformed SLO data ({type(exc).__name__}: {exc})") from None
    unknown = sorted(set(endpoints) - set(ENDPOINTS))
    if unknown:
        raise UsageError(f"{path}: unknown endpoint(s) {', '.join(unknown)}")
    return levels


def _objectives(path: Path, key: str, entry: Mapping[str, Any]) -> Objectives:
    values = {}
    for name in OBJECTIVE_KEYS:
        value = entry.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise UsageError(f"{path}: endpoint {key!r} needs a number for {name}")
        if not math.isfinite(value) or value < 0:
            raise UsageError(f"{path}: endpoint {key!r}: {name} must be finite and ≥ 0")
        values[name] = float(value)
    return Objectives(endpoint=key, **values)

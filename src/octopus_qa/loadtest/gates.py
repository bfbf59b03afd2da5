"""The verdict on a load run: each objective of `slo.toml`, and each baseline comparison, as a gate.

A gate is one number measured against one limit. Latencies and error rates must stay at or
below their limit, throughput at or above; the run-wide rule-violation budget is a gate too. With
a baseline (an earlier run's summary.json), an endpoint's p95 may not grow, nor its throughput
shrink, beyond the tolerance in `slo.toml`: a regression is a failed gate like any other.

`judge_run` is the one place a run is judged: the locustfile calls it as Locust quits, for plain
Locust and `octoqa load` alike, and `octoqa load` reads the gates back rather than judging again.

A gate judges the API, never the choice of users: an endpoint no running user calls (a plain
`-u 5` leaves the TokenChurner without users) is not judged, and a throughput floor is judged
only where a load profile fixes what the users offer (`-u 7 -t 12s` offers what it offers).
Either way the gate says so (`skip`, with its reason), so nothing reads as a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from ..plan.slo import BaselineTolerance, ServiceLevels
from ..verdicts import Verdict
from .results import EndpointStats, Measurements

PASS, FAIL, SKIP = Verdict.PASS, Verdict.FAIL, Verdict.SKIP
AT_MOST, AT_LEAST = "<=", ">="


@dataclass(frozen=True)
class Gate:
    endpoint: str
    metric: str
    limit: float
    measured: float | None
    verdict: str
    comparison: str = AT_MOST
    source: str = "slo"  # or "baseline"
    #: Why a gate was not judged (a skip), when something other than "nothing measured" says.
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def unjudged(self, reason: str) -> Gate:
        return replace(self, verdict=SKIP, reason=reason)


@dataclass(frozen=True)
class Reach:
    """What the run's users could offer the API: which endpoints a running user calls, and
    whether a load profile fixed the offer (users over time, or an arrival rate)."""

    #: Endpoint keys some running user calls; None: not known (every endpoint is judged).
    endpoints: frozenset[str] | None = None
    #: The kinds of user that ran, for the reason a skipped gate gives.
    users: tuple[str, ...] = ()
    fixed_offer: bool = True
    #: A capacity search's step: the search chose the rate, and reads what was served itself.
    search_step: bool = False

    def why_not(self, gate: Gate) -> str | None:
        """Why this gate says nothing about the API, or None when it does."""
        if self.endpoints is not None and gate.endpoint not in (*self.endpoints, "all", "total"):
            ran = ", ".join(self.users) or "none"
            return f"no running user calls {gate.endpoint} (users that ran: {ran})"
        if gate.metric == "rps" and gate.source == "slo":
            return self._why_no_floor()
        return None

    def _why_no_floor(self) -> str | None:
        """A throughput floor judges the API only where the run's own profile set the offer.
        In a capacity step the search chose it: a floor there says whether the search offered
        the endpoint enough (users log in as they start, mostly within the ramp, which is not
        judged: login's floor broke a step at 7.8 req/s), and the search reads what the API
        served from the step itself."""
        if not self.fixed_offer:
            return "no load profile fixed the offered rate (-u/-t chose it): floor not judged"
        if self.search_step:
            return "a capacity step: the search chose its rate and reads what was served"
        return None


#: A run whose users could offer everything (`octoqa load`'s profiles; the tests' figures).
FULL_REACH = Reach()


def judge(
    endpoint: str,
    metric: str,
    limit: float,
    measured: float | None,
    comparison: str = AT_MOST,
    source: str = "slo",
) -> Gate:
    """One gate: skipped when nothing was measured, else pass or fail by the comparison."""
    if measured is None:
        verdict = SKIP
    elif comparison == AT_MOST:
        verdict = PASS if measured <= limit else FAIL
    else:
        verdict = PASS if measured >= limit else FAIL
    return Gate(endpoint, metric, limit, measured, verdict, comparison, source)


def slo_gates(
    levels: ServiceLevels,
    endpoints: Mapping[str, EndpointStats],
    rule_violations: Mapping[str, int],
) -> list[Gate]:
    """Every objective of every endpoint, and the run's rule-violation budget."""
    gates = []
    for key, objectives in levels.endpoints.items():
        stats = endpoints.get(key, EndpointStats(0, 0, 0.0, None, None, None))
        gates += [
            judge(key, "p50_ms", objectives.p50_ms, stats.p50_ms),
            judge(key, "p95_ms", objectives.p95_ms, stats.p95_ms),
            judge(key, "p99_ms", objectives.p99_ms, stats.p99_ms),
            judge(key, "error_rate", objectives.max_error_rate, stats.error_rate),
            judge(key, "rps", objectives.min_rps, stats.rps, AT_LEAST),
        ]
    violations = sum(rule_violations.values())
    gates.append(judge("all", "rule_violations", levels.max_rule_violations, violations))
    return gates


def baseline_gates(
    tolerance: BaselineTolerance,
    endpoints: Mapping[str, EndpointStats],
    baseline_endpoints: Mapping[str, Mapping[str, Any]],
) -> list[Gate]:
    """p95 growth and throughput loss against the baseline, for endpoints both runs measured."""
    gates = []
    for key, before in sorted(baseline_endpoints.items()):
        now = endpoints.get(key)
        if key == "total" or now is None:
            continue
        if min(now.requests, int(before.get("requests") or 0)) < tolerance.min_requests:
            continue
        if before.get("p95_ms") is not None:
            limit = round(float(before["p95_ms"]) * (1 + tolerance.p95_tolerance), 3)
            gates.append(judge(key, "p95_ms", limit, now.p95_ms, AT_MOST, "baseline"))
        if before.get("rps") is not None:
            floor = round(float(before["rps"]) * (1 - tolerance.throughput_tolerance), 3)
            gates.append(judge(key, "rps", floor, round(now.rps, 3), AT_LEAST, "baseline"))
    return gates


def failed(gates: list[Gate]) -> list[Gate]:
    return [gate for gate in gates if gate.verdict == FAIL]


def judge_run(
    levels: ServiceLevels,
    measurements: Measurements,
    baseline: Mapping[str, Mapping[str, Any]] | None = None,
    reach: Reach = FULL_REACH,
) -> list[Gate]:
    """Every gate of a run: each endpoint's objectives, the rule budget, and the baseline's;
    those the run's users could not have met are kept, unjudged, with the reason."""
    gates = slo_gates(levels, measurements.endpoints, measurements.rule_violations)
    if baseline is not None:
        gates += baseline_gates(levels.baseline, measurements.endpoints, baseline)
    return [gate.unjudged(why) if (why := reach.why_not(gate)) else gate for gate in gates]


def verdict_of(gates: list[Gate]) -> str:
    """ "fail" when a gate failed, else "pass" (a skipped gate measured nothing to fail)."""
    return FAIL if failed(gates) else PASS

"""The `summary.json` files, typed: one definition the stages write, the pipeline and report read.

Each stage (spec, contract, load) writes `<run>/<stage>/summary.json`; the run writes its own
`<run>/summary.json`. All carry `schema_version` (bumped when a field changes meaning or goes
away; new optional fields keep it) and `started` in one form: ISO 8601 in UTC with its offset
(`2026-12-01T20:40:00+00:00`). Reading checks both the version and the types, so a summary from
another octoqa, or a hand-edited one, is refused with the reason instead of half-read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

SCHEMA_VERSION = 1


def utc_started(moment: datetime) -> str:
    """`started`, written one way everywhere: ISO 8601, UTC, with the offset, to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class _Summary(msgspec.Struct, kw_only=True):
    schema_version: int = SCHEMA_VERSION
    verdict: str
    started: str | None = None


class _StageSummary(_Summary, kw_only=True):
    #: The stage's files, relative to the run folder (the report links them).
    artifacts: dict[str, str] = msgspec.field(default_factory=dict)


# --- spec -------------------------------------------------------------------------------------


class SpecCheck(msgspec.Struct, kw_only=True):
    name: str
    verdict: str  # a verdicts.Verdict: pass | fail | error | skip | not run
    detail: str = ""


class SpecSummary(_StageSummary, kw_only=True):
    stage: Literal["spec"] = "spec"
    spec_version: str | None = None
    checks: list[SpecCheck] = msgspec.field(default_factory=list)


# --- contract ---------------------------------------------------------------------------------


class TestResult(msgspec.Struct, kw_only=True):
    nodeid: str
    outcome: str  # a verdicts.Outcome: passed | failed | skipped | error | deviation | not judged
    message: str = ""


class RuleResult(msgspec.Struct, kw_only=True):
    status: str  # a verdicts.Verdict: pass | fail | deviation | skip | untested
    tests: list[TestResult] = msgspec.field(default_factory=list)
    #: The evidence behind the status: how many exchanges met the situation the rule is about
    #: (its checks applied, rather than held vacuously), and in how many tests.
    exchanges: int = 0
    tests_applied: int = 0
    #: Why the rule is untested (no test applied it, every test of it skipped ...); "" otherwise.
    reason: str = ""


class OperationCoverage(msgspec.Struct, kw_only=True):
    method: str
    path: str
    declared: list[int] = msgspec.field(default_factory=list)
    seen: list[int] = msgspec.field(default_factory=list)


class ContractCoverage(msgspec.Struct, kw_only=True):
    operations: list[OperationCoverage] = msgspec.field(default_factory=list)


class DeviationEntry(msgspec.Struct, kw_only=True):
    rule: str
    operation: str | None = None
    status: int | None = None
    reason: str = ""
    link: str = ""
    expires: str = ""
    state: str  # matched | expired | stale
    matched: int = 0


class DeviationsReport(msgspec.Struct, kw_only=True):
    file: str | None = None
    entries: list[DeviationEntry] = msgspec.field(default_factory=list)


class ContractSummary(_StageSummary, kw_only=True):
    stage: Literal["contract"] = "contract"
    target: str | None = None
    profile: str | None = None
    seed: int | None = None
    duration_s: float | None = None
    spec_version: str | None = None
    documented_only: bool = False
    totals: dict[str, int] = msgspec.field(default_factory=dict)
    rules: dict[str, RuleResult] = msgspec.field(default_factory=dict)
    coverage: ContractCoverage = msgspec.field(default_factory=ContractCoverage)
    deviations: DeviationsReport | None = None
    #: False when the target went away mid-run: nothing after that was judged (exit 2).
    judged: bool = True
    not_judged_because: str | None = None
    target_lost: dict[str, Any] | None = None
    #: Answers slower than the profile's slow_answer_s: reported, never a failure.
    slow_answers: dict[str, Any] | None = None


# --- load -------------------------------------------------------------------------------------


class GateResult(msgspec.Struct, kw_only=True):
    endpoint: str
    metric: str
    limit: float
    measured: float | None = None
    verdict: str  # a verdicts.Verdict: pass | fail | skip
    comparison: str = "<="
    source: str = "slo"  # or "baseline"
    #: Why a skipped gate was not judged (no running user calls its endpoint, ...).
    reason: str = ""


class LatencyResult(msgspec.Struct, kw_only=True):
    """Exact percentiles of one clock (HDR histograms, `loadtest/latency.py`), in ms."""

    count: int = 0
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    max_ms: float | None = None


class LocustPercentiles(msgspec.Struct, kw_only=True):
    """Locust's own percentiles, rounded to about two digits, kept for those who know them."""

    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None


class EndpointResult(msgspec.Struct, kw_only=True):
    """One endpoint: the gated clock's exact percentiles on top, both clocks in full below."""

    requests: int = 0
    failures: int = 0
    rps: float = 0.0
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    max_ms: float | None = None
    #: "hdr" (exact) or "locust" (nothing recorded: Locust's rounded figures).
    latency_source: str = "locust"
    latency_clock: str | None = None
    service: LatencyResult | None = None
    response: LatencyResult | None = None
    locust: LocustPercentiles | None = None


class LoadSummary(_StageSummary, kw_only=True):
    stage: Literal["load"] = "load"
    target: str | None = None
    profile: str | None = None
    seed: int | None = None
    model: str | None = None
    workers: int = 0
    workers_reported: int = 0
    duration_s: float | None = None
    slo_version: int | str | None = None
    gates: list[GateResult] = msgspec.field(default_factory=list)
    regressions: list[GateResult] = msgspec.field(default_factory=list)
    baseline: str | None = None
    endpoints: dict[str, EndpointResult] = msgspec.field(default_factory=dict)
    rule_violations: dict[str, int] = msgspec.field(default_factory=dict)
    rate_limited: int = 0
    cpu_warning: bool = False
    #: Which clock the latency gates judged: "response" (from the intended start) or "service".
    latency_clock: str | None = None
    #: Open model: task starts, late ones (whose fault) and dropped ones.
    schedule: dict[str, float] | None = None
    #: The generator's own health per process, its limits and what it broke (invalid run).
    generator: dict[str, Any] = msgspec.field(default_factory=dict)
    #: Set when a gate stayed breached and the run was stopped early.
    aborted: dict[str, Any] | None = None
    #: Set when the target stopped answering during the run (what was measured is kept).
    target_lost: dict[str, Any] | None = None
    #: Latency and failures against each endpoint's own in-flight count, and the findings
    #: (an endpoint that serialises or fails under concurrency): loadtest/bottleneck.py.
    concurrency: dict[str, Any] | None = None
    #: Locust's stats history, second by second (t, at, users, rps, p50_ms, p95_ms,
    #: failures_per_s); its percentiles are Locust's rounded ones.
    history: list[dict[str, Any]] = msgspec.field(default_factory=list)
    #: The gated clock's exact percentiles second by second, from the same HDR histograms as
    #: `endpoints` (at: whole seconds since the epoch, count, p50_ms, p95_ms, p99_ms).
    timeline: list[dict[str, Any]] = msgspec.field(default_factory=list)


# --- the run ----------------------------------------------------------------------------------


class StageEntry(msgspec.Struct, kw_only=True):
    name: str
    verdict: str
    exit_code: int | None = None
    duration_s: float | None = None
    reason: str | None = None
    log: str | None = None


class RunSummary(_Summary, kw_only=True):
    """The run's own summary.json: the pipeline's facts joined with the stages' summaries.

    The tables (rules, coverage, gates...) are the report's views of the stage summaries, built in
    `octopus_qa.report.summary`; they are typed there as plain JSON objects.
    """

    stage: Literal["run"] = "run"
    run_id: str
    exit_code: int
    reason: str | None = None
    target: str | None = None
    embedded: bool = False
    profile: str | None = None
    seed: int | None = None
    spec_version: str | None = None
    duration_s: float | None = None
    stages: list[StageEntry] = msgspec.field(default_factory=list)
    spec_checks: list[SpecCheck] = msgspec.field(default_factory=list)
    rules: list[dict[str, Any]] = msgspec.field(default_factory=list)
    totals: dict[str, Any] = msgspec.field(default_factory=dict)
    gates: list[GateResult] = msgspec.field(default_factory=list)
    deviations: DeviationsReport | None = None
    coverage: dict[str, Any] = msgspec.field(default_factory=dict)
    endpoints: dict[str, EndpointResult] = msgspec.field(default_factory=dict)
    history: list[dict[str, Any]] = msgspec.field(default_factory=list)
    timeline: list[dict[str, Any]] = msgspec.field(default_factory=list)
    load_notes: dict[str, Any] = msgspec.field(default_factory=dict)
    artifacts: list[dict[str, Any]] = msgspec.field(default_factory=list)


StageSummary = SpecSummary | ContractSummary | LoadSummary
STAGE_TYPES: dict[str, type[SpecSummary] | type[ContractSummary] | type[LoadSummary]] = {
    "spec": SpecSummary,
    "contract": ContractSummary,
    "load": LoadSummary,
}
_ENCODER = msgspec.json.Encoder()


class SummaryUnreadable(ValueError):
    """A summary.json that is missing, not JSON, of another schema_version or of the wrong types."""


def encode(summary: msgspec.Struct) -> bytes:
    """Indented JSON, as a reader (and `git diff`) wants it."""
    return msgspec.json.format(_ENCODER.encode(summary), indent=2) + b"\n"


def write_summary(path: Path, summary: msgspec.Struct) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(summary))
    return path


def decode_stage(data: bytes, stage: str) -> StageSummary:
    """A stage's summary.json from its bytes; SummaryUnreadable says why it is not one."""
    try:
        version = msgspec.json.decode(data, type=_Version).schema_version
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SummaryUnreadable(f"not a summary.json: {exc}") from None
    if version != SCHEMA_VERSION:
        raise SummaryUnreadable(f"schema_version {version}, this octoqa reads {SCHEMA_VERSION}")
    try:
        return msgspec.json.decode(data, type=STAGE_TYPES[stage])
    except msgspec.ValidationError as exc:
        raise SummaryUnreadable(str(exc)) from None


def read_stage(path: Path, stage: str) -> StageSummary:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SummaryUnreadable(exc.strerror or "cannot be read") from None
    return decode_stage(data, stage)


def to_builtins(summary: msgspec.Struct) -> dict[str, Any]:
    """The summary as plain JSON values (what templates and older callers read)."""
    data: dict[str, Any] = msgspec.to_builtins(summary)
    return data


class _Version(msgspec.Struct):
    schema_version: int

"""The run's HTML page: one self-contained file, readable from disk with no network.

Jinja2 renders `templates/report.html` with autoescaping on, so anything that came from the
target (test messages, endpoint names, error text) is escaped; the only markup inserted as it is
comes from `charts`, which escapes its own labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from jinja2 import ChainableUndefined, Environment, PackageLoader
from markupsafe import Markup

from ..verdicts import Verdict
from .charts import Series, line_chart, sparkline
from .findings import (
    STATUS_WORDS,
    breached_gates,
    evidence_text,
    format_number,
    gate_counts,
    gate_text,
    rule_counts,
    rules_by_attention,
    rules_in,
    unexplained_reason,
)

__all__ = ["VERDICT_WORDS", "banner", "format_number", "format_seconds", "render_html"]

#: Words beside every colour, so the verdict does not depend on seeing colour.
VERDICT_WORDS: Mapping[str, tuple[str, str]] = {
    Verdict.PASS: ("✔", "PASS"),
    Verdict.INCOMPLETE: ("◐", "INCOMPLETE"),
    Verdict.SKIP: ("–", "SKIP"),
    Verdict.FAIL: ("✘", "FAIL"),
    Verdict.DEVIATION: ("≈", "KNOWN DEVIATION"),
    Verdict.ERROR: ("⚠", "ERROR"),
    Verdict.NOT_RUN: ("–", "NOT RUN"),
}


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("octopus_qa.report", "templates"),
        autoescape=True,
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = format_number
    env.filters["seconds"] = format_seconds
    env.filters["when"] = format_when
    env.filters["evidence"] = evidence_text
    env.filters["gate_text"] = gate_text
    env.globals["verdict_words"] = VERDICT_WORDS
    env.globals["status_words"] = STATUS_WORDS
    return env


def format_seconds(value: Any) -> str:
    """A duration: 0.8 s, 42 s, 3 min 05 s."""
    if not isinstance(value, int | float):
        return "–"
    if value < 10:
        return f"{value:.1f} s"
    if value < 120:
        return f"{value:.0f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s"


def format_when(value: Any) -> str:
    """An ISO timestamp as `2025-01-01 12:00:00 UTC` (its own offset kept when not UTC)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.utcoffset() == timedelta(0):
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.isoformat(sep=" ")


#: What each clock's figures measure, for the response-time chart's axis.
CLOCK_WORDS = {"response": "from the intended start", "service": "from sending"}


def _when(row: Mapping[str, Any]) -> float | None:
    """A row's time in seconds: Locust's epoch stamp (`at`) when the row has one, else its
    offset from the first row (`t`, summaries written before `at` was)."""
    value = row.get("at", row.get("t"))
    return float(value) if isinstance(value, int | float) else None


def _first_measurement(
    timeline: Sequence[Mapping[str, Any]], history: Sequence[Mapping[str, Any]]
) -> float | None:
    """When the run first measured something: the first second of the exact timeline, else the
    first of Locust's rows that saw a request (its first rows are users spawning, with 0 ms
    and 0 requests/s that no request measured)."""
    for row in timeline:
        if row.get("count") and _when(row) is not None:
            return _when(row)
    for row in history:
        if (row.get("rps") or row.get("p50_ms")) and _when(row) is not None:
            return _when(row)
    return None


def _series(rows: Sequence[Mapping[str, Any]], origin: float, label: str, key: str) -> Series:
    points = []
    for row in rows:
        when, value = _when(row), row.get(key)
        if when is not None and when >= origin and isinstance(value, int | float):
            points.append((when - origin, float(value)))
    return Series(label, points)


def history_charts(
    history: Sequence[Mapping[str, Any]],
    timeline: Sequence[Mapping[str, Any]] = (),
    clock: str | None = None,
) -> dict[str, Markup]:
    """The load run over time, from its first measurement: response time (the exact per-second
    percentiles of the gated clock, the same histograms as the tables; Locust's rounded ones
    only for a run that recorded no timeline), and throughput with the user count."""
    origin = _first_measurement(timeline, history)
    exact = [row for row in timeline if row.get("count")]
    latency_rows, source = (exact, "exact") if exact else (history, "Locust, rounded")
    if origin is None:
        latency_rows, history = [], []
        origin = 0.0
    latency_series = [
        _series(latency_rows, origin, label, key)
        for label, key in (("p50", "p50_ms"), ("p95", "p95_ms"))
    ]
    throughput_series = [
        _series(history, origin, label, key)
        for label, key in (
            ("requests/s", "rps"),
            ("failures/s", "failures_per_s"),
            ("users", "users"),
        )
    ]
    ends = [x for one in latency_series + throughput_series for x, _ in one.points]
    domain = (0.0, max(ends)) if ends else None
    x_label = "time since the first measurement, s"
    latency = line_chart(
        latency_series,
        title=f"Response time ({source})",
        x_label=x_label,
        y_label=f"ms, {CLOCK_WORDS.get(clock or '', 'per request')}" if exact else "ms (Locust)",
        x_domain=domain,
    )
    throughput = line_chart(
        throughput_series,
        title="Throughput (Locust)",
        x_label=x_label,
        y_label="requests/s, failures/s, users",
        x_domain=domain,
    )
    return {"latency": Markup(latency), "throughput": Markup(throughput)}


def trend_sparklines(trend: Mapping[str, Any]) -> dict[str, Markup]:
    """One sparkline per endpoint's p95 across runs, and one for the rules held."""
    lines = {
        name: Markup(sparkline(values, label=f"p95 of {name} across runs"))
        for name, values in trend.get("p95_series", {}).items()
    }
    lines["rules passed"] = Markup(
        sparkline(trend.get("rules_passed_series", []), label="rules held across runs")
    )
    return lines


#: The banner names at most this many broken rules and breached gates; the tables below, broken
#: first, have the rest.
BANNER_NAMES = 6


def banner(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What the verdict banner says: the broken rules and breached gates by name, why a run that
    could not judge did not, and the counts (rules held, not exercised...; load gates met)."""
    broken = rules_in(summary, Verdict.FAIL)
    breached = breached_gates(summary)
    return {
        "why": unexplained_reason(summary),
        "broken": broken[:BANNER_NAMES],
        "more_broken": max(0, len(broken) - BANNER_NAMES),
        "breached": breached[:BANNER_NAMES],
        "more_breached": max(0, len(breached) - BANNER_NAMES),
        "rule_counts": rule_counts(summary["totals"]["rules"]),
        "gate_counts": gate_counts(summary),
    }


def render_html(summary: Mapping[str, Any], trend: Mapping[str, Any]) -> str:
    """The page for one run's `summary` (see `summary.build_run_summary`) and its `trend`."""
    template = _environment().get_template("report.html")
    return template.render(
        s=summary,
        trend=trend,
        banner=banner(summary),
        rules=rules_by_attention(summary.get("rules") or []),
        charts=history_charts(
            summary.get("history") or [],
            summary.get("timeline") or [],
            (summary.get("load_notes") or {}).get("latency_clock"),
        ),
        sparklines=trend_sparklines(trend),
    )

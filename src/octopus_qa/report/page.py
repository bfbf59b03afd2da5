"""The run's HTML page: one self-contained file, readable from disk with no network.

Jinja2 renders `templates/report.html` with autoescaping on, so anything that came from the
target (test messages, endpoint names, error text) is escaped; the only markup inserted as it is
comes from `charts`, which escapes its own labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from jinja2 import ChainableUndefined, Environment, PackageLoader
from markupsafe import Markup

from ..verdicts import Verdict
from .charts import Series, line_chart, sparkline

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
    env.globals["verdict_words"] = VERDICT_WORDS
    return env


def format_number(value: Any) -> str:
    """A measured number as people read it: 3 significant digits, no float noise; text as is."""
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


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


def history_charts(history: Sequence[Mapping[str, Any]]) -> dict[str, Markup]:
    """The load run over time: latency percentiles, and throughput with the user count."""
    rows = [h for h in history if isinstance(h.get("t"), int | float)]
    start = rows[0]["t"] if rows else 0.0

    def series(label: str, key: str) -> Series:
        return Series(
            label,
            [
                (float(h["t"]) - start, float(h[key]))
                for h in rows
                if isinstance(h.get(key), int | float)
            ],
        )

    domain = (0.0, max(float(h["t"]) for h in rows) - start) if rows else None
    latency = line_chart(
        [series("p50", "p50_ms"), series("p95", "p95_ms")],
        title="Response time over the run",
        x_label="seconds since start",
        y_label="milliseconds",
        x_domain=domain,
    )
    throughput = line_chart(
        [
            series("requests/s", "rps"),
            series("failures/s", "failures_per_s"),
            series("users", "users"),
        ],
        title="Throughput over the run",
        x_label="seconds since start",
        y_label="per second / users",
        x_domain=domain,
    )
    return {"latency": Markup(latency), "throughput": Markup(throughput)}


def trend_sparklines(trend: Mapping[str, Any]) -> dict[str, Markup]:
    """One sparkline per endpoint's p95 across runs, and one for the rules passed."""
    lines = {
        name: Markup(sparkline(values, label=f"p95 of {name} across runs"))
        for name, values in trend.get("p95_series", {}).items()
    }
    lines["rules passed"] = Markup(
        sparkline(trend.get("rules_passed_series", []), label="rules passed across runs")
    )
    return lines


def headline(summary: Mapping[str, Any]) -> str:
    """One sentence under the verdict: why it is what it is."""
    totals = summary["totals"]
    failed_rules = totals["rules"]["fail"]
    gates = totals["gates"]
    breached = gates["total"] - gates["passed"]
    if summary["verdict"] == Verdict.PASS:
        return (
            f"Every stage held: {totals['rules']['pass']} rules passed, "
            f"{gates['passed']}/{gates['total']} load gates met."
        )
    parts = []
    if summary.get("reason") and summary["verdict"] != "fail":
        parts.append(str(summary["reason"]))
    if failed_rules:
        parts.append(f"{failed_rules} rule{'s' if failed_rules != 1 else ''} failed")
    if breached:
        parts.append(f"{breached} load gate{'s' if breached != 1 else ''} breached")
    not_passing = [s["name"] for s in summary["stages"] if s["verdict"] != "pass"]
    if not_passing and not parts:
        parts.append("stages not passing: " + ", ".join(not_passing))
    return "; ".join(parts) + "."


def render_html(summary: Mapping[str, Any], trend: Mapping[str, Any]) -> str:
    """The page for one run's `summary` (see `summary.build_run_summary`) and its `trend`."""
    template = _environment().get_template("report.html")
    return template.render(
        s=summary,
        trend=trend,
        headline=headline(summary),
        charts=history_charts(summary.get("history") or []),
        sparklines=trend_sparklines(trend),
    )

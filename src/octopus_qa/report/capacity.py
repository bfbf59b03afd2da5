"""The page of an `octoqa capacity` search: the verdict, latency against offered rate, the steps.

One self-contained HTML file beside the search's summary.json (`<run>/capacity/index.html`),
with the same inline SVG charts as the run report (`charts.py`): no script, opens from disk.
With a baseline, a second chart draws this search's curve and the baseline's on one axis, and
the capacity gate's answer is shown with the gates broken at the previous capacity.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from .charts import Series, line_chart

PAGE = "index.html"
#: The percentiles charted against the offered rate (from the intended start).
CHARTED = (("p50", "p50_ms"), ("p90", "p90_ms"), ("p99", "p99_ms"), ("p99.9", "p999_ms"))


def _series(label: str, steps: list[Mapping[str, Any]], key: str, clock: str = "latency") -> Series:
    """One percentile of the steps against their offered rate (steps without it left out)."""
    points = [
        (float(step["rate_rps"]), float(step[clock][key]))
        for step in steps
        if step.get(clock) and isinstance(step[clock].get(key), int | float)
    ]
    return Series(label, points)


def latency_chart(steps: list[Mapping[str, Any]]) -> str:
    return line_chart(
        [
            *(_series(label, steps, key) for label, key in CHARTED),
            _series("p99 sent", steps, "p99_ms", "service"),
        ],
        title="Latency against offered rate",
        x_label="offered rate, req/s",
        y_label="milliseconds",
        width=720,
        height=300,
    )


def baseline_chart(steps: list[Mapping[str, Any]], before: list[Mapping[str, Any]]) -> str:
    """This search's p50 and p99 and the baseline's, on one axis: the two curves."""
    ordered = sorted(before, key=lambda s: float(s["rate_rps"]))
    return line_chart(
        [
            _series("p50 now", steps, "p50_ms"),
            _series("p99 now", steps, "p99_ms"),
            _series("p50 then", ordered, "p50_ms"),
            _series("p99 then", ordered, "p99_ms"),
        ],
        title="This search (now) and the baseline",
        x_label="offered rate, req/s",
        y_label="milliseconds",
        width=720,
        height=300,
    )


def _baseline_section(baseline: Mapping[str, Any], steps: list[Mapping[str, Any]]) -> str:
    """The capacity gate: its answer, the two capacities, and what broke at the previous one."""
    change, tolerance = baseline.get("change"), baseline.get("tolerance")
    facts = (
        f"baseline {escape(str(baseline.get('summary')))}: capacity "
        f"{_cell(baseline.get('capacity_rps'))} req/s; change "
        f"{'-' if change is None else f'{change:+.1%}'}; tolerance "
        f"{'-' if tolerance is None else f'{tolerance:.0%}'}; gate: "
        f"{escape(str(baseline.get('verdict')))}"
    )
    at = baseline.get("at_previous_capacity") or {}
    broken = "".join(
        "<tr>"
        + "".join(
            f"<td>{_cell(gate.get(key))}</td>"
            for key in ("endpoint", "metric", "measured", "comparison", "limit")
        )
        + "</tr>"
        for gate in at.get("gates_broken") or []
    )
    at_previous = (
        f"<p>The step at the previous capacity ({_cell(at.get('rate_rps'))} req/s): "
        f"{escape(str(at.get('verdict')))}.</p>"
        if at
        else ""
    )
    table = (
        "<table><thead><tr><th>endpoint</th><th>metric</th><th>measured</th><th>must be</th>"
        f"<th>limit</th></tr></thead><tbody>{broken}</tbody></table>"
        if broken
        else ""
    )
    return f"""<h2 id="baseline">Against the baseline</h2>
<p class="verdict">{escape(str(baseline.get("sentence", "")))}</p>
<p>{facts}</p>
{baseline_chart(steps, list(baseline.get("steps") or []))}
{at_previous}{table}"""


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return escape(str(value))


def _bottleneck_section(named: Mapping[str, Any] | None) -> str:
    """What the steps' concurrency says: the findings, whose latency grew first, and per
    endpoint the fit against its own in-flight count (loadtest/bottleneck.py)."""
    if not named:
        return ""
    said = "".join(f"<li>{escape(str(finding))}</li>" for finding in named.get("findings") or [])
    grew = named.get("grew_first")
    if grew:
        said += (
            f"<li>the latency of {escape(str(grew['endpoint']))} grew first with the rate: p50 "
            f"{_cell(grew['lightest_p50_ms'])} ms at the lightest step, {_cell(grew['p50_ms'])} "
            f"ms at {_cell(grew['rate_rps'])} req/s</li>"
        )
    rows = []
    for key, entry in sorted((named.get("endpoints") or {}).items()):
        fit, model = entry.get("fit") or {}, entry.get("usl") or {}
        split = entry.get("errors_under_concurrency")
        cells = (
            escape(key),
            _cell(entry.get("requests")),
            _cell(fit.get("alone_ms")),
            _cell(fit.get("per_own_ms")),
            _cell(fit.get("per_other_ms")),
            _cell(model.get("sigma")),
            _cell(model.get("kappa")),
            _cell(model.get("peak_rps")),
            "yes" if entry.get("serialises") else "no",
            f"above {split['above']}: {split['rate_above']:.1%}" if split else "-",
        )
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    header = "".join(
        f"<th>{escape(h)}</th>"
        for h in (
            "endpoint", "requests", "alone ms", "ms per own in flight", "ms per other in flight",
            "USL sigma", "USL kappa", "peak req/s", "serialises", "fails under concurrency",
        )
    )  # fmt: skip
    return f"""<h2>Bottleneck</h2>
<ul>{said or "<li>no endpoint serialises or fails under concurrency</li>"}</ul>
<table><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>
<p>Latency against each endpoint's own requests in flight when it was sent, over the steps the
generator kept up with (docs/capacity.md, Bottleneck).</p>"""


def render(summary: Mapping[str, Any]) -> str:
    steps = sorted(summary.get("steps") or [], key=lambda s: float(s["rate_rps"]))
    rows = []
    for step in steps:
        latency = step.get("latency") or {}
        error_rate = step.get("error_rate")
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{cell}</td>"
                for cell in (
                    _cell(step["rate_rps"]),
                    _cell(step["achieved_rps"]),
                    _cell(step["users"]),
                    escape(step["verdict"]),
                    *(_cell(latency.get(key)) for _, key in CHARTED),
                    _cell(latency.get("max_ms")),
                    "-" if error_rate is None else f"{error_rate:.2%}",
                    escape(", ".join(step.get("failed_gates") or []) or "-"),
                    escape("; ".join(step.get("generator_problems") or []) or "-"),
                )
            )
            + "</tr>"
        )
    broke = "".join(
        f"<tr><td>{escape(gate)}</td><td>{_cell(rate)}</td></tr>"
        for gate, rate in sorted((summary.get("broke_at") or {}).items(), key=lambda i: i[1])
    )
    header = "".join(
        f"<th>{escape(h)}</th>"
        for h in (
            "offered req/s", "achieved req/s", "users", "verdict",
            *(label for label, _ in CHARTED), "max", "errors", "gates broken", "generator",
        )
    )  # fmt: skip
    baseline = summary.get("baseline")
    facts = (
        f"capacity {_cell(summary.get('capacity_rps'))} req/s; limit: "
        f"{escape(str(summary.get('limit')))}; knee {_cell(summary.get('knee_rps'))} req/s "
        "(the highest rate whose p99 stayed within twice the lightest step's)"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>octoqa capacity</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:72em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:right}}
.verdict{{font-size:1.3em;font-weight:600}}</style></head><body>
<h1>Capacity</h1>
<p class="verdict">{escape(str(summary.get("verdict", "")))}</p>
<p>{facts}</p>
{latency_chart(steps)}
{_baseline_section(baseline, steps) if baseline else ""}
<h2>Steps</h2>
<table><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>
{_bottleneck_section(summary.get("bottleneck"))}
<h2>Where each gate broke</h2>
<table><thead><tr><th>gate</th><th>first broken at, req/s</th></tr></thead>
<tbody>{broke or '<tr><td colspan="2">no gate broke</td></tr>'}</tbody></table>
<p>Each step is an open-model run of the load scenario's mix; its own reports (Locust HTML and
CSV, summary.json) are in the step's folder. Latencies are exact (HDR histograms) and measured
from each request's intended start.</p>
</body></html>
"""


def write_capacity_page(summary: Mapping[str, Any], directory: Path) -> Path:
    path = directory / PAGE
    path.write_text(render(summary), encoding="utf-8")
    return path

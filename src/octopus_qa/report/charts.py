"""Line charts and sparklines as inline SVG, so the report opens from disk with no script or CDN.

Small on purpose: linear axes ticked at round numbers (1, 2 or 5 × 10^n apart), the y axis from
zero, one polyline per series with a dot per point, a legend. Every label is escaped here,
because the callers insert the markup into the page as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

#: Colours that stay apart for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 28, 40
#: Past this many points a dot per point only blurs the line.
MAX_DOTS = 120
#: Room for one legend entry, right-aligned on the title line above the plot.
LEGEND_WIDTH = 84

Scale = Callable[[float], float]


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[float, float]]


#: An axis is cut into at most this many intervals by its ticks.
MAX_INTERVALS = 6


def nice_step(span: float, max_intervals: int = MAX_INTERVALS) -> float:
    """The smallest of 1, 2, 5 × 10^n that cuts `span` into at most `max_intervals` pieces."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max_intervals
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= raw * 0.999999)


def nice_ticks(low: float, high: float, max_intervals: int = MAX_INTERVALS) -> list[float]:
    """Round ticks from a multiple of the step at or below `low` to one at or above `high`:
    the axis runs from the first tick to the last, so both ends are labelled."""
    step = nice_step(high - low, max_intervals)
    first = math.floor(low / step + 1e-9)
    last = max(math.ceil(high / step - 1e-9), first + 1)
    return [round(k * step, 12) for k in range(first, last + 1)]


def format_tick(value: float) -> str:
    """A tick label without needless decimals: 0, 2.5, 1500, 0.25."""
    return f"{value:.6g}"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 560,
    height: int = 260,
    x_domain: tuple[float, float] | None = None,
) -> str:
    """An SVG line chart of `series` (x, y) points; a chart with no points says so in words.

    `x_domain` fixes the x axis, so that charts of the same run line up second by second; both
    axes are widened to the round ticks around their data (`nice_ticks`).
    """
    label = escape(title)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-label="{label}" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f"<title>{label}</title>"
    )
    points = [p for s in series for p in s.points if all(map(math.isfinite, p))]
    if not points:
        return (
            f'{head}<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="empty">'
            f"{label}: no data</text></svg>"
        )
    x_ticks = nice_ticks(*(x_domain or (min(x for x, _ in points), max(x for x, _ in points))))
    y_ticks = nice_ticks(0.0, max(y for _, y in points))
    x_min, x_span = x_ticks[0], x_ticks[-1] - x_ticks[0]
    y_top = y_ticks[-1]
    plot_w = width - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM

    def sx(x: float) -> float:
        return MARGIN_LEFT + (x - x_min) / x_span * plot_w

    def sy(y: float) -> float:
        return MARGIN_TOP + plot_h - y / y_top * plot_h

    parts = [head, f'<text x="{MARGIN_LEFT}" y="16" class="chart-title">{label}</text>']
    parts += _axes(sx, sy, x_ticks, y_ticks, width, height, x_label, y_label)
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        mine = [p for p in one.points if all(map(math.isfinite, p))]
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in mine)
        parts.append(
            f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{coords}"><title>{escape(one.label)}</title></polyline>'
        )
        if len(mine) <= MAX_DOTS:
            parts += [
                f'<circle class="point" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" '
                f'fill="{colour}"><title>{escape(one.label)}: {format_tick(y)} at '
                f"{format_tick(x)}</title></circle>"
                for x, y in mine
            ]
        legend_x = width - MARGIN_RIGHT - (len(series) - index) * LEGEND_WIDTH
        parts.append(
            f'<rect x="{legend_x}" y="9" width="12" height="4" fill="{colour}"/>'
            f'<text x="{legend_x + 16}" y="15" class="legend">{escape(one.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _axes(
    sx: Scale,
    sy: Scale,
    x_ticks: Sequence[float],
    y_ticks: Sequence[float],
    width: int,
    height: int,
    x_label: str,
    y_label: str,
) -> list[str]:
    """Gridlines, ticks and axis titles (the scales and ticks come from `line_chart`)."""
    parts = []
    bottom = height - MARGIN_BOTTOM
    for y in y_ticks:
        parts.append(
            f'<line class="grid" x1="{MARGIN_LEFT}" x2="{width - MARGIN_RIGHT}" '
            f'y1="{sy(y):.1f}" y2="{sy(y):.1f}"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{sy(y) + 4:.1f}" text-anchor="end" class="tick">'
            f"{format_tick(y)}</text>"
        )
    for x in x_ticks:
        parts.append(
            f'<line class="tick-mark" x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{bottom}" '
            f'y2="{bottom + 4}"/>'
            f'<text x="{sx(x):.1f}" y="{bottom + 16}" text-anchor="middle" class="tick">'
            f"{format_tick(x)}</text>"
        )
    parts.append(
        f'<line class="axis" x1="{MARGIN_LEFT}" x2="{width - MARGIN_RIGHT}" '
        f'y1="{bottom}" y2="{bottom}"/>'
        f'<line class="axis" x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT}" y1="{MARGIN_TOP}" '
        f'y2="{bottom}"/>'
        f'<text x="{(MARGIN_LEFT + width - MARGIN_RIGHT) / 2}" y="{height - 6}" '
        f'text-anchor="middle" class="axis-title">{escape(x_label)}</text>'
        f'<text x="14" y="{(MARGIN_TOP + bottom) / 2}" text-anchor="middle" class="axis-title" '
        f'transform="rotate(-90 14 {(MARGIN_TOP + bottom) / 2})">{escape(y_label)}</text>'
    )
    return parts


def sparkline(
    values: Sequence[float | None], *, label: str, width: int = 120, height: int = 28
) -> str:
    """A tiny SVG trend of `values` (oldest first); missing values are skipped, not zero."""
    known = [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" role="img" '
        f'aria-label="{escape(label)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}"><title>{escape(label)}</title>'
    )
    if not known:
        return f"{head}</svg>"
    top = max(v for _, v in known) or 1.0
    step = (width - 6) / max(len(values) - 1, 1)

    def at(i: int, v: float) -> tuple[float, float]:
        return 3 + i * step, height - 3 - v / top * (height - 6)

    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (at(i, v) for i, v in known))
    last_x, last_y = at(*known[-1])
    return (
        f'{head}<polyline class="series" fill="none" stroke="{PALETTE[0]}" stroke-width="1.5" '
        f'points="{coords}"/><circle class="point" cx="{last_x:.1f}" cy="{last_y:.1f}" r="2.5" '
        f'fill="{PALETTE[1]}"/></svg>'
    )

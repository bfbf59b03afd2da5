"""The run report: `index.html`, `summary.json` and `summary.md` in the run's folder.

`write_report(run_dir, run, secrets=...)` is the whole public surface: it scrubs secrets from
what the stages wrote, reads their summaries back, joins them with the rule catalogue and the
trend of earlier runs, writes the three files and scrubs once more. It can be pointed at any run
folder, so a report can be rebuilt (or tested) from the stages' summaries alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .markdown import render_markdown
from .page import render_html
from .redact import leaks, redact_tree
from .summaries import to_builtins, write_summary
from .summary import EXIT_CODES, build_run_summary, read_stage_summary, worst_verdict
from .trend import build_trend

__all__ = [
    "EXIT_CODES",
    "DEFAULT_TREND_RUNS",
    "leaks",
    "read_stage_summary",
    "redact_tree",
    "worst_verdict",
    "write_report",
]

DEFAULT_TREND_RUNS = 10


def write_report(
    run_dir: Path,
    run: Mapping[str, Any],
    *,
    secrets: Iterable[str] = (),
    trend_runs: int = DEFAULT_TREND_RUNS,
) -> dict[str, Any]:
    """Write the report of the run in `run_dir`; returns the run summary (what summary.json holds).

    `run` carries what only the pipeline knows: run_id, target, embedded, profile, seed,
    spec_version, started, duration_s, and `stages` (name, verdict, exit_code, duration_s,
    reason, log). Everything else is read from the stages' own summaries.
    """
    secrets = tuple(secrets)
    redact_tree(run_dir, secrets)
    typed = build_run_summary(run_dir, run)
    summary = to_builtins(typed)
    trend = build_trend(run_dir, summary, trend_runs)
    write_summary(run_dir / "summary.json", typed)
    (run_dir / "summary.md").write_text(render_markdown(summary), encoding="utf-8")
    (run_dir / "index.html").write_text(render_html(summary, trend), encoding="utf-8")
    redact_tree(run_dir, secrets)
    return summary

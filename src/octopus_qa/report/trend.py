"""How the last runs moved: p95 latency per endpoint and pass counts, read from earlier summaries.

Each run's own `summary.json` is the record; nothing else is kept between runs. A summary that
cannot be read (an older format, a crashed run) is left out rather than shown as zeros.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..rundir import earlier_run_dirs

#: The p95 table has a column per run: past this many, only the latest (the sparkline shows all),
#: so that the table fits the page's column however many runs `trend_runs` compares.
MAX_RUN_COLUMNS = 10


def _read_summary(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("stage") != "run":
        return None
    return data


def trend_row(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The few numbers of one run that the trend compares."""
    totals = summary.get("totals") or {}
    contract = totals.get("contract") or {}
    rules = totals.get("rules") or {}
    gates = totals.get("gates") or {}
    return {
        "run_id": summary.get("run_id"),
        "verdict": summary.get("verdict"),
        "started": summary.get("started"),
        "profile": summary.get("profile"),
        "contract_passed": contract.get("passed"),
        "contract_failed": contract.get("failed"),
        "rules_passed": rules.get("pass"),
        "rules_failed": rules.get("fail"),
        "gates_passed": gates.get("passed"),
        "gates_total": gates.get("total"),
        "p95_ms": {
            name: stats.get("p95_ms")
            for name, stats in (summary.get("endpoints") or {}).items()
            if isinstance(stats, Mapping)
        },
    }


def build_trend(run_dir: Path, current: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """The last `limit` runs (this one included, oldest first, numbered from 1) and the
    endpoints they measured; `columns` are the runs the p95 table has a column for."""
    earlier = [s for s in map(_read_summary, earlier_run_dirs(run_dir, limit - 1)) if s]
    rows = [trend_row(s) for s in earlier] + [trend_row(current)]
    for number, row in enumerate(rows, start=1):
        row["number"] = number
    endpoints = sorted({name for row in rows for name in row["p95_ms"]})
    return {
        "rows": rows,
        "columns": rows[-MAX_RUN_COLUMNS:],
        "endpoints": endpoints,
        "p95_series": {name: [row["p95_ms"].get(name) for row in rows] for name in endpoints},
        "rules_passed_series": [row["rules_passed"] for row in rows],
    }

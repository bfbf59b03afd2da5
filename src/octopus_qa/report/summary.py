"""The facts of one run, gathered from what each stage wrote, as one JSON-ready dict.

The stages write their own `summary.json` (formats in the team briefing); this module reads them
back and joins them with the rule catalogue, so that the HTML page, `summary.md` and the trend of
later runs all read the same facts. A stage that wrote nothing leaves its part empty and its rules
"untested": nothing here turns a missing result into a pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..rules import RULES

#: Stage verdicts, worst last: a run is as bad as its worst stage. "incomplete" is a stage that
#: held in everything it could check but skipped a check it could not run here (the OpenAPI
#: linter without node): not a failure, and never reported as a pass.
VERDICTS = ("pass", "incomplete", "fail", "not run", "error")
#: "deviation": the rule failed only where deviations.toml says it is known to (its own verdict).
RULE_STATUSES = ("pass", "fail", "deviation", "skip", "untested")
#: What each verdict means for `octoqa run`'s exit code (0 all holds, 1 failed, 2 could not run).
EXIT_CODES: Mapping[str, int] = {"pass": 0, "incomplete": 0, "fail": 1, "not run": 2, "error": 2}
HEADLINE_LENGTH = 300


def read_stage_summary(run_dir: Path, stage: str) -> dict[str, Any] | None:
    """`<run>/<stage>/summary.json` as a dict, or None when it is missing or not a JSON object."""
    path = run_dir / stage / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def worst_verdict(verdicts: Sequence[str]) -> str:
    """The run's verdict: "pass" only when every stage passed; unknown verdicts count as errors."""
    rank = {verdict: index for index, verdict in enumerate(VERDICTS)}
    worst = max((rank.get(v, len(VERDICTS) - 1) for v in verdicts), default=len(VERDICTS) - 1)
    return VERDICTS[worst]


def failure_headline(message: str, rule_id: str) -> str:
    """The line of a test's failure text a reader needs first.

    Rule checks fail with `[rule-id] title: detail`; pytest's long form buries that under the
    source listing, so the line naming the rule wins, then pytest's `E` lines, then the last line.
    """
    lines = [line.strip(" |\t") for line in message.splitlines() if line.strip(" |\t")]
    detailed = re.compile(rf"\[{re.escape(rule_id)}\] +[^\[\s]")
    for line in lines:
        found = detailed.search(line)
        if found:  # `[rule-id] title: detail`, not a list of rule ids
            return line[found.start() :][:HEADLINE_LENGTH]
    naming = next((line for line in lines if f"[{rule_id}]" in line), None)
    if naming is not None:
        return naming[:HEADLINE_LENGTH]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    if errors:
        return " ".join(errors)[:HEADLINE_LENGTH]
    return (lines[-1] if lines else "")[:HEADLINE_LENGTH]


def rules_table(
    contract: Mapping[str, Any] | None, load: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """Every rule of the catalogue with what the contract suite and the load run found about it.

    A rule the contract suite did not report is "untested"; a rule broken under load fails even
    when the contract suite passed it, because the load run saw a response that breaks it.
    """
    contract_rules = (contract or {}).get("rules") or {}
    violations = (load or {}).get("rule_violations") or {}
    table = []
    for rule in RULES.values():
        found = contract_rules.get(rule.id) or {}
        status = found.get("status") if found.get("status") in RULE_STATUSES else "untested"
        under_load = int(violations.get(rule.id) or 0)
        if under_load:
            status = "fail"
        table.append(
            {
                "id": rule.id,
                "title": rule.title,
                "basis": rule.basis,
                "source": rule.source,
                "quote": rule.quote,
                "assumption": list(rule.assumption),
                "status": status,
                "tests": [
                    {**test, "headline": failure_headline(str(test.get("message") or ""), rule.id)}
                    for test in found.get("tests") or []
                    if isinstance(test, Mapping)
                ],
                "load_violations": under_load,
            }
        )
    return table


def count_statuses(rules: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many rules ended in each status."""
    counts = dict.fromkeys(RULE_STATUSES, 0)
    for rule in rules:
        counts[rule["status"]] += 1
    return counts


def coverage_table(contract: Mapping[str, Any] | None) -> dict[str, Any]:
    """Operations × status codes: which declared statuses the contract suite saw come back."""
    operations: list[dict[str, Any]] = []
    declared_pairs = seen_pairs = 0
    for entry in ((contract or {}).get("coverage") or {}).get("operations") or []:
        declared = sorted({str(s) for s in entry.get("declared") or []})
        seen = sorted({str(s) for s in entry.get("seen") or []})
        operations.append(
            {
                "method": str(entry.get("method", "")).upper(),
                "path": str(entry.get("path", "")),
                "declared": declared,
                "seen": seen,
                "missing": [s for s in declared if s not in seen],
                "undeclared": [s for s in seen if s not in declared],
            }
        )
        declared_pairs += len(declared)
        seen_pairs += len(set(declared) & set(seen))
    return {
        "operations": operations,
        "declared": declared_pairs,
        "seen": seen_pairs,
        "percent": round(100.0 * seen_pairs / declared_pairs, 1) if declared_pairs else None,
        "statuses": sorted({s for op in operations for s in op["declared"] + op["seen"]}),
    }


def artifacts_list(
    run_dir: Path, summaries: Mapping[str, Mapping[str, Any] | None]
) -> list[dict[str, Any]]:
    """Every artifact a stage named, as a path relative to the run folder, and whether it exists.

    A `csv_prefix` (Locust) names several files: each CSV file written under it is listed.
    """
    found: list[dict[str, Any]] = []
    for stage, summary in summaries.items():
        named = (summary or {}).get("artifacts")
        if not isinstance(named, Mapping):
            continue  # none, or not in the briefing's format: nothing to link
        for label, relative in named.items():
            relative = str(relative)
            if label.endswith("_prefix"):
                prefix = run_dir / relative
                for path in sorted(prefix.parent.glob(prefix.name + "*.csv")):
                    found.append(_artifact(run_dir, stage, path.name, path))
                continue
            found.append(_artifact(run_dir, stage, label, run_dir / relative))
    return found


def _artifact(run_dir: Path, stage: str, label: str, path: Path) -> dict[str, Any]:
    try:
        relative = path.resolve().relative_to(run_dir.resolve()).as_posix()
    except ValueError:
        relative = None  # outside the run folder: named, never linked
    return {
        "stage": stage,
        "label": label,
        "path": relative or str(path),
        "exists": relative is not None and path.is_file(),
    }


def build_run_summary(run_dir: Path, run: Mapping[str, Any]) -> dict[str, Any]:
    """The run's summary: `run` (the pipeline's facts: id, target, stages...) joined with the
    stages' own summaries read from `run_dir`."""
    spec = read_stage_summary(run_dir, "spec")
    contract = read_stage_summary(run_dir, "contract")
    load = read_stage_summary(run_dir, "load")
    rules = rules_table(contract, load)
    stages = [dict(stage) for stage in run.get("stages", [])]
    verdict = worst_verdict([stage["verdict"] for stage in stages])
    gates = list((load or {}).get("gates") or [])
    return {
        "stage": "run",
        "run_id": run.get("run_id", run_dir.name),
        "verdict": verdict,
        "exit_code": EXIT_CODES[verdict],
        "reason": next(
            (f"{s['name']}: {s.get('reason')}" for s in stages if s["verdict"] == verdict), None
        )
        if verdict != "pass"
        else None,
        "target": run.get("target"),
        "embedded": bool(run.get("embedded")),
        "profile": run.get("profile"),
        "seed": run.get("seed"),
        "spec_version": run.get("spec_version"),
        "started": run.get("started"),
        "duration_s": run.get("duration_s"),
        "stages": stages,
        "spec_checks": list((spec or {}).get("checks") or []),
        "rules": rules,
        "totals": {
            "rules": count_statuses(rules),
            "contract": dict((contract or {}).get("totals") or {}),
            "gates": {
                "passed": sum(1 for g in gates if g.get("verdict") == "pass"),
                "total": len(gates),
            },
        },
        "gates": gates,
        "deviations": (contract or {}).get("deviations"),
        "coverage": coverage_table(contract),
        "endpoints": dict((load or {}).get("endpoints") or {}),
        "history": list((load or {}).get("history") or []),
        "load_notes": {
            "rate_limited": (load or {}).get("rate_limited"),
            "cpu_warning": bool((load or {}).get("cpu_warning")),
        },
        "artifacts": artifacts_list(
            run_dir, {"spec": spec, "contract": contract, "load": load, "run": run}
        ),
    }

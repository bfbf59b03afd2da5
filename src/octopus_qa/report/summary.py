"""The facts of one run, gathered from what each stage wrote, as one JSON-ready dict.

The stages write their own `summary.json` (typed in `report.summaries`); this module reads
them back and joins them with the rule catalogue, so that the HTML page, `summary.md` and the
trend of later runs all read the same facts. A stage that wrote nothing (or nothing this octoqa
can read) leaves its part empty and its rules "untested": nothing here turns a missing result
into a pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from ..rules import RULES
from ..verdicts import Verdict
from .summaries import (
    ContractSummary,
    LoadSummary,
    OperationCoverage,
    RuleResult,
    RunSummary,
    SpecSummary,
    StageEntry,
    StageSummary,
    SummaryUnreadable,
    read_stage,
)

#: Stage verdicts, worst last: a run is as bad as its worst stage. "incomplete" is a stage that
#: held in everything it could check but skipped a check it could not run here (the OpenAPI
#: linter without node): not a failure, and never reported as a pass.
VERDICTS = (Verdict.PASS, Verdict.INCOMPLETE, Verdict.FAIL, Verdict.NOT_RUN, Verdict.ERROR)
#: "deviation": the rule failed only where deviations.toml says it is known to (its own verdict).
RULE_STATUSES = (Verdict.PASS, Verdict.FAIL, Verdict.DEVIATION, Verdict.SKIP, Verdict.UNTESTED)
#: What each verdict means for `octoqa run`'s exit code (0 all holds, 1 failed, 2 could not run).
EXIT_CODES: Mapping[str, int] = {
    Verdict.PASS: 0,
    Verdict.INCOMPLETE: 0,
    Verdict.FAIL: 1,
    Verdict.NOT_RUN: 2,
    Verdict.ERROR: 2,
}
HEADLINE_LENGTH = 300


def read_stage_summary(run_dir: Path, stage: str) -> StageSummary | None:
    """`<run>/<stage>/summary.json`, typed; None when it is missing or not a summary of this
    schema_version (nothing half-read: its part of the report stays empty, its rules untested)."""
    try:
        return read_stage(run_dir / stage / "summary.json", stage)
    except SummaryUnreadable:
        return None


def worst_verdict(verdicts: Sequence[str]) -> Verdict:
    """The run's verdict: "pass" only when every stage passed; unknown verdicts count as errors."""
    rank: dict[str, int] = {verdict: index for index, verdict in enumerate(VERDICTS)}
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


def rules_table(contract: ContractSummary | None, load: LoadSummary | None) -> list[dict[str, Any]]:
    """Every rule of the catalogue with what the contract suite and the load run found about it.

    A rule the contract suite did not report is "untested", with the reason; a rule broken under
    load fails even when the contract suite passed it, because the load run saw a response that
    breaks it. `exchanges` and `tests_applied` are the evidence behind the status (0 when the
    contract stage recorded none).
    """
    contract_rules = contract.rules if contract else {}
    violations = load.rule_violations if load else {}
    table = []
    for rule in RULES.values():
        found = contract_rules.get(rule.id)
        status = found.status if found and found.status in RULE_STATUSES else Verdict.UNTESTED
        under_load = int(violations.get(rule.id) or 0)
        if under_load:
            status = Verdict.FAIL
        table.append(
            {
                "id": rule.id,
                "title": rule.title,
                "basis": rule.basis,
                "source": rule.source,
                "quote": rule.quote,
                "assumption": list(rule.assumption),
                "status": status,
                "exchanges": found.exchanges if found else 0,
                "tests_applied": found.tests_applied if found else 0,
                "reason": _untested_reason(contract, found) if status == Verdict.UNTESTED else "",
                "tests": [
                    {
                        "nodeid": test.nodeid,
                        "outcome": test.outcome,
                        "message": test.message,
                        "headline": failure_headline(test.message, rule.id),
                    }
                    for test in (found.tests if found else [])
                ],
                "load_violations": under_load,
            }
        )
    return table


def _untested_reason(contract: ContractSummary | None, found: RuleResult | None) -> str:
    """Why a rule is untested: the contract stage's own reason, else what this report can tell."""
    if contract is None:
        return "the contract stage left no summary this report can read"
    if found is None:
        return "no contract test reported on it"
    if found.status not in RULE_STATUSES:
        return f"the contract stage reported an unknown status {found.status!r}"
    return found.reason


def count_statuses(rules: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many rules ended in each status."""
    counts: dict[str, int] = dict.fromkeys(RULE_STATUSES, 0)
    for rule in rules:
        counts[rule["status"]] += 1
    return counts


def coverage_table(contract: ContractSummary | None) -> dict[str, Any]:
    """Operations × status codes: which declared statuses the contract suite saw come back.

    A declared status nobody saw is "not seen" (`missing`), which is no failure: a 500 or a 429
    the target never had a reason to send is declared all the same. The methods the spec does not
    declare (the coverage phase tries DELETE, TRACE, QUERY ... on every path) are folded into one
    entry per path, `other_methods`, naming what each status was answered to.
    """
    operations: list[dict[str, Any]] = []
    others: dict[str, list[OperationCoverage]] = {}
    declared_pairs = seen_pairs = 0
    for entry in contract.coverage.operations if contract else []:
        declared = sorted({str(s) for s in entry.declared})
        seen = sorted({str(s) for s in entry.seen})
        if not declared:
            others.setdefault(entry.path, []).append(entry)
            continue
        operations.append(
            {
                "method": entry.method.upper(),
                "path": entry.path,
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
        "other_methods": [_other_methods(path, entries) for path, entries in others.items()],
        "declared": declared_pairs,
        "seen": seen_pairs,
        "percent": round(100.0 * seen_pairs / declared_pairs, 1) if declared_pairs else None,
        "statuses": sorted({s for op in operations for s in op["declared"] + op["seen"]}),
    }


def _other_methods(path: str, entries: Sequence[OperationCoverage]) -> dict[str, Any]:
    """One path's undeclared methods: which were tried, and each status with the methods it
    answered (a method answered two ways is under both)."""
    answered: dict[str, set[str]] = {}
    for entry in entries:
        for status in entry.seen:
            answered.setdefault(str(status), set()).add(entry.method.upper())
    return {
        "path": path,
        "methods": sorted({entry.method.upper() for entry in entries}),
        "answers": [
            {"status": status, "methods": sorted(methods)}
            for status, methods in sorted(answered.items())
        ],
    }


def artifacts_list(
    run_dir: Path, summaries: Mapping[str, Mapping[str, str] | None]
) -> list[dict[str, Any]]:
    """Every artifact a stage named, as a path relative to the run folder, and whether it exists.

    `summaries` maps each stage to the artifacts its summary names (label → relative path). A
    `csv_prefix` (Locust) names several files: each CSV file written under it is listed.
    """
    found: list[dict[str, Any]] = []
    for stage, named in summaries.items():
        if not isinstance(named, Mapping):
            continue  # none, or not in the summary's format: nothing to link
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


def build_run_summary(run_dir: Path, run: Mapping[str, Any]) -> RunSummary:
    """The run's summary: `run` (the pipeline's facts: id, target, stages...) joined with the
    stages' own summaries read from `run_dir`."""
    spec = read_stage_summary(run_dir, "spec")
    contract = read_stage_summary(run_dir, "contract")
    load = read_stage_summary(run_dir, "load")
    spec = spec if isinstance(spec, SpecSummary) else None
    contract = contract if isinstance(contract, ContractSummary) else None
    load = load if isinstance(load, LoadSummary) else None
    rules = rules_table(contract, load)
    stages = [msgspec.convert(dict(stage), StageEntry) for stage in run.get("stages", [])]
    verdict = worst_verdict([stage.verdict for stage in stages])
    gates = load.gates if load else []
    return RunSummary(
        run_id=str(run.get("run_id", run_dir.name)),
        verdict=verdict,
        exit_code=EXIT_CODES[verdict],
        reason=next((f"{s.name}: {s.reason}" for s in stages if s.verdict == verdict), None)
        if verdict != Verdict.PASS
        else None,
        target=run.get("target"),
        embedded=bool(run.get("embedded")),
        profile=run.get("profile"),
        seed=run.get("seed"),
        spec_version=run.get("spec_version"),
        started=run.get("started"),
        duration_s=run.get("duration_s"),
        stages=stages,
        spec_checks=spec.checks if spec else [],
        rules=rules,
        totals={
            "rules": count_statuses(rules),
            "contract": dict(contract.totals) if contract else {},
            "gates": {
                "passed": sum(1 for g in gates if g.verdict == Verdict.PASS),
                "total": len(gates),
            },
        },
        gates=gates,
        deviations=contract.deviations if contract else None,
        coverage=coverage_table(contract),
        endpoints=load.endpoints if load else {},
        history=load.history if load else [],
        timeline=load.timeline if load else [],
        load_notes={
            "rate_limited": load.rate_limited if load else None,
            "cpu_warning": bool(load and load.cpu_warning),
            "generator_problems": list((load.generator.get("problems") or []) if load else []),
            "aborted": load.aborted if load else None,
            "latency_clock": load.latency_clock if load else None,
            "schedule": load.schedule if load else None,
            # An endpoint that serialises or fails under concurrency (loadtest/bottleneck.py).
            "bottleneck": list(((load.concurrency or {}).get("findings") or []) if load else []),
        },
        artifacts=artifacts_list(
            run_dir,
            {
                "spec": spec.artifacts if spec else None,
                "contract": contract.artifacts if contract else None,
                "load": load.artifacts if load else None,
                "run": run.get("artifacts"),
            },
        ),
    )

"""What a run found, in words: the broken rules by name, the breached gates, the counts.

One place for the sentences a person reads first, so the console's last lines, the page's
banner, the top of its rules table and summary.md name the same rules the same way (rule id and
title, never just "1 rule failed"). Everything here reads the run summary
(`summary.build_run_summary`, as plain JSON values).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..verdicts import Verdict

#: A rule's status as a person says it. "untested" is "not exercised": no test met the situation
#: the rule is about, so it neither held nor broke.
STATUS_WORDS: Mapping[str, str] = {
    Verdict.PASS: "held",
    Verdict.FAIL: "broken",
    Verdict.DEVIATION: "known deviation",
    Verdict.SKIP: "skipped",
    Verdict.UNTESTED: "not exercised",
}
#: The order a reader wants the rules in: what needs a hand first, what held last.
STATUS_ORDER = (Verdict.FAIL, Verdict.DEVIATION, Verdict.UNTESTED, Verdict.SKIP, Verdict.PASS)
COMPARISON_WORDS = {"<=": "≤", ">=": "≥", "<": "<", ">": ">"}
#: A rule's evidence when the contract stage counted none (0 exchanges, 0 tests, no reason).
NO_EVIDENCE = "no evidence recorded"


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


def plural(count: int, one: str, many: str | None = None) -> str:
    """`1 rule`, `1,204 exchanges`: counts in the sentences below."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def rules_in(summary: Mapping[str, Any], status: str) -> list[Mapping[str, Any]]:
    """The rules of the run that ended in `status`, in catalogue order."""
    return [rule for rule in summary.get("rules") or [] if rule.get("status") == status]


def rules_by_attention(rules: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rules with the broken ones first, then known deviations, not exercised, skipped,
    held (catalogue order within each)."""
    rank = {status: index for index, status in enumerate(STATUS_ORDER)}
    return sorted(rules, key=lambda rule: rank.get(rule.get("status", ""), -1))


def rule_counts(counts: Mapping[str, int]) -> str:
    """`39 rules held, 2 not exercised`: the rules held, then every other status that occurred.
    An untested rule is never among those held."""
    parts = [plural(int(counts.get(Verdict.PASS, 0)), "rule") + " held"]
    for status in (Verdict.FAIL, Verdict.DEVIATION, Verdict.UNTESTED, Verdict.SKIP):
        count = int(counts.get(status, 0))
        if count:
            words = STATUS_WORDS[status]
            parts.append(
                f"{count} {words}{'s' if status == Verdict.DEVIATION and count > 1 else ''}"
            )
    return ", ".join(parts)


def breached_gates(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The load gates that failed (a skipped gate was not judged, and is not breached)."""
    return [gate for gate in summary.get("gates") or [] if gate.get("verdict") == Verdict.FAIL]


def gate_counts(summary: Mapping[str, Any]) -> str:
    """`35 of 36 load gates met` (and how many were not judged, when some were not)."""
    gates = summary.get("gates") or []
    if not gates:
        return "no load gates judged"
    met = sum(1 for gate in gates if gate.get("verdict") == Verdict.PASS)
    skipped = sum(1 for gate in gates if gate.get("verdict") == Verdict.SKIP)
    text = f"{met} of {plural(len(gates), 'load gate')} met"
    return text + (f", {skipped} not judged" if skipped else "")


def gate_text(gate: Mapping[str, Any], *, ascii_only: bool = False) -> str:
    """`availability rps ≥ 0.5, measured 0.401`: which gate, its limit and what was measured."""
    comparison = str(gate.get("comparison") or "<=")
    if not ascii_only:
        comparison = COMPARISON_WORDS.get(comparison, comparison)
    return (
        f"{gate.get('endpoint')} {gate.get('metric')} {comparison} "
        f"{format_number(gate.get('limit'))}, measured {format_number(gate.get('measured'))}"
    )


def what_broke(summary: Mapping[str, Any]) -> str:
    """`1 rule broken, 1 load gate breached`; "" when neither."""
    broken = len(rules_in(summary, Verdict.FAIL))
    breached = len(breached_gates(summary))
    parts = []
    if broken:
        parts.append(plural(broken, "rule") + " broken")
    if breached:
        parts.append(plural(breached, "load gate") + " breached")
    return ", ".join(parts)


def unexplained_reason(summary: Mapping[str, Any]) -> str | None:
    """The run's reason when its broken rules and breached gates do not already say why it did
    not pass (an error, an incomplete stage, a failure such as a target that went away)."""
    if summary.get("verdict") == Verdict.PASS:
        return None
    if summary.get("verdict") == Verdict.FAIL and what_broke(summary):
        return None
    reason = summary.get("reason")
    return str(reason) if reason else None


def evidence_text(rule: Mapping[str, Any]) -> str:
    """What a rule's status stands on: `applied to 1,204 exchanges in 37 tests`, or why it was
    not exercised. A contract stage that counted nothing says so rather than showing zeros."""
    if rule.get("status") == Verdict.UNTESTED:
        return "not exercised: " + (rule.get("reason") or "no reason recorded")
    exchanges = int(rule.get("exchanges") or 0)
    tests = int(rule.get("tests_applied") or 0)
    if not exchanges and not tests:
        return NO_EVIDENCE
    text = f"applied to {plural(exchanges, 'exchange')}" if exchanges else "applied"
    return text + (f" in {plural(tests, 'test')}" if tests else "")


def console_lines(summary: Mapping[str, Any], *, ascii_only: bool = True) -> list[str]:
    """The last lines `octoqa run` prints: the counts, the rules not exercised, the breached
    gates, and last (where a log's tail shows them) each broken rule by id and title."""
    lines = [f"Rules: {rule_counts(summary['totals']['rules'])}. Load: {gate_counts(summary)}."]
    untested = rules_in(summary, Verdict.UNTESTED)
    if untested:
        lines.append(f"Not exercised ({len(untested)}):")
        lines += [
            f"  {rule['id']}: {rule.get('reason') or 'no reason recorded'}" for rule in untested
        ]
    breached = breached_gates(summary)
    if breached:
        lines.append(f"Breached load gates ({len(breached)}):")
        lines += [f"  {gate_text(gate, ascii_only=ascii_only)}" for gate in breached]
    broken = rules_in(summary, Verdict.FAIL)
    if broken:
        lines.append(f"Broken rules ({len(broken)}):")
        for rule in broken:
            under_load = rule.get("load_violations") or 0
            load = f" (broken {under_load}x under load)" if under_load else ""
            lines.append(f"  {rule['id']}: {rule['title']}{load}")
    return lines

"""`summary.md`: the run in a few lines of Markdown, for a PR comment or `$GITHUB_STEP_SUMMARY`.

Short by design: verdict, the broken rules and breached gates by name, stages, the counts,
coverage in one line, every rule's evidence folded away. The full story is the HTML page; this
names where it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..verdicts import Verdict
from .findings import (
    NO_EVIDENCE,
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
from .page import VERDICT_WORDS, format_seconds

#: GitHub and GitLab both render these; the words beside them carry the meaning.
VERDICT_EMOJI: Mapping[str, str] = {
    "pass": "✅",
    "incomplete": "◐",
    "skip": "⏭️",
    "fail": "❌",
    "deviation": "🔶",
    "error": "⚠️",
    "not run": "⏭️",
}


#: A PR comment stays readable: past this many breached gates, the page has the rest.
MAX_GATE_ROWS = 10


def cell(value: Any) -> str:
    """A table cell: pipes and newlines would break the row; HTML is shown, not rendered."""
    text = format_number(value) if not isinstance(value, str) else value
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def verdict_label(verdict: str) -> str:
    return (
        f"{VERDICT_EMOJI.get(verdict, '❔')} {VERDICT_WORDS.get(verdict, ('', verdict.upper()))[1]}"
    )


def _deviation_lines(deviations: Mapping[str, Any] | None) -> list[str]:
    """Known deviations that need a hand: expired ones (failing again) and stale ones."""
    entries = (deviations or {}).get("entries") or []
    lines = []
    for state, words in (
        ("expired", "expired (failing again)"),
        ("stale", "stale (matched nothing)"),
    ):
        named = [e for e in entries if e.get("state") == state]
        if named:
            lines.append(
                f"**Known deviations {words}:** "
                + ", ".join(f"`{cell(e.get('rule'))}` ({cell(e.get('expires'))})" for e in named)
                + ".  "
            )
    return lines


def _named_findings(summary: Mapping[str, Any]) -> list[str]:
    """The broken rules (id and title) and breached gates by name, right under the verdict."""
    lines = []
    broken = rules_in(summary, Verdict.FAIL)
    if broken:
        lines.append(
            "**Broken rules:** "
            + "; ".join(f"`{cell(rule['id'])}` {cell(rule['title'])}" for rule in broken)
            + ".  "
        )
    breached = breached_gates(summary)
    if breached:
        lines.append(
            "**Load gates breached:** "
            + "; ".join(cell(gate_text(gate)) for gate in breached[:MAX_GATE_ROWS])
            + (
                f" … and {len(breached) - MAX_GATE_ROWS} more"
                if len(breached) > MAX_GATE_ROWS
                else ""
            )
            + ".  "
        )
    return lines + ([""] if lines else [])


def _stage_table(summary: Mapping[str, Any]) -> list[str]:
    lines = ["| # | Stage | Verdict | Exit | Duration | Notes |", "|---|---|---|---|---|---|"]
    for index, stage in enumerate(summary["stages"], start=1):
        exit_code = stage.get("exit_code")
        lines.append(
            f"| {index} | {cell(stage['name'])} | {verdict_label(stage['verdict'])} | "
            f"{'–' if exit_code is None else exit_code} | "
            f"{format_seconds(stage.get('duration_s'))} | {cell(stage.get('reason') or '')} |"
        )
    return lines


def _counts(summary: Mapping[str, Any]) -> list[str]:
    coverage = summary["coverage"]
    lines = [
        f"**Rules:** {rule_counts(summary['totals']['rules'])} (of {len(summary['rules'])}).  ",
        f"**Load:** {gate_counts(summary)}.  ",
        f"**Coverage:** {coverage['seen']}/{coverage['declared']} declared responses exercised"
        + (f" ({coverage['percent']} %).  " if coverage["percent"] is not None else ".  "),
    ]
    untested = rules_in(summary, Verdict.UNTESTED)
    if untested:
        lines.append(
            "**Not exercised:** "
            + "; ".join(
                f"`{cell(r['id'])}` ({cell(r.get('reason') or 'no reason recorded')})"
                for r in untested
            )
            + ".  "
        )
    skipped = rules_in(summary, Verdict.SKIP)
    if skipped:
        lines.append("**Skipped:** " + ", ".join(f"`{cell(r['id'])}`" for r in skipped) + ".  ")
    return lines + _deviation_lines(summary.get("deviations"))


def _failed_rules(summary: Mapping[str, Any]) -> list[str]:
    failed = rules_in(summary, Verdict.FAIL)
    if not failed:
        return []
    lines = ["", "### Broken rules", "", "| Rule | Basis | What broke |", "|---|---|---|"]
    for rule in failed:
        messages = [t.get("headline") for t in rule["tests"] if t.get("outcome") == "failed"]
        if rule["load_violations"]:
            messages.append(f"broken {rule['load_violations']}× under load")
        detail = next((m for m in messages if m), "")
        lines.append(
            f"| `{cell(rule['id'])}` {cell(rule['title'])} | {cell(rule['basis'])} | "
            f"{cell(detail[:300])} |"
        )
    return lines


def _breached_gates(summary: Mapping[str, Any]) -> list[str]:
    breached = breached_gates(summary)
    if not breached:
        return []
    lines = ["", "### Breached load gates", "", "| Endpoint | Metric | Limit | Measured |"]
    lines.append("|---|---|---|---|")
    for gate in breached[:MAX_GATE_ROWS]:
        lines.append(
            f"| {cell(gate.get('endpoint'))} | {cell(gate.get('metric'))} | "
            f"{cell(gate.get('limit'))} | {cell(gate.get('measured'))} |"
        )
    if len(breached) > MAX_GATE_ROWS:
        lines.append(f"| … and {len(breached) - MAX_GATE_ROWS} more (see the report) | | | |")
    return lines


def _evidence_table(summary: Mapping[str, Any]) -> list[str]:
    """Every rule with what its status stands on, folded (GitHub and GitLab render <details>)."""
    rules = rules_by_attention(summary["rules"])
    if all(evidence_text(rule) == NO_EVIDENCE for rule in rules):
        return ["", f"**Evidence:** {NO_EVIDENCE} by the contract stage for any rule."]
    lines = [
        "",
        f"<details><summary>All {len(rules)} rules and their evidence</summary>",
        "",
        "| Rule | Result | Evidence |",
        "|---|---|---|",
    ]
    for rule in rules:
        status = str(rule["status"])
        lines.append(
            f"| `{cell(rule['id'])}` | {cell(STATUS_WORDS.get(status, status))} | "
            f"{cell(evidence_text(rule))} |"
        )
    return lines + ["", "</details>"]


def render_markdown(summary: Mapping[str, Any], report_path: str = "index.html") -> str:
    """The Markdown summary of one run: the verdict and what broke by name first."""
    lines = [
        f"## octoqa run: {verdict_label(summary['verdict'])}",
        "",
        f"Target `{cell(summary.get('target'))}` · profile `{cell(summary.get('profile'))}` · "
        f"seed {cell(summary.get('seed'))} · spec {cell(summary.get('spec_version'))} · "
        f"{format_seconds(summary.get('duration_s'))} · exit code {summary['exit_code']}",
        "",
    ]
    lines += _named_findings(summary)
    reason = unexplained_reason(summary)
    if reason:
        lines += [f"**Why:** {cell(reason)}", ""]
    lines += _stage_table(summary)
    lines += ["", *_counts(summary)]
    lines += _failed_rules(summary) + _breached_gates(summary) + _evidence_table(summary)
    lines += [
        "",
        f"Full report: `{report_path}` (in the `reports` artifact of this job).",
        "",
    ]
    return "\n".join(lines)

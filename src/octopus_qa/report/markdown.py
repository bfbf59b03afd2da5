"""`summary.md`: the run in a few lines of Markdown, for a PR comment or `$GITHUB_STEP_SUMMARY`.

Short by design: verdict, stages, what failed (rules, gates), coverage in one line. The full
story is the HTML page; this names where it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..verdicts import Verdict
from .page import VERDICT_WORDS, format_number, format_seconds

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


def render_markdown(summary: Mapping[str, Any], report_path: str = "index.html") -> str:
    """The Markdown summary of one run."""
    totals = summary["totals"]
    lines = [
        f"## octoqa run: {verdict_label(summary['verdict'])}",
        "",
        f"Target `{cell(summary.get('target'))}` · profile `{cell(summary.get('profile'))}` · "
        f"seed {cell(summary.get('seed'))} · spec {cell(summary.get('spec_version'))} · "
        f"{format_seconds(summary.get('duration_s'))} · exit code {summary['exit_code']}",
        "",
    ]
    if summary.get("reason"):
        lines += [f"**Why:** {cell(summary['reason'])}", ""]
    lines += ["| # | Stage | Verdict | Exit | Duration | Notes |", "|---|---|---|---|---|---|"]
    for index, stage in enumerate(summary["stages"], start=1):
        exit_code = stage.get("exit_code")
        lines.append(
            f"| {index} | {cell(stage['name'])} | {verdict_label(stage['verdict'])} | "
            f"{'–' if exit_code is None else exit_code} | "
            f"{format_seconds(stage.get('duration_s'))} | {cell(stage.get('reason') or '')} |"
        )
    rules = totals["rules"]
    gates = totals["gates"]
    coverage = summary["coverage"]
    lines += [
        "",
        f"**Rules:** {rules['pass']} pass · {rules['fail']} fail · {rules['skip']} skip · "
        f"{rules['untested']} untested"
        + (f" · {rules['deviation']} known deviation" if rules.get("deviation") else "")
        + f" (of {len(summary['rules'])}).  ",
        f"**Load gates:** {gates['passed']}/{gates['total']} met.  ",
        f"**Coverage:** {coverage['seen']}/{coverage['declared']} declared responses exercised"
        + (f" ({coverage['percent']} %).  " if coverage["percent"] is not None else ".  "),
    ]
    skipped = [r for r in summary["rules"] if r["status"] == "skip"]
    if skipped:
        lines.append("**Skipped:** " + ", ".join(f"`{cell(r['id'])}`" for r in skipped) + ".  ")
    lines += _deviation_lines(summary.get("deviations"))
    failed = [r for r in summary["rules"] if r["status"] == Verdict.FAIL]
    if failed:
        lines += ["", "### Failed rules", "", "| Rule | Basis | What broke |", "|---|---|---|"]
        for rule in failed:
            messages = [t.get("headline") for t in rule["tests"] if t.get("outcome") == "failed"]
            if rule["load_violations"]:
                messages.append(f"broken {rule['load_violations']}× under load")
            detail = next((m for m in messages if m), "")
            lines.append(
                f"| `{cell(rule['id'])}` {cell(rule['title'])} | {cell(rule['basis'])} | "
                f"{cell(detail[:300])} |"
            )
    breached = [g for g in summary["gates"] if g.get("verdict") != "pass"]
    if breached:
        lines += ["", "### Breached load gates", "", "| Endpoint | Metric | Limit | Measured |"]
        lines.append("|---|---|---|---|")
        for gate in breached[:MAX_GATE_ROWS]:
            lines.append(
                f"| {cell(gate.get('endpoint'))} | {cell(gate.get('metric'))} | "
                f"{cell(gate.get('limit'))} | {cell(gate.get('measured'))} |"
            )
        if len(breached) > MAX_GATE_ROWS:
            lines.append(f"| … and {len(breached) - MAX_GATE_ROWS} more (see the report) | | | |")
    lines += [
        "",
        f"Full report: `{report_path}` (in the `reports` artifact of this job).",
        "",
    ]
    return "\n".join(lines)

"""A stage's verdict from what its process left: the exit code, its summary.json, its stderr.

Nothing a stage fails to report becomes a pass: a stage that crashed, timed out or wrote no
summary is an "error".
"""

from __future__ import annotations

import re

from ..report.summaries import ContractSummary, LoadSummary, StageSummary
from ..verdicts import Verdict

#: How octoqa (and argparse) start the one line they print for exit code 2.
ERROR_PREFIX = re.compile(r"^octoqa(?: \w+)?: error: ")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return ERROR_PREFIX.sub("", last)[:300]


def judge_stage(
    name: str,
    exit_code: int | None,
    summary: StageSummary | None,
    stderr: str,
    timeout_s: float,
) -> tuple[str, str | None]:
    """(verdict, reason) of a stage from its exit code and summary; never a pass by default.

    Exit 1 without a summary is a crash (Python exits 1 on an uncaught exception), not a failed
    contract; a summary that says "error" is believed over a zero exit code.
    """
    if exit_code is None:
        return Verdict.ERROR, f"did not finish within {timeout_s:g} s (stopped)"
    if exit_code == 2:
        return Verdict.ERROR, _last_line(
            stderr
        ) or "exited 2 (usage, configuration or target problem)"
    if exit_code not in (0, 1):
        return Verdict.ERROR, f"exited {exit_code}: {_last_line(stderr) or 'no message'}"
    if summary is None:
        return Verdict.ERROR, (
            f"exited {exit_code} without writing {name}/summary.json: "
            f"{_last_line(stderr) or 'no message'}"
        )
    said = summary.verdict
    if said == Verdict.ERROR or said not in (Verdict.PASS, Verdict.FAIL):
        return Verdict.ERROR, f"{name}/summary.json says verdict {said!r}"
    if exit_code == 0 and said == Verdict.PASS:
        return Verdict.PASS, None
    return Verdict.FAIL, _failure_reason(name, summary)


def _failure_reason(name: str, summary: StageSummary) -> str:
    if isinstance(summary, ContractSummary):
        totals = summary.totals
        tests = f"{totals.get('failed', '?')} failed, {totals.get('errors', 0)} errors"
        # The rules a reader acts on first, then the tests that showed it.
        rules = [rule for rule, result in summary.rules.items() if result.status == Verdict.FAIL]
        return f"{', '.join(rules)} broken ({tests})" if rules else tests
    if isinstance(summary, LoadSummary):
        breached = [g for g in summary.gates if g.verdict != Verdict.PASS]
        broken = sum(summary.rule_violations.values())
        parts = [f"{len(breached)} of {len(summary.gates)} gates breached"]
        if broken:
            parts.append(f"{broken} responses broke rules")
        return ", ".join(parts)
    return "failed"

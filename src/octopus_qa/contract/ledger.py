"""Which rules each test judged, and how it came out: the `rules` part of summary.json.

A hand-written test names its rules with `@pytest.mark.rule(...)`. A schemathesis test covers
several; when it fails, the failure names the rules it broke (the RuleViolation a rule check
raised, or the rules of the built-in check that failed: `BUILTIN_CHECK_RULES`).

Naming a rule is not judging it. Each test also brings its evidence (rules.evidence): which
rules its checks applied to which exchanges. A rule passes on that evidence only; a rule whose
tests all passed without meeting its situation is UNTESTED, and says why.

The three maps below are read from the rules' declarations (octopus_qa.rules: each Rule names
the built-in checks that judge it, the operations whose input it bounds and its parameter).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..rules import RULES, Rule
from ..verdicts import RULE_VERDICT_OF, Outcome, Verdict


def _grouped(pairs: Iterable[tuple[str, Rule]]) -> Mapping[str, tuple[Rule, ...]]:
    grouped: dict[str, tuple[Rule, ...]] = {}
    for key, rule in pairs:
        grouped[key] = (*grouped.get(key, ()), rule)
    return grouped


#: Built-in schemathesis checks → the rules each one judges here (a check no rule names, such
#: as max_response_time, judges none of them).
BUILTIN_CHECK_RULES: Mapping[str, tuple[Rule, ...]] = _grouped(
    (check, rule) for rule in RULES.values() for check in rule.builtin_checks
)

#: negative_data_rejection / positive_data_acceptance → the bounds rules of the operation.
OPERATION_INPUT_RULES: Mapping[str, tuple[Rule, ...]] = _grouped(
    (operation, rule) for rule in RULES.values() for operation in rule.bounds_input_of
)

#: A query or path parameter schemathesis names as the invalid part of accepted data → its rule.
PARAMETER_RULES: Mapping[str, Rule] = {
    rule.parameter: rule for rule in RULES.values() if rule.parameter is not None
}


@dataclass
class TestOutcome:
    nodeid: str
    outcome: str  # an Outcome: passed | failed | skipped | error | deviation | not judged
    message: str = ""
    rules: tuple[str, ...] = ()
    #: Rule id → how many exchanges the test's checks applied that rule to (rules.evidence):
    #: any rule, named by the test or not (every exchange of the client is judged by the request
    #: checks).
    evidence: Mapping[str, int] = field(default_factory=dict)


#: Outcomes whose exchanges were judged to the end: what a test of them applied is evidence.
#: A skipped test stopped before its point; one the target walked out on judged nothing.
_JUDGED = {Outcome.PASSED, Outcome.FAILED, Outcome.DEVIATION}


@dataclass
class RuleEntry:
    """One rule's verdict in the run, and what it stands on."""

    status: Verdict = Verdict.UNTESTED
    #: The tests that named the rule (marks) or broke it, with their outcomes.
    tests: list[dict[str, str]] = field(default_factory=list)
    #: Exchanges the rule was applied to, in how many tests (every judged test, named or not).
    exchanges: int = 0
    tests_applied: int = 0
    #: Why the rule is untested; "" when it is not.
    reason: str = ""


#: Which verdict wins when a rule's tests disagree: fail beats deviation (failing where
#: deviations.toml says, and only there) beats pass.
_RANK = {Verdict.UNTESTED: 0, Verdict.PASS: 1, Verdict.DEVIATION: 2, Verdict.FAIL: 3}


@dataclass
class RuleLedger:
    outcomes: list[TestOutcome] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, outcome: TestOutcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def totals(self) -> dict[str, int]:
        counts = {
            "passed": 0, "failed": 0, "skipped": 0, "errors": 0, "deviations": 0, "not_judged": 0
        }  # fmt: skip
        plural = {"error": "errors", "deviation": "deviations", "not judged": "not_judged"}
        for outcome in self.outcomes:
            key = plural.get(outcome.outcome, outcome.outcome)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def by_rule(self, selected: Iterable[str] | None = None) -> dict[str, RuleEntry]:
        """Every catalogued rule → its verdict, its tests and the evidence behind it.

        A rule passes only on evidence: at least one exchange its checks applied to (not held
        vacuously) in a test that was judged to the end, and no test that broke it. A failure
        counts whatever the evidence; a rule nothing applied to is UNTESTED, with the reason.
        """
        report = {rule_id: RuleEntry() for rule_id in RULES}
        for outcome in self.outcomes:
            kind = Outcome(outcome.outcome)
            judged = kind in _JUDGED
            for rule_id in outcome.rules:
                entry = report.setdefault(rule_id, RuleEntry())
                entry.tests.append(
                    {"nodeid": outcome.nodeid, "outcome": kind, "message": outcome.message}
                )
                if kind is not Outcome.PASSED:  # a pass is the evidence's to grant, below
                    _raise_to(entry, RULE_VERDICT_OF[kind])
            for rule_id, count in outcome.evidence.items() if judged else ():
                entry = report.setdefault(rule_id, RuleEntry())
                entry.exchanges += count
                entry.tests_applied += 1
                _raise_to(entry, Verdict.PASS)
        for entry in report.values():
            if entry.status in (Verdict.UNTESTED, Verdict.SKIP):
                entry.status = Verdict.UNTESTED
                entry.reason = _why_untested(entry.tests)
        if selected is not None:
            keep = set(selected)
            report = {rule_id: entry for rule_id, entry in report.items() if rule_id in keep}
        return report


def _raise_to(entry: RuleEntry, verdict: Verdict) -> None:
    if _RANK.get(verdict, 0) > _RANK[entry.status]:
        entry.status = verdict


def _why_untested(tests: list[dict[str, str]]) -> str:
    """Why no exchange of the run exercised a rule: the words a reader acts on."""
    if not tests:
        return "no test of this run exercised it"
    outcomes = Counter(test["outcome"] for test in tests)
    shown = ", ".join(f"{count} {outcome}" for outcome, count in outcomes.items())
    skipped = next((test for test in tests if test["outcome"] == Outcome.SKIPPED), None)
    said = skipped["message"].removeprefix("Skipped: ") if skipped is not None else ""
    why = f"; skipped: {said[:240]}" if skipped is not None else ""
    return (
        f"its {len(tests)} test(s) ran ({shown}) but no exchange met the situation it is about{why}"
    )

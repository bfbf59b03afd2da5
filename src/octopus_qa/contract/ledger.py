"""Which rules each test judged, and how it came out: the `rules` part of summary.json.

A hand-written test names its rules with `@pytest.mark.rule(...)`. A schemathesis test covers
several; when it fails, the failure names the rules it broke (the RuleViolation a rule check
raised, or the rules of the built-in check that failed: `BUILTIN_CHECK_RULES`).

The three maps below are read from the rules' declarations (octopus_qa.rules: each Rule names
the built-in checks that judge it, the operations whose input it bounds and its parameter).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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

    def by_rule(self, selected: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Every catalogued rule → its status and its tests.

        fail beats deviation (a known deviation: failing where deviations.toml says, and only
        there) beats pass beats skip.
        """
        report: dict[str, dict[str, Any]] = {
            rule_id: {"status": Verdict.UNTESTED, "tests": []} for rule_id in RULES
        }
        rank = {
            Verdict.UNTESTED: 0,
            Verdict.SKIP: 1,
            Verdict.PASS: 2,
            Verdict.DEVIATION: 3,
            Verdict.FAIL: 4,
        }
        for outcome in self.outcomes:
            for rule_id in outcome.rules:
                entry = report.setdefault(rule_id, {"status": Verdict.UNTESTED, "tests": []})
                entry["tests"].append(
                    {
                        "nodeid": outcome.nodeid,
                        "outcome": outcome.outcome,
                        "message": outcome.message,
                    }
                )
                status = RULE_VERDICT_OF[Outcome(outcome.outcome)]
                if rank[status] > rank[entry["status"]]:
                    entry["status"] = status
        if selected is not None:
            keep = set(selected)
            report = {rule_id: entry for rule_id, entry in report.items() if rule_id in keep}
        return report

"""Which rules each test judged, and how it came out: the `rules` part of summary.json.

A hand-written test names its rules with `@pytest.mark.rule(...)`. A schemathesis test covers
several; when it fails, the failure names the rules it broke (RuleViolation's `[rule-id]` prefix,
or the built-in check mapped to a rule in `BUILTIN_CHECK_RULES`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..rules import RULES

#: Built-in schemathesis checks → the rule each one enforces here.
BUILTIN_CHECK_RULES: Mapping[str, tuple[str, ...]] = {
    "not_a_server_error": ("documented-status-codes",),
    "status_code_conformance": ("documented-status-codes",),
    "content_type_conformance": ("json-content-type",),
    "response_headers_conformance": ("request-id-present", "pagination-headers-present"),
    "response_schema_conformance": ("product-schema",),
    "ignored_auth": ("auth-required",),
    "missing_required_header": ("auth-required",),
    "use_after_free": ("unknown-product-404",),
    "ensure_resource_availability": ("unknown-product-404",),
    "unsupported_method": ("unknown-path-404",),
    "allow_header_conformance": ("unknown-path-404",),
    "max_response_time": (),
}

#: negative_data_rejection / positive_data_acceptance → the bounds rules of the operation.
OPERATION_INPUT_RULES: Mapping[str, tuple[str, ...]] = {
    "GET /api/v1/products": ("page-bounds", "limit-bounds", "sort-format"),
    "GET /api/v1/products/{id}": ("product-id-bounds",),
    "POST /api/v1/products/{id}/availability": (
        "denomination-bounds",
        "quantity-bounds",
        "product-id-bounds",
        "post-requires-json",
    ),
    "POST /auth/login": ("login-rejects-malformed-body",),
    "POST /auth/refresh": ("auth-required",),
    "POST /auth/logout": ("auth-required",),
}

#: A query or path parameter schemathesis names as the invalid part of accepted data → its rule.
PARAMETER_RULES: Mapping[str, str] = {
    "page": "page-bounds",
    "limit": "limit-bounds",
    "sort": "sort-format",
    "id": "product-id-bounds",
}


@dataclass
class TestOutcome:
    nodeid: str
    outcome: str  # passed | failed | skipped | error | deviation | not judged (target gone)
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
            rule_id: {"status": "untested", "tests": []} for rule_id in RULES
        }
        rank = {"untested": 0, "skip": 1, "pass": 2, "deviation": 3, "fail": 4}
        # A test that errored could not judge its rule: that is no pass, so it counts as a fail.
        # A test the target walked out on judged nothing: its rules stay as the others left them.
        status_of = {
            "passed": "pass",
            "failed": "fail",
            "skipped": "skip",
            "error": "fail",
            "deviation": "deviation",
            "not judged": "untested",
        }
        for outcome in self.outcomes:
            for rule_id in outcome.rules:
                entry = report.setdefault(rule_id, {"status": "untested", "tests": []})
                entry["tests"].append(
                    {
                        "nodeid": outcome.nodeid,
                        "outcome": outcome.outcome,
                        "message": outcome.message,
                    }
                )
                status = status_of[outcome.outcome]
                if rank[status] > rank[entry["status"]]:
                    entry["status"] = status
        if selected is not None:
            keep = set(selected)
            report = {rule_id: entry for rule_id, entry in report.items() if rule_id in keep}
        return report

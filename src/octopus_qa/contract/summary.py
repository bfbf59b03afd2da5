"""summary.json for the contract stage: `summaries.ContractSummary`, built from the run's ledger."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from ..report.summaries import (
    ContractCoverage,
    ContractSummary,
    DeviationsReport,
    OperationCoverage,
    RuleResult,
    TestResult,
    utc_started,
)
from ..report.summaries import write_summary as write_typed_summary
from ..rules import RULES
from ..spec import spec_version
from ..verdicts import Verdict
from .suite import Suite


def verdict_for(exit_code: int) -> Verdict:
    return {0: Verdict.PASS, 1: Verdict.FAIL}.get(exit_code, Verdict.ERROR)


def build_summary(
    suite: Suite,
    *,
    exit_code: int,
    started: float,
    documented_only: bool,
    artifacts: dict[str, str],
) -> ContractSummary:
    selected = [
        rule_id for rule_id, rule in RULES.items() if not (documented_only and rule.assumed)
    ]
    rules = {
        rule_id: RuleResult(
            status=entry.status,
            tests=[
                TestResult(
                    nodeid=test["nodeid"],
                    outcome=test["outcome"],
                    message=suite.secrets.scrub(test["message"]),
                )
                for test in entry.tests
            ],
            exchanges=entry.exchanges,
            tests_applied=entry.tests_applied,
            reason=entry.reason,
        )
        for rule_id, entry in suite.ledger.by_rule(selected).items()
    }
    loss = suite.watch.loss
    return ContractSummary(
        # A run the target walked out on is an error (exit 2: could not judge), whatever failed.
        verdict=Verdict.ERROR if loss is not None else verdict_for(exit_code),
        judged=loss is None,
        not_judged_because=None if loss is None else loss.describe(),
        target_lost=None if loss is None else loss.as_dict(),
        slow_answers=suite.watch.slow_report(),
        target=suite.target_label,
        profile=suite.profile.name,
        seed=suite.seed,
        started=utc_started(datetime.fromtimestamp(started, UTC)),
        duration_s=round(time.time() - started, 3),
        spec_version=spec_version(),
        documented_only=documented_only,
        totals=suite.ledger.totals(),
        rules=rules,
        coverage=ContractCoverage(
            operations=[msgspec.convert(op, OperationCoverage) for op in suite.coverage.as_report()]
        ),
        deviations=_deviations(suite),
        artifacts=artifacts,
    )


def _deviations(suite: Suite) -> DeviationsReport | None:
    """The known deviations of the run: every entry with its state (matched, expired, stale)."""
    if suite.deviations is None:
        return None
    return msgspec.convert(
        {"file": suite.deviations.source, "entries": suite.deviations.report()}, DeviationsReport
    )


def write_summary(path: Path, summary: ContractSummary) -> None:
    write_typed_summary(path, summary)

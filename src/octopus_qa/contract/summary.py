"""summary.json for the contract stage, as /work/briefing.md describes it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..rules import RULES
from ..spec import spec_version
from .suite import Suite


def verdict_for(exit_code: int) -> str:
    return {0: "pass", 1: "fail"}.get(exit_code, "error")


def build_summary(
    suite: Suite,
    *,
    exit_code: int,
    started: float,
    documented_only: bool,
    artifacts: dict[str, str],
) -> dict[str, Any]:
    selected = [
        rule_id for rule_id, rule in RULES.items() if not (documented_only and rule.assumed)
    ]
    rules = suite.ledger.by_rule(selected)
    for entry in rules.values():
        for test in entry["tests"]:
            test["message"] = suite.secrets.scrub(test["message"])
    loss = suite.watch.loss
    return {
        "stage": "contract",
        # A run the target walked out on is an error (exit 2: could not judge), whatever failed.
        "verdict": "error" if loss is not None else verdict_for(exit_code),
        "judged": loss is None,
        "not_judged_because": None if loss is None else loss.describe(),
        "target_lost": None if loss is None else loss.as_dict(),
        "slow_answers": suite.watch.slow_report(),
        "target": suite.target_label,
        "profile": suite.profile.name,
        "seed": suite.seed,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(time.time() - started, 3),
        "spec_version": spec_version(),
        "documented_only": documented_only,
        "totals": suite.ledger.totals(),
        "rules": rules,
        "coverage": {"operations": suite.coverage.as_report()},
        "artifacts": artifacts,
    }


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")

"""Hand-made stage summaries in the briefing's formats, for the report's tests (and their own).

`write_sample_run(run_dir, failing=...)` lays out a run folder as `octoqa contract`, `octoqa load`
and the spec stage leave it; the failing variant carries what a hostile or leaky target could put
into a report: markup, a JWT and the password.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from octopus_qa.plan.endpoints import ENDPOINTS as LOAD_ENDPOINTS
from octopus_qa.rules import RULES

FAKE_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJkZW1vIiwiZXhwIjoxNzAwMDAwMDAwfQ."
    "c2lnbmF0dXJlLXRoYXQtaXMtbm90LXJlYWw"
)
FAKE_PASSWORD = "s3cret-pässword&<x>"
HOSTILE = "<script>alert('pwned')</script>"
FAILING_RULE = "pagination-headers-consistent"
SKIPPED_RULE = "expired-token-rejected"
UNTESTED_RULE = "refresh-token-single-use"
#: Reported by the contract suite, but no test met the situation it is about.
NOT_EXERCISED_RULE = "logout-revokes-tokens"
NOT_EXERCISED_REASON = "no test logged out and reused a token"
#: A rule whose evidence the sample leaves out (a contract stage that counted nothing).
NO_EVIDENCE_RULE = "json-content-type"
HISTORY_START = 1_700_000_000
HISTORY_ROWS = 12
#: Locust's first rows, while its users spawn: nothing measured yet.
SPAWN_ROWS = 2
UNDECLARED_TRIED = (
    ("DELETE", "/api/v1/products", [404]),
    ("HEAD", "/api/v1/products", [401]),
    ("OPTIONS", "/api/v1/products", [401, 404]),
    ("QUERY", "/api/v1/products", [404]),
    ("TRACE", "/api/v1/products", [404]),
    ("DELETE", "/auth/login", [404]),
    ("TRACE", "/auth/login", [404]),
)
#: The endpoints a load run measures (their keys in summary.json) and their aggregate.
ENDPOINTS = (*LOAD_ENDPOINTS, "total")
GATED_ENDPOINT = "list"


def contract_summary(failing: bool) -> dict[str, Any]:
    rules: dict[str, Any] = {}
    for rule_id in RULES:
        if rule_id == UNTESTED_RULE:
            continue
        status = "skip" if rule_id == SKIPPED_RULE else "pass"
        outcome = {"pass": "passed", "skip": "skipped"}[status]
        message = "token lives longer than expiry_wait_s" if status == "skip" else ""
        if failing and rule_id == FAILING_RULE:
            status, outcome = "fail", "failed"
            message = (
                f"[{rule_id}] X-Total-Pages should be ceil(7/2) = 4 {HOSTILE} "
                f"Authorization: Bearer {FAKE_JWT} password={FAKE_PASSWORD}"
            )
        rules[rule_id] = {
            "status": status,
            "tests": [
                {
                    "nodeid": f"contract_tests/test_rules.py::test_{rule_id.replace('-', '_')}",
                    "outcome": outcome,
                    "message": message,
                }
            ],
        }
        if status != "skip" and rule_id != NO_EVIDENCE_RULE:
            rules[rule_id] |= {"exchanges": 1200 + len(rules), "tests_applied": 3}
    rules[NOT_EXERCISED_RULE] = {
        "status": "untested",
        "tests": [
            {
                "nodeid": "contract_tests/test_auth.py::test_logout_revokes_tokens",
                "outcome": "passed",
                "message": "",
            }
        ],
        "reason": NOT_EXERCISED_REASON,
    }
    return {
        "schema_version": 1,
        "stage": "contract",
        "verdict": "fail" if failing else "pass",
        "target": "http://127.0.0.1:8123",
        "profile": "quick",
        "seed": 7,
        "started": "2025-01-01T12:00:00+00:00",
        "duration_s": 21.5,
        "spec_version": "1.0.0",
        "totals": {"passed": 57 - failing, "failed": int(failing), "skipped": 1, "errors": 0},
        "rules": rules,
        "coverage": {
            "operations": [
                {
                    "method": "POST",
                    "path": "/auth/login",
                    "declared": [200, 400, 401],
                    "seen": [200, 400, 401],
                },
                {
                    "method": "GET",
                    "path": "/api/v1/products",
                    "declared": [200, 400, 401],
                    "seen": [200, 401],
                },
                {
                    "method": "GET",
                    "path": "/api/v1/products/{id}",
                    "declared": [200, 401, 404],
                    "seen": [200, 404, 500],
                },
                # The coverage phase's undeclared methods: folded into one row per path.
                *(
                    {"method": method, "path": path, "declared": [], "seen": seen}
                    for method, path, seen in UNDECLARED_TRIED
                ),
            ]
        },
        "artifacts": {"junit": "contract/junit.xml"},
    }


def load_summary(failing: bool) -> dict[str, Any]:
    # Locust's rows, second by second: the first two while users spawn (no request measured,
    # 0 ms and 0 requests/s), then the run, with Locust's whole-millisecond figures.
    history = [
        {
            "t": i,
            "at": HISTORY_START + i,
            "users": min(10, 2 * (i + 1)),
            "rps": 0.0 if i < SPAWN_ROWS else 40.0 + 12 * i,
            "p50_ms": 0.0 if i < SPAWN_ROWS else float(4 + i // 2),
            "p95_ms": 0.0 if i < SPAWN_ROWS else float(9 + i),
            "failures_per_s": 0.0,
        }
        for i in range(HISTORY_ROWS)
    ]
    # The exact per-second percentiles (HDR), from the first second a request came back.
    timeline = [
        {
            "at": HISTORY_START + i,
            "count": 40 + 12 * i,
            "p50_ms": round(3.713 + 0.41 * i, 3),
            "p95_ms": round(8.641 + 1.07 * i, 3),
            "p99_ms": round(12.5 + 1.3 * i, 3),
        }
        for i in range(SPAWN_ROWS, HISTORY_ROWS)
    ]
    p95 = 480.0 if failing else 24.0
    return {
        "schema_version": 1,
        "stage": "load",
        "verdict": "fail" if failing else "pass",
        "target": "http://127.0.0.1:8123",
        "profile": "smoke",
        "started": "2025-01-01T12:00:30+00:00",
        "duration_s": 15.2,
        "gates": [
            {
                "endpoint": GATED_ENDPOINT,
                "metric": "p95_ms",
                "limit": 200,
                "measured": p95,
                "verdict": "fail" if failing else "pass",
            },
            {
                "endpoint": "*",
                "metric": "failure_ratio",
                "limit": 0.01,
                "measured": 0.0,
                "verdict": "pass",
            },
        ],
        "endpoints": {
            name: {
                "requests": 400 + index,
                "failures": 0,
                "rps": 33.3,
                "p50_ms": 5.0 + index,
                "p95_ms": p95 + index,
                "p99_ms": p95 + 10 + index,
            }
            for index, name in enumerate(ENDPOINTS)
        },
        "rule_violations": {"request-id-present": 3} if failing else {},
        "rate_limited": 2,
        "cpu_warning": False,
        "latency_clock": "response",
        "history": history,
        "timeline": timeline,
        "artifacts": {"html": "load/locust.html", "csv_prefix": "load/locust"},
    }


def spec_summary() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "stage": "spec",
        "verdict": "pass",
        "checks": [
            {"name": "openapi-spec-validator", "verdict": "pass", "detail": "valid OpenAPI 3.1"},
            {"name": "redocly lint", "verdict": "pass", "detail": "no problems"},
        ],
        "artifacts": {"lint": "spec/lint.txt"},
    }


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def write_sample_run(run_dir: Path, *, failing: bool = False) -> dict[str, Any]:
    """Lay out a run folder with the three stage summaries and artifacts; returns the run facts
    the pipeline would pass to `write_report`."""
    write_json(run_dir / "spec" / "summary.json", spec_summary())
    (run_dir / "spec" / "lint.txt").write_text("Woohoo! Your API description is valid.\n")
    write_json(run_dir / "contract" / "summary.json", contract_summary(failing))
    (run_dir / "contract" / "junit.xml").write_text(
        f'<testsuite><testcase name="x"><failure message="Bearer {FAKE_JWT}"/></testcase></testsuite>'
        if failing
        else "<testsuite/>"
    )
    write_json(run_dir / "load" / "summary.json", load_summary(failing))
    (run_dir / "load" / "locust.html").write_text("<html>locust</html>")
    (run_dir / "load" / "locust_stats.csv").write_text("Type,Name\n")
    (run_dir / "load" / "locust_stats_history.csv").write_text("Timestamp\n")
    (run_dir / "logs").mkdir(exist_ok=True)
    (run_dir / "logs" / "contract.log").write_text(
        f"login with password {FAKE_PASSWORD} gave {FAKE_JWT}\n" if failing else "ok\n"
    )
    verdict = "fail" if failing else "pass"
    return {
        "run_id": run_dir.name,
        "target": "http://127.0.0.1:8123",
        "embedded": True,
        "profile": "pr",
        "seed": 7,
        "spec_version": "1.0.0",
        "started": "2025-01-01T12:00:00+00:00",
        "duration_s": 41.0,
        "stages": [
            {"name": "spec", "verdict": "pass", "exit_code": 0, "duration_s": 0.9, "reason": None},
            {
                "name": "contract",
                "verdict": verdict,
                "exit_code": int(failing),
                "duration_s": 21.5,
                "reason": "1 test failed" if failing else None,
                "log": "logs/contract.log",
            },
            {
                "name": "load",
                "verdict": verdict,
                "exit_code": int(failing),
                "duration_s": 15.2,
                "reason": "1 gate breached" if failing else None,
            },
            {
                "name": "report",
                "verdict": "pass",
                "exit_code": 0,
                "duration_s": 0.1,
                "reason": None,
            },
        ],
        "artifacts": {"contract_log": "logs/contract.log"},
    }


def test_sample_summaries_name_only_catalogued_rules() -> None:
    """The samples are only worth testing against if they speak the catalogue's rule ids."""
    assert set(contract_summary(True)["rules"]) <= set(RULES)
    assert set(load_summary(True)["rule_violations"]) <= set(RULES)
    named = (FAILING_RULE, SKIPPED_RULE, UNTESTED_RULE, NOT_EXERCISED_RULE, NO_EVIDENCE_RULE)
    assert set(named) <= set(RULES) and len(set(named)) == len(named)


def test_sample_summaries_carry_the_briefing_keys() -> None:
    """The samples follow the contract and load summary formats of the team briefing."""
    contract = contract_summary(False)
    assert {
        "stage",
        "verdict",
        "target",
        "profile",
        "seed",
        "started",
        "duration_s",
        "spec_version",
        "totals",
        "rules",
        "coverage",
        "artifacts",
    } <= set(contract)
    load = load_summary(False)
    assert {
        "stage",
        "verdict",
        "target",
        "profile",
        "started",
        "duration_s",
        "gates",
        "endpoints",
        "rule_violations",
        "rate_limited",
        "cpu_warning",
        "history",
        "artifacts",
    } <= set(load)

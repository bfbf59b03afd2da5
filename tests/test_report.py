"""The run report, built from hand-made stage summaries: what a reader must find on the page,
in summary.json and in summary.md, and what must never be there."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_report_samples import (
    FAILING_RULE,
    FAKE_JWT,
    FAKE_PASSWORD,
    HOSTILE,
    SKIPPED_RULE,
    UNTESTED_RULE,
    write_sample_run,
)

from octopus_qa.report import leaks, write_report
from octopus_qa.report.charts import Series, line_chart, nice_ceiling, sparkline
from octopus_qa.report.redact import redact_text, written_forms
from octopus_qa.report.summary import failure_headline
from octopus_qa.rules import RULES

RUN_ID = "20250101-120000-abcd"


def build(tmp_path: Path, *, failing: bool, run_id: str = RUN_ID) -> tuple[Path, dict[str, Any]]:
    run_dir = tmp_path / "reports" / run_id
    run = write_sample_run(run_dir, failing=failing)
    return run_dir, write_report(run_dir, run, secrets=[FAKE_PASSWORD])


@pytest.fixture
def passing(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    return build(tmp_path, failing=False)


@pytest.fixture
def failing(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    return build(tmp_path, failing=True)


def page(run_dir: Path) -> str:
    return (run_dir / "index.html").read_text(encoding="utf-8")


def test_passing_run_says_pass_in_words_at_the_top(passing: tuple[Path, dict]) -> None:
    run_dir, summary = passing
    html = page(run_dir)
    assert summary["verdict"] == "pass" and summary["exit_code"] == 0
    verdict = html[html.index('id="verdict"') :][:400]
    assert "verdict-pass" in html and ">PASS<" in verdict


def test_failing_run_says_fail_and_why(failing: tuple[Path, dict]) -> None:
    run_dir, summary = failing
    html = page(run_dir)
    assert summary["verdict"] == "fail" and summary["exit_code"] == 1
    verdict = html[html.index('id="verdict"') :][:400]
    assert ">FAIL<" in verdict and "rules failed" in verdict and "load gate breached" in verdict


def test_every_catalogued_rule_is_on_the_page_and_in_the_summary(
    failing: tuple[Path, dict],
) -> None:
    run_dir, summary = failing
    html = page(run_dir)
    for rule in RULES.values():
        assert f'id="rule-{rule.id}"' in html
    assert [r["id"] for r in summary["rules"]] == list(RULES)
    table = {r["id"]: r for r in summary["rules"]}
    some = table["auth-required"]
    assert some["quote"] == RULES["auth-required"].quote
    assert some["source"] == RULES["auth-required"].source
    assert some["basis"] == "documented" and some["tests"]


def test_rule_statuses_follow_the_contract_suite_and_the_load_run(
    failing: tuple[Path, dict],
) -> None:
    _, summary = failing
    status = {r["id"]: r["status"] for r in summary["rules"]}
    assert status[FAILING_RULE] == "fail"
    assert status[SKIPPED_RULE] == "skip"
    assert status["request-id-present"] == "fail"  # passed by the suite, broken 3× under load
    # Every rule passes but the two failed, the one skipped and the one nobody reported.
    assert summary["totals"]["rules"] == {
        "pass": len(RULES) - 4,
        "fail": 2,
        "deviation": 0,
        "skip": 1,
        "untested": 1,
    }


def test_a_rule_nobody_reported_is_untested_not_passed(passing: tuple[Path, dict]) -> None:
    _, summary = passing
    assert {r["id"]: r["status"] for r in summary["rules"]}[UNTESTED_RULE] == "untested"


def test_missing_stage_summaries_leave_every_rule_untested(tmp_path: Path) -> None:
    run_dir = tmp_path / RUN_ID
    run_dir.mkdir()
    run = {
        "run_id": RUN_ID,
        "stages": [
            {"name": "contract", "verdict": "error", "exit_code": None, "reason": "timed out"},
            {"name": "load", "verdict": "not run", "exit_code": None, "reason": "cannot start"},
        ],
    }
    summary = write_report(run_dir, run)
    assert summary["verdict"] == "error" and summary["exit_code"] == 2
    assert summary["reason"] == "contract: timed out"
    assert {r["status"] for r in summary["rules"]} == {"untested"}
    assert "ERROR" in page(run_dir) and "No gates" in page(run_dir)


def test_gates_show_measured_against_limit(failing: tuple[Path, dict]) -> None:
    run_dir, summary = failing
    html = page(run_dir)
    assert summary["totals"]["gates"] == {"passed": 1, "total": 2}
    row = re.search(r"<tr><td>GET /api/v1/products</td><td>p95_ms</td>.*?</tr>", html, re.S)
    assert row is not None
    assert "&lt;= 200<" in row.group(0) and ">480<" in row.group(0) and "FAIL" in row.group(0)


def test_coverage_counts_declared_responses_seen(passing: tuple[Path, dict]) -> None:
    run_dir, summary = passing
    coverage = summary["coverage"]
    assert (coverage["seen"], coverage["declared"], coverage["percent"]) == (7, 9, 77.8)
    by_path = {(op["method"], op["path"]): op for op in coverage["operations"]}
    assert by_path[("GET", "/api/v1/products")]["missing"] == ["400"]
    assert by_path[("GET", "/api/v1/products/{id}")]["undeclared"] == ["500"]
    html = page(run_dir)
    assert "7 of 9 declared responses exercised" in html
    assert 'class="missing"' in html and 'class="undeclared"' in html


def test_text_from_the_target_is_escaped(failing: tuple[Path, dict]) -> None:
    run_dir, _ = failing
    html = page(run_dir)
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(" in html
    assert "<script" not in html  # the page has no script of its own either


def test_page_is_self_contained(passing: tuple[Path, dict]) -> None:
    html = page(passing[0])
    assert not re.search(r"<(link|script|img|iframe)\b", html)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<svg" in html and "<style>" in html


def test_artifact_links_are_relative_and_name_what_exists(failing: tuple[Path, dict]) -> None:
    run_dir, summary = failing
    paths = {a["path"]: a["exists"] for a in summary["artifacts"]}
    assert paths["contract/junit.xml"] and paths["load/locust.html"]
    assert paths["load/locust_stats.csv"] and paths["load/locust_stats_history.csv"]
    html = page(run_dir)
    for path in ("contract/junit.xml", "load/locust.html", "logs/contract.log", "summary.md"):
        assert f'href="{path}"' in html
        assert not Path(path).is_absolute()


def test_summary_json_and_markdown_tell_the_same_story(failing: tuple[Path, dict]) -> None:
    run_dir, summary = failing
    on_disk = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    markdown = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert on_disk["verdict"] == "fail" and on_disk["exit_code"] == 1
    assert [s["name"] for s in on_disk["stages"]] == ["spec", "contract", "load", "report"]
    rules = on_disk["totals"]["rules"]
    assert markdown.startswith("## octoqa run: ❌ FAIL")
    assert f"{rules['pass']} pass · {rules['fail']} fail · {rules['skip']} skip" in markdown
    assert "**Load gates:** 1/2 met." in markdown
    for rule in (r for r in on_disk["rules"] if r["status"] == "fail"):
        assert f"`{rule['id']}`" in markdown
    assert "| GET /api/v1/products | p95_ms | 200 | 480 |" in markdown
    assert "<script>" not in markdown


def test_no_password_or_token_survives_anywhere_in_the_run(failing: tuple[Path, dict]) -> None:
    run_dir, _ = failing
    assert leaks(run_dir, [FAKE_PASSWORD]) == []
    for path in run_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert FAKE_JWT.encode() not in data, path
            assert FAKE_PASSWORD.encode() not in data, path
            assert b"eyJ" not in data, path
    assert "[REDACTED-JWT]" in (run_dir / "logs" / "contract.log").read_text()


def test_a_password_is_scrubbed_in_every_form_it_is_written() -> None:
    password = 'pa"ss&<word>'
    for form in written_forms(password):
        assert redact_text(f"before {form} after", [password]) == "before [REDACTED] after"


def test_trend_compares_this_run_with_the_earlier_ones(tmp_path: Path) -> None:
    for index, failing_run in enumerate((False, True, False)):
        build(tmp_path, failing=failing_run, run_id=f"2025010{index + 1}-120000-000{index}")
    run_dir, _ = build(tmp_path, failing=False, run_id="20250104-120000-0003")
    html = page(run_dir)
    trend = html[html.index('id="trend"') : html.index('id="artifacts"')]
    assert "Trend (last 4 runs)" in trend
    for run_id in ("20250101-120000-0000", "20250102-120000-0001", "20250103-120000-0002"):
        assert run_id in trend
    assert ">480<" in trend and ">24<" in trend  # the slow run's p95 beside the fast ones'
    assert trend.count('class="sparkline"') == 4  # three endpoints and the rules passed


def test_trend_of_a_first_run_says_there_is_nothing_to_compare(passing: tuple[Path, dict]) -> None:
    assert "No earlier runs" in page(passing[0])


def test_line_chart_draws_one_line_per_series_with_a_dot_per_point() -> None:
    svg = line_chart(
        [Series("p50", [(0, 1), (1, 2), (2, 3)]), Series("p95 <b>", [(0, 5), (2, 9)])],
        title="Latency",
        x_label="s",
        y_label="ms",
    )
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 5
    assert "p95 &lt;b&gt;" in svg and "<b>" not in svg
    assert ">10</text>" in svg  # the y axis tops out at a round number above 9


def test_line_chart_without_points_says_no_data() -> None:
    svg = line_chart([Series("p50", [])], title="Latency", x_label="s", y_label="ms")
    assert "no data" in svg and "<polyline" not in svg


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (0.7, 1), (9, 10), (11, 20), (240, 250), (4100, 5000)]
)
def test_axis_tops_are_round_numbers(value: float, top: float) -> None:
    assert nice_ceiling(value) == top


def test_sparkline_skips_runs_without_a_value() -> None:
    svg = sparkline([10.0, None, 30.0], label="p95")
    coords = re.search(r'points="([^"]+)"', svg)
    assert coords is not None and len(coords.group(1).split()) == 2


def test_a_failure_is_headlined_by_the_line_naming_its_rule() -> None:
    long_form = (
        "    def request_id_follows_rules(exchange):\n"
        ">           raise RuleViolation(...)\n"
        "E           octopus_qa.rules.RuleViolation: [request-id-present] Every response carries "
        "X-Request-Id: POST /auth/login → 200 has none\n"
        "/work/main/src/octopus_qa/rules.py:140: RuleViolation\n"
    )
    assert failure_headline(long_form, "request-id-present") == (
        "[request-id-present] Every response carries X-Request-Id: POST /auth/login → 200 has none"
    )
    assert failure_headline("x\nE   assert 1 == 2\nE    +  where", "other-rule") == (
        "assert 1 == 2 +  where"
    )
    assert failure_headline("just one line", "other-rule") == "just one line"


def test_a_rule_named_in_a_list_is_headlined_by_its_own_detail() -> None:
    grouped = (
        "  | AssertionError: rules broken: [a-rule] [b-rule]\n"
        "  |     [b-rule] B title: b detail\n"
        "  |     [a-rule] A title: a detail\n"
    )
    assert failure_headline(grouped, "a-rule") == "[a-rule] A title: a detail"
    assert failure_headline("AssertionError: rules broken: [a-rule] [b-rule]", "b-rule") == (
        "AssertionError: rules broken: [a-rule] [b-rule]"
    )


def test_known_deviations_have_their_own_verdict_and_expired_or_stale_entries_are_named(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "reports" / RUN_ID
    run = write_sample_run(run_dir, failing=False)
    contract_path = run_dir / "contract" / "summary.json"
    contract = json.loads(contract_path.read_text(encoding="utf-8"))
    contract["rules"]["error-envelope"] = {
        "status": "deviation",
        "tests": [{"nodeid": "t::x", "outcome": "deviation", "message": "known deviation: ..."}],
    }
    entry = {"operation": None, "status": None, "reason": "flat errors", "matched": 0}
    contract["deviations"] = {
        "file": "deviations.toml",
        "entries": [
            {**entry, "rule": "error-envelope", "link": "https://t.example/1", "matched": 3,
             "expires": "2999-12-31", "state": "matched"},
            {**entry, "rule": "sort-format", "link": "javascript:alert(1)",
             "expires": "2020-01-31", "state": "expired"},
            {**entry, "rule": "filters-match", "link": "T-3", "expires": "2999-12-31",
             "state": "stale"},
        ],
    }  # fmt: skip
    contract_path.write_text(json.dumps(contract), encoding="utf-8")
    summary = write_report(run_dir, run)
    assert {r["id"]: r["status"] for r in summary["rules"]}["error-envelope"] == "deviation"
    assert summary["totals"]["rules"]["deviation"] == 1
    html = page(run_dir)
    assert ">DEVIATION<" in html and "1 known deviation" in html
    assert ">EXPIRED<" in html and ">STALE<" in html and ">MATCHED<" in html
    assert 'href="javascript:' not in html
    markdown = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "1 known deviation" in markdown
    assert "expired (failing again):** `sort-format`" in markdown
    assert "stale (matched nothing):** `filters-match`" in markdown

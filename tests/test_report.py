"""The run report, built from hand-made stage summaries: what a reader must find on the page,
in summary.json and in summary.md, and what must never be there."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_report_samples import (
    ENDPOINTS,
    FAILING_RULE,
    FAKE_JWT,
    FAKE_PASSWORD,
    HOSTILE,
    NO_EVIDENCE_RULE,
    NOT_EXERCISED_REASON,
    NOT_EXERCISED_RULE,
    SKIPPED_RULE,
    UNTESTED_RULE,
    load_summary,
    write_sample_run,
)

from octopus_qa.report import leaks, write_report
from octopus_qa.report.charts import Series, line_chart, nice_ticks, sparkline
from octopus_qa.report.findings import console_lines
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


def banner_of(html: str) -> str:
    return html[html.index('id="verdict"') : html.index("</header>")]


def test_failing_run_names_its_broken_rules_and_breached_gates_in_the_banner(
    failing: tuple[Path, dict],
) -> None:
    run_dir, summary = failing
    assert summary["verdict"] == "fail" and summary["exit_code"] == 1
    banner = banner_of(page(run_dir))
    assert ">FAIL<" in banner
    for rule_id in (FAILING_RULE, "request-id-present"):  # one by the suite, one under load
        assert f'<a href="#rule-{rule_id}"><code>{rule_id}</code></a> {RULES[rule_id].title}' in (
            banner.replace("&#39;", "'")
        )
    assert "broken 3× under load" in banner
    assert "list p95_ms ≤ 200, measured 480" in banner
    assert "rules failed" not in banner and "1 rule failed" not in banner
    assert f"{len(RULES) - 5} rules held, 2 broken, 2 not exercised, 1 skipped" in banner
    assert "1 of 2 load gates met" in banner


def test_a_failure_no_rule_or_gate_explains_says_its_reason_in_the_banner(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / RUN_ID
    run = write_sample_run(run_dir, failing=False)
    run["stages"][2] |= {"verdict": "fail", "exit_code": 1, "reason": "the target went away"}
    summary = write_report(run_dir, run)
    assert summary["verdict"] == "fail"
    banner = banner_of(page(run_dir))
    assert "load: the target went away" in banner and 'id="broken-rules"' not in banner
    assert "**Why:** load: the target went away" in (run_dir / "summary.md").read_text()


def test_broken_rules_come_first_in_the_rules_table(failing: tuple[Path, dict]) -> None:
    html = page(failing[0])
    order = re.findall(r'<tr id="rule-([a-z0-9-]+)" class="rule-([a-z]+)"', html)
    statuses = [status for _, status in order]
    assert statuses[:2] == ["fail", "fail"]
    assert statuses == sorted(statuses, key=["fail", "deviation", "untested", "skip", "pass"].index)
    assert {rule_id for rule_id, _ in order[:2]} == {FAILING_RULE, "request-id-present"}
    heading = html[html.index('<h2 id="rules">') :][:200]
    assert "2 broken" in heading and "2 not exercised" in heading


def test_each_rule_shows_its_evidence_and_an_untested_one_its_reason(
    failing: tuple[Path, dict],
) -> None:
    run_dir, summary = failing
    table = {r["id"]: r for r in summary["rules"]}
    assert table["auth-required"]["exchanges"] > 1200 and table["auth-required"]["tests_applied"]
    html = page(run_dir)

    def row(rule_id: str) -> str:
        start = html.index(f'<tr id="rule-{rule_id}"')
        return html[start : html.index("</tr>", start)]

    exchanges = table["auth-required"]["exchanges"]
    assert f"applied to {exchanges:,} exchanges in 3 tests" in row("auth-required")
    assert f"not exercised: {NOT_EXERCISED_REASON}" in row(NOT_EXERCISED_RULE)
    assert "not exercised: no contract test reported on it" in row(UNTESTED_RULE)
    assert "no evidence recorded" in row(NO_EVIDENCE_RULE)  # 0/"" is no evidence, not zeros
    assert not re.search(r"\b0 exchanges", html)
    markdown = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert f"`{NOT_EXERCISED_RULE}` ({NOT_EXERCISED_REASON})" in markdown
    assert f"| `auth-required` | held | applied to {exchanges:,} exchanges in 3 tests |" in markdown


def test_the_console_ends_with_the_broken_rules_by_id_and_title(
    failing: tuple[Path, dict],
) -> None:
    _, summary = failing
    lines = console_lines(summary)
    assert lines[0].startswith(f"Rules: {len(RULES) - 5} rules held, 2 broken, 2 not exercised")
    assert lines[-3] == "Broken rules (2):"
    assert set(lines[-2:]) == {
        f"  {FAILING_RULE}: {RULES[FAILING_RULE].title}",
        f"  request-id-present: {RULES['request-id-present'].title} (broken 3x under load)",
    }
    assert "  list p95_ms <= 200, measured 480" in lines
    assert f"  {NOT_EXERCISED_RULE}: {NOT_EXERCISED_REASON}" in lines


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
    assert status[NOT_EXERCISED_RULE] == "untested"  # reported, but never applied: not a pass
    assert status["request-id-present"] == "fail"  # passed by the suite, broken 3× under load
    # Every rule passes but the two failed, the one skipped and the two not exercised.
    assert summary["totals"]["rules"] == {
        "pass": len(RULES) - 5,
        "fail": 2,
        "deviation": 0,
        "skip": 1,
        "untested": 2,
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
    assert "no load gates judged" in banner_of(page(run_dir))  # not "0 of 0 load gates met"


def test_gates_show_measured_against_limit(failing: tuple[Path, dict]) -> None:
    run_dir, summary = failing
    html = page(run_dir)
    assert summary["totals"]["gates"] == {"passed": 1, "total": 2}
    row = re.search(r"<tr><td>list</td><td>p95_ms</td>.*?</tr>", html, re.S)
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
    assert 'class="undeclared"' in html


def test_a_declared_status_nobody_saw_is_not_seen_not_a_failure(passing: tuple[Path, dict]) -> None:
    html = page(passing[0])
    table = html[html.index('<table class="cov">') : html.index('<h2 id="load">')]
    assert '<td class="not-seen" title="declared, not seen in this run">–</td>' in table
    assert "✗" not in table and 'class="missing"' not in table


def test_undeclared_methods_fold_into_one_row_per_path_naming_their_answers(
    passing: tuple[Path, dict],
) -> None:
    run_dir, summary = passing
    coverage = summary["coverage"]
    assert [(op["method"], op["path"]) for op in coverage["operations"]] == [
        ("POST", "/auth/login"),
        ("GET", "/api/v1/products"),
        ("GET", "/api/v1/products/{id}"),
    ]
    others = {entry["path"]: entry for entry in coverage["other_methods"]}
    assert others["/api/v1/products"]["methods"] == ["DELETE", "HEAD", "OPTIONS", "QUERY", "TRACE"]
    assert others["/api/v1/products"]["answers"] == [
        {"status": "401", "methods": ["HEAD", "OPTIONS"]},
        {"status": "404", "methods": ["DELETE", "OPTIONS", "QUERY", "TRACE"]},
    ]
    html = page(run_dir)
    table = html[html.index('<table class="cov">') : html.index('<h2 id="load">')]
    assert table.count('<tr class="others">') == 2
    assert "<code>DELETE" not in table and "<code>TRACE" not in table
    assert "5 other methods" in table and "2 other methods" in table
    assert "<b>404</b> to DELETE, OPTIONS, QUERY, TRACE" in table


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
    head = markdown[: markdown.index("| # | Stage |")]  # above the stages: what broke, by name
    assert f"`{FAILING_RULE}` {RULES[FAILING_RULE].title}" in head
    assert "**Load gates breached:** list p95_ms ≤ 200, measured 480." in head
    assert (
        f"**Rules:** {rules['pass']} rules held, {rules['fail']} broken, "
        f"{rules['untested']} not exercised, {rules['skip']} skipped (of {len(RULES)})."
    ) in markdown
    assert "**Load:** 1 of 2 load gates met." in markdown
    for rule in (r for r in on_disk["rules"] if r["status"] == "fail"):
        assert f"`{rule['id']}`" in markdown
    assert "| list | p95_ms | 200 | 480 |" in markdown
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
    assert "Trend (last 4 runs, oldest first)" in trend
    for run_id in ("20250101-120000-0000", "20250102-120000-0001", "20250103-120000-0002"):
        assert run_id in trend
    assert ">480<" in trend and ">24<" in trend  # the slow run's p95 beside the fast ones'
    # One per endpoint, and one for the rules held.
    assert trend.count('class="sparkline"') == len(ENDPOINTS) + 1


def test_trend_p95_table_keeps_a_column_per_run_for_the_last_ten_only(tmp_path: Path) -> None:
    """However many runs `trend_runs` compares, the p95 table fits the page: the last 10 runs get
    a column each, the sparkline shows them all."""
    for index in range(12):
        run_dir = tmp_path / "reports" / f"202501{index + 1:02d}-120000-00{index:02d}"
        write_report(run_dir, write_sample_run(run_dir), trend_runs=12)
    html = page(run_dir)
    table = html[html.index('<table class="trend-p95">') :]
    table = table[: table.index("</table>")]
    header = table[: table.index("</tr>")]
    assert re.findall(r">#(\d+)</th>", header) == [str(n) for n in range(3, 13)]
    assert "the last 10 runs, the sparkline all 12" in table
    assert "(ms)" in header and "in ms" in table


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
    assert ">2</text>" in svg and ">2.5</text>" not in svg  # ticked 2 apart


def test_line_chart_without_points_says_no_data() -> None:
    svg = line_chart([Series("p50", [])], title="Latency", x_label="s", y_label="ms")
    assert "no data" in svg and "<polyline" not in svg


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0, 0, [0, 1]),
        (0, 0.7, [0, 0.2, 0.4, 0.6, 0.8]),
        (0, 8.2, [0, 2, 4, 6, 8, 10]),
        (0, 11, [0, 2, 4, 6, 8, 10, 12]),
        (0, 240, [0, 50, 100, 150, 200, 250]),
        (0, 4100, [0, 1000, 2000, 3000, 4000, 5000]),
        (50, 400, [0, 100, 200, 300, 400]),
    ],
)
def test_axes_are_ticked_at_round_numbers(low: float, high: float, ticks: list[float]) -> None:
    assert nice_ticks(low, high) == pytest.approx(ticks)
    assert is_round_ticking(nice_ticks(low, high))


def is_round_ticking(ticks: list[float]) -> bool:
    """Ticks evenly 1, 2 or 5 × 10^n apart, each a multiple of that step."""
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    if len(steps) != 1:
        return False
    step = steps.pop()
    return f"{step:.0e}"[0] in "125" and all(abs(t / step - round(t / step)) < 1e-6 for t in ticks)


def test_response_time_chart_plots_the_exact_figures_from_the_first_measurement(
    passing: tuple[Path, dict],
) -> None:
    html = page(passing[0])
    latency = html[html.index('aria-label="Response time') :]
    latency = latency[: latency.index("</svg>")]
    assert "Response time (exact)" in latency
    # The exact figures (4.533 ms ...), not Locust's whole milliseconds, from the first second.
    first = load_summary(False)["timeline"][0]
    assert f"p50: {first['p50_ms']:g} at 0</title>" in latency
    assert f"p95: {first['p95_ms']:g} at 0</title>" in latency
    assert ": 0 at 0</title>" not in latency  # no 0 ms from before the first request
    for anchor in ("end", "middle"):  # the y axis, the x axis
        ticks = [
            float(tick)
            for tick in re.findall(rf'text-anchor="{anchor}" class="tick">([^<]+)<', latency)
        ]
        assert ticks[0] == 0 and is_round_ticking(ticks), (anchor, ticks)
    assert (
        "time since the first measurement, s" in latency
        and "ms, from the intended start" in latency
    )


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
    assert ">KNOWN DEVIATION<" in html and "1 known deviation" in html
    assert ">EXPIRED<" in html and ">STALE<" in html and ">MATCHED<" in html
    assert 'href="javascript:' not in html
    markdown = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "1 known deviation" in markdown
    assert "expired (failing again):** `sort-format`" in markdown
    assert "stale (matched nothing):** `filters-match`" in markdown

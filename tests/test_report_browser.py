"""The report page in a real browser: it renders from disk, says its verdict, draws its charts,
logs no errors and asks the network for nothing; a real failing run names its broken rule in the
first screen, and no table runs out of the page's column.

Debian's chromium, driven by Playwright's Python package (no `playwright install`: it downloads
browsers). Skipped, with the reason, where either is missing; .ci/run installs chromium.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from contract_runs import run_contract, sandbox
from test_report_samples import write_sample_run

from octopus_qa.report import write_report
from octopus_qa.rules import RULES
from octopus_qa.sandbox.faults import FAULTS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: A laptop's browser window: what a person sees before scrolling.
FIRST_SCREEN = {"width": 1400, "height": 900}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright's Python package is not installed"
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install -y chromium; .ci/run does it on CI)",
)


#: Every table and chart whose right edge passes the right edge of the page's column (the
#: body's content box), with by how many pixels; every cell whose content spills out of it; and
#: how wide the document scrolls.
OVERFLOW_JS = """() => {
  const body = document.body, style = getComputedStyle(body);
  const right = body.getBoundingClientRect().right - parseFloat(style.paddingRight);
  const section = el => {  // the id of the h2 the element comes under
    for (let at = el.closest('body > *'); at; at = at.previousElementSibling)
      if (at.tagName === 'H2') return at.id;
    return null;
  };
  const over = [...document.querySelectorAll('table, svg.chart')]
    .map(el => [el.className.baseVal ?? el.className, section(el),
                Math.round(el.getBoundingClientRect().right - right)])
    .filter(([, , by]) => by > 0);
  const spilling = [...document.querySelectorAll('td, th')]  // content wider than its cell
    .filter(cell => cell.scrollWidth > cell.clientWidth + 1)
    .map(cell => [section(cell), cell.textContent.trim().slice(0, 40)]);
  return {over, spilling, scroll_width: document.documentElement.scrollWidth,
          width: window.innerWidth};
}"""


def open_in_browser(
    index: Path, screenshot: Path | None = None, broken_rule: str | None = None
) -> dict[str, Any]:
    """Load `index` from file:// in a 1,400 × 900 window; return what a person (and the
    console) saw: without scrolling, and across the page's width."""
    requests: list[str] = []
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=FIRST_SCREEN)
            page.on("request", lambda request: requests.append(request.url))
            page.on(
                "console",
                lambda message: problems.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(index.as_uri(), wait_until="load")
            seen = {
                "title": page.title(),
                "verdict": page.locator("#verdict .word").inner_text(),
                "verdict_visible": page.locator("#verdict").is_visible(),
                "chart_lines": page.locator("#charts svg polyline").count(),
                "chart_points": page.locator("#charts svg circle").count(),
                "line_lengths": page.eval_on_selector_all(
                    "#charts svg polyline", "lines => lines.map(l => l.getTotalLength())"
                ),
                "rules_rows": page.locator("table.rules tr[id^=rule-]").count(),
                "overflow": page.evaluate(OVERFLOW_JS),
                "requests": requests,
                "problems": problems,
            }
            if broken_rule is not None:
                seen["broken_rule"] = first_screen_view(page, broken_rule)
            if screenshot is not None:
                page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    return seen


def first_screen_view(page: Any, rule_id: str) -> dict[str, Any]:
    """Where the banner's entry for `rule_id` is, and what it says, before any scrolling."""
    entry = page.locator("#broken-rules li", has=page.locator(f'a[href="#rule-{rule_id}"]'))
    box = entry.bounding_box() if entry.count() == 1 else None
    return {
        "visible": entry.count() == 1 and entry.is_visible(),
        "inside_first_screen": box is not None
        and box["y"] >= 0
        and box["y"] + box["height"] <= FIRST_SCREEN["height"]
        and box["x"] + box["width"] <= FIRST_SCREEN["width"],
        "text": entry.inner_text() if entry.count() == 1 else "",
    }


def assert_nothing_overflows(seen: dict[str, Any]) -> None:
    overflow = seen["overflow"]
    assert overflow["over"] == [], overflow  # [table class, section, pixels past the column]
    assert overflow["spilling"] == [], overflow  # [section, the cell's text]
    assert overflow["scroll_width"] <= overflow["width"], overflow


@pytest.mark.parametrize(("failing", "word"), [(False, "PASS"), (True, "FAIL")])
def test_report_renders_its_verdict_and_charts_offline(
    tmp_path: Path, failing: bool, word: str
) -> None:
    run_dir = tmp_path / "20250101-120000-abcd"
    write_report(run_dir, write_sample_run(run_dir, failing=failing))
    shot = tmp_path / "page.png"
    seen = open_in_browser(run_dir / "index.html", shot)
    assert seen["verdict_visible"] and seen["verdict"] == word
    assert seen["title"].startswith(word)
    assert seen["chart_lines"] == 5  # p50, p95; requests/s, failures/s, users
    # From the first measurement: the sample's 10 exact seconds, and Locust's 10 rows from then
    # on (its 2 rows of users spawning before any request are left out).
    assert seen["chart_points"] == 5 * 10
    assert all(length > 100 for length in seen["line_lengths"])
    assert seen["rules_rows"] == len(RULES)
    assert_nothing_overflows(seen)
    assert seen["problems"] == []
    assert [url for url in seen["requests"] if not url.startswith("file://")] == []
    assert 0 < shot.stat().st_size < 300_000


#: The planted fault, and the contract tests of its rule (the rest of the suite is not needed to
#: break it: a few seconds instead of a minute).
FAULT = "filters-or-combined"
ITS_TESTS = "test_filters_in_combination"
#: Runs before the failing one, so the trend's tables are as wide as they get (10 runs).
EARLIER_RUNS = 9


@pytest.mark.slow
def test_a_failing_run_names_its_broken_rule_in_the_first_screen_and_fits_the_page(
    tmp_path: Path,
) -> None:
    rule = FAULTS[FAULT].rule
    reports = tmp_path / "reports"
    for number in range(EARLIER_RUNS):
        earlier = reports / f"20250101-1200{number:02d}-000{number}"
        write_report(earlier, write_sample_run(earlier, failing=number % 3 == 1))
    run_dir = reports / "20250102-120000-beef"
    with sandbox("--fault", FAULT) as url:
        result = run_contract(
            run_dir, "--target", url, "--profile", "quick", "--seed", "1", "--", "-k", ITS_TESTS
        )
    assert result.exit_code == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert result.rule_status(rule) == "fail"
    summary = write_report(run_dir, contract_run_facts(run_dir, result.duration_s))
    assert summary["verdict"] == "fail" and len(summary["rules"]) == len(RULES)

    seen = open_in_browser(run_dir / "index.html", tmp_path / "page.png", broken_rule=rule)
    assert seen["verdict"] == "FAIL"
    named = seen["broken_rule"]
    assert named["visible"] and named["inside_first_screen"], named
    assert named["text"] == f"{rule} {RULES[rule].title}"
    assert_nothing_overflows(seen)
    assert seen["problems"] == []


def contract_run_facts(run_dir: Path, duration_s: float) -> dict[str, Any]:
    """What the pipeline would hand the report for a run of the contract stage alone."""
    return {
        "run_id": run_dir.name,
        "target": "sandbox with a planted fault",
        "profile": "quick",
        "seed": 1,
        "started": "2025-01-02T12:00:00+00:00",
        "duration_s": round(duration_s, 1),
        "stages": [
            {
                "name": "contract",
                "verdict": "fail",
                "exit_code": 1,
                "duration_s": round(duration_s, 1),
                "reason": "tests failed",
            }
        ],
    }

"""The report page in a real browser: it renders from disk, says its verdict, draws its charts,
logs no errors and asks the network for nothing.

Debian's chromium, driven by Playwright's Python package (no `playwright install`: it downloads
browsers). Skipped, with the reason, where either is missing; .ci/run installs chromium.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_report_samples import write_sample_run

from octopus_qa.report import write_report
from octopus_qa.rules import RULES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
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


def open_in_browser(index: Path, screenshot: Path | None = None) -> dict:
    """Load `index` from file://; return what a person (and the console) saw."""
    requests: list[str] = []
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
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
                "requests": requests,
                "problems": problems,
            }
            if screenshot is not None:
                page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    return seen


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
    assert seen["chart_points"] == 5 * 12
    assert all(length > 100 for length in seen["line_lengths"])
    assert seen["rules_rows"] == len(RULES)
    assert seen["problems"] == []
    assert [url for url in seen["requests"] if not url.startswith("file://")] == []
    assert 0 < shot.stat().st_size < 300_000

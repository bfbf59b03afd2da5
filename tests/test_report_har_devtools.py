"""A failing run's HAR opens in a browser's devtools: Chromium's own DevTools imports it.

Not a copy of DevTools: the DevTools front end the installed Chromium ships (its bundled
`devtools://devtools/bundled/devtools_app.html`, the very app F12 opens), loaded in headless
Chromium. The test clicks its Network tab and gives the panel's "Import HAR file" input the
file, as a user does; the panel then runs DevTools' own `HARRoot` parser and `Importer`
(models/har/). What the Network log holds afterwards is read back through DevTools' own
modules: each entry's URL, method, status, headers and timings as DevTools understood them; the
grid's footer counts the rows it lists. The files come from a real failing contract run and a
real failing load run; a deliberately broken HAR is refused the way DevTools refuses one (its
console error, nothing imported).

Why not the `chrome-devtools-frontend` npm package: it ships DevTools' TypeScript sources, which
a browser cannot load without building the whole front end; the app bundled in Chromium is that
build, of the same sources, and what a user's browser runs. Needs chromium and Playwright's
Python package, as tests/test_report_browser.py (.ci/run installs chromium); skipped with the
reason where either is missing.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from contract_runs import run_contract
from contract_runs import sandbox as contract_sandbox
from test_load_runs import load_against
from test_load_runs import sandbox as load_sandbox
from test_report_browser import CHROMIUM, CHROMIUM_ARGS, sync_api

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install -y chromium; .ci/run does it on CI)",
)

DEVTOOLS = "devtools://devtools/bundled/"
#: DevTools' own words when its HAR parser throws (panels/network/NetworkLogView.ts).
REFUSED = "Failed to load HAR file with following error"
IMPORT_DEADLINE_MS = 15_000
#: The Network panel's footer: how many requests its grid lists.
FOOTER = re.compile(r"^\d+ requests$")

#: What DevTools' Network log holds, read through its own modules: every request and every
#: console message (where a refused HAR is reported).
READ_NETWORK_LOG = """async base => {
  const Logs = await import(base + 'models/logs/logs.js');
  const Common = await import(base + 'core/common/common.js');
  const headers = list => list.map(h => [h.name, h.value]);
  const requests = Logs.NetworkLog.NetworkLog.instance().requests().map(r => ({
    url: r.url(), method: r.requestMethod, status: r.statusCode, statusText: r.statusText,
    requestHeaders: headers(r.requestHeaders()), responseHeaders: headers(r.responseHeaders),
    requestBody: r.requestFormData ?? null, mimeType: r.mimeType, imported: r.isImportedHar(),
    startTime: r.startTime, endTime: r.endTime, sendStart: r.timing.sendStart,
    sendEnd: r.timing.sendEnd, receiveHeadersEnd: r.timing.receiveHeadersEnd,
  }));
  const messages = Common.Console.Console.instance().messages().map(m => m.text);
  return {requests, messages};
}"""


def open_in_devtools(har: Path) -> dict[str, Any]:
    """Import `har` into Chromium's Network panel as a user does; what DevTools made of it."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            answer = page.goto(DEVTOOLS + "devtools_app.html", wait_until="load")
            assert answer is not None and answer.ok, "this chromium ships no DevTools front end"
            page.get_by_role("tab", name="Network").click(timeout=IMPORT_DEADLINE_MS)
            page.locator("input[type=file]").set_input_files(str(har))
            seen: dict[str, Any] = {}
            for _ in range(IMPORT_DEADLINE_MS // 250):  # the import reads the file asynchronously
                seen = page.evaluate(READ_NETWORK_LOG, DEVTOOLS)
                if seen["requests"] or any(REFUSED in m for m in seen["messages"]):
                    break
                page.wait_for_timeout(250)
            seen["footer"] = read_footer(page, len(seen["requests"]))
        finally:
            browser.close()
    return seen


def read_footer(page: Any, requests: int) -> str:
    """The Network panel's footer once it counts `requests` (the grid is drawn after the log is
    filled: read at once, a busy machine's footer was still empty), or what it says at the
    deadline."""
    footer, text = page.get_by_text(FOOTER), ""
    for _ in range(IMPORT_DEADLINE_MS // 250):
        text = footer.first.inner_text() if footer.count() else ""
        if text.startswith(f"{requests} requests"):
            break
        page.wait_for_timeout(250)
    return text


def started_at(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["startedDateTime"]).timestamp()


def assert_devtools_shows_every_entry(har: Path) -> list[dict[str, Any]]:
    """Every entry of `har` in DevTools' Network log, field by field, in its start order."""
    entries = json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]
    seen = open_in_devtools(har)
    assert not [m for m in seen["messages"] if REFUSED in m], seen["messages"]
    requests = seen["requests"]
    assert len(requests) == len(entries) and seen["footer"].startswith(f"{len(entries)} requests")
    # DevTools lists the entries by start time (a stable sort, as Python's).
    for entry, request in zip(sorted(entries, key=started_at), requests, strict=True):
        sent, answer = entry["request"], entry["response"]
        assert request["imported"] is True
        assert (request["method"], request["url"]) == (sent["method"], sent["url"])
        assert request["status"] == answer["status"]
        assert request["statusText"] == answer["statusText"]
        assert request["requestHeaders"] == [[h["name"], h["value"]] for h in sent["headers"]]
        assert request["responseHeaders"] == [[h["name"], h["value"]] for h in answer["headers"]]
        assert request["requestBody"] == sent.get("postData", {}).get("text")
        assert request["startTime"] == pytest.approx(started_at(entry), abs=1e-3)
        assert_timings(entry, request)
    print(f"\nDevTools listed {seen['footer']!r} from {har.name}: {len(entries)} entries")
    return list(requests)


def assert_timings(entry: dict[str, Any], request: dict[str, Any]) -> None:
    """DevTools' waterfall from the entry's timings: sending from the start, the answer's
    headers after send + wait, the request over after `time` (all in milliseconds)."""
    timings = entry["timings"]
    assert request["sendStart"] == pytest.approx(max(timings.get("blocked", 0), 0))
    assert request["sendEnd"] - request["sendStart"] == pytest.approx(timings["send"])
    assert request["receiveHeadersEnd"] - request["sendEnd"] == pytest.approx(timings["wait"])
    ended = max(entry["time"], request["receiveHeadersEnd"] + timings["receive"])
    assert (request["endTime"] - request["startTime"]) * 1000 == pytest.approx(ended, abs=1e-3)


# --- HAR files from real failing runs -------------------------------------------------------


@pytest.fixture(scope="module")
def contract_har(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """contract/failures.har of a quick contract run against a planted filter bug."""
    run_dir = tmp_path_factory.mktemp("contract-run")
    with contract_sandbox("--fault", "filters-or-combined") as url:
        result = run_contract(run_dir, "--target", url, "--profile", "quick", "--seed", "5")
    assert result.exit_code == 1, result.stdout[-2000:] + result.stderr[-2000:]
    yield run_dir / "contract" / "failures.har"


@pytest.fixture(scope="module")
def load_har(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """load/failures.har of a load run, over two workers, against a planted pagination bug."""
    run_dir = tmp_path_factory.mktemp("load-run") / "run"
    with load_sandbox("--fault", "total-pages-off-by-one") as url:
        code, summary, output = load_against(url, run_dir, "--workers", "2")
    assert code == 1 and summary["artifacts"]["failures_har"] == "load/failures.har", output
    yield run_dir / "load" / "failures.har"


@pytest.mark.slow
def test_a_failing_contract_runs_har_opens_in_chromiums_devtools(contract_har: Path) -> None:
    requests = assert_devtools_shows_every_entry(contract_har)
    assert all("/api/v1/products" in r["url"] for r in requests)


@pytest.mark.slow
def test_a_failing_load_runs_har_opens_in_chromiums_devtools(load_har: Path) -> None:
    requests = assert_devtools_shows_every_entry(load_har)
    assert all("/api/v1/products" in r["url"] for r in requests)
    # The pagination headers the rule judged are there to read in DevTools' Headers tab.
    assert all(
        any(name.lower() == "x-total-pages" for name, _ in r["responseHeaders"]) for r in requests
    )


@pytest.mark.slow
def test_devtools_lays_out_timings_a_har_gives(load_har: Path, tmp_path: Path) -> None:
    """Our entries carry no durations (report/har.py says why: all 0). The same file with
    durations written in shows DevTools' waterfall is built from the entry's own numbers."""
    document = json.loads(load_har.read_text(encoding="utf-8"))
    for i, entry in enumerate(document["log"]["entries"]):
        entry["timings"] = {"blocked": 1.5, "send": 0.25 * i, "wait": 12.0 + i, "receive": 3.5}
        entry["time"] = 1.5 + 0.25 * i + 12.0 + i + 3.5
    timed = tmp_path / "timed.har"
    timed.write_text(json.dumps(document), encoding="utf-8")
    requests = assert_devtools_shows_every_entry(timed)
    assert all(r["receiveHeadersEnd"] > 12 for r in requests)


@pytest.mark.slow
def test_devtools_refuses_a_broken_har(contract_har: Path, tmp_path: Path) -> None:
    """The check can fail: the contract run's HAR with one entry's response cut out is refused
    by DevTools' parser (its console error), and nothing of the file is listed."""
    document = json.loads(contract_har.read_text(encoding="utf-8"))
    broken = copy.deepcopy(document)
    del broken["log"]["entries"][0]["response"]
    path = tmp_path / "broken.har"
    path.write_text(json.dumps(broken), encoding="utf-8")
    seen = open_in_devtools(path)
    assert seen["requests"] == []
    assert [m for m in seen["messages"] if REFUSED in m], seen["messages"]

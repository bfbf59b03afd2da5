"""Known deviations (deviations.toml): a failure an entry covers is its own verdict, neither pass nor
failure, until the entry expires; an entry that matched nothing is stale; a bad file is exit 2.

The sandbox is told to deviate with a fault switch (`request-id-missing`: no X-Request-Id on any
response), and the suite runs only its header tests (`-k test_headers`), which reach five
operations: enough to show that an entry for one operation does not hide the others.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from contract_runs import ContractResult, run_contract, sandbox, stderr_lines

from octopus_qa.contract.deviations import Breach, Deviations, Entry
from octopus_qa.errors import UsageError

RULE = "request-id-present"
FUTURE, PAST = "2999-12-31", "2020-01-31"


@pytest.fixture(scope="module")
def deviating_target() -> Iterator[str]:
    with sandbox("--fault", "request-id-missing") as url:
        yield url


def _file(tmp_path: Path, *entries: str) -> Path:
    path = tmp_path / "deviations.toml"
    path.write_text("schema_version = 1\n" + "".join(entries), encoding="utf-8")
    return path


def _entry(rule: str = RULE, expires: str = FUTURE, operation: str | None = None) -> str:
    where = f'operation = "{operation}"\n' if operation else ""
    return (
        f'\n[[deviation]]\nrule = "{rule}"\n{where}reason = "the gateway strips it"\n'
        f'link = "https://tracker.example/API-7"\nexpires = {expires}\n'
    )


def _headers_run(tmp_path: Path, url: str, deviations: Path) -> ContractResult:
    return run_contract(
        tmp_path / "run",
        "--target",
        url,
        "--profile",
        "quick",
        "--seed",
        "1",
        "--deviations",
        str(deviations),
        "--",
        "-k",
        "test_headers",
    )


def _junit_verdicts(result: ContractResult) -> dict[str, int]:
    tree = ET.parse(result.report_dir / "contract" / "junit.xml")
    counts = {"xfail": 0, "failure": 0}
    for case in tree.iter("testcase"):
        skipped = case.find("skipped")
        if skipped is not None and skipped.get("type") == "pytest.xfail":
            counts["xfail"] += 1
            assert "known deviation" in (skipped.get("message") or "")
        if case.find("failure") is not None or case.find("error") is not None:
            counts["failure"] += 1
    return counts


@pytest.mark.slow
def test_a_failure_the_file_covers_is_a_known_deviation_not_a_pass_nor_a_failure(
    tmp_path: Path, deviating_target: str
) -> None:
    result = _headers_run(tmp_path, deviating_target, _file(tmp_path, _entry()))
    assert result.exit_code == 0, result.stdout[-3000:]
    summary = result.summary
    assert summary["rules"][RULE]["status"] == "deviation"
    assert summary["totals"]["deviations"] > 0 and summary["totals"]["failed"] == 0
    [entry] = summary["deviations"]["entries"]
    assert entry["state"] == "matched" and entry["matched"] > 0
    assert "XFAIL" in result.stdout and "known deviation: request-id-present" in result.stdout
    verdicts = _junit_verdicts(result)
    assert verdicts["xfail"] == summary["totals"]["deviations"] and verdicts["failure"] == 0


@pytest.mark.slow
def test_an_expired_entry_covers_nothing_and_the_report_says_it_expired(
    tmp_path: Path, deviating_target: str
) -> None:
    result = _headers_run(tmp_path, deviating_target, _file(tmp_path, _entry(expires=PAST)))
    assert result.exit_code == 1, result.stdout[-3000:]
    summary = result.summary
    assert summary["rules"][RULE]["status"] == "fail"
    [entry] = summary["deviations"]["entries"]
    assert entry["state"] == "expired" and entry["matched"] > 0
    assert f"expired on {PAST}" in result.stdout
    failed = [t for t in summary["rules"][RULE]["tests"] if t["outcome"] == "failed"]
    assert failed and all(f"expired on {PAST}" in t["message"] for t in failed)


@pytest.mark.slow
def test_a_deviation_on_one_operation_does_not_hide_the_rule_failing_on_another(
    tmp_path: Path, deviating_target: str
) -> None:
    only_list = _file(tmp_path, _entry(operation="GET /api/v1/products"))
    result = _headers_run(tmp_path, deviating_target, only_list)
    assert result.exit_code == 1, result.stdout[-3000:]
    tests = result.summary["rules"][RULE]["tests"]
    assert result.summary["rules"][RULE]["status"] == "fail"
    assert any(t["outcome"] == "deviation" and "[list-200]" in t["nodeid"] for t in tests)
    assert any(t["outcome"] == "failed" and "[bad-id-400]" in t["nodeid"] for t in tests)


@pytest.mark.slow
def test_an_entry_that_matches_nothing_is_reported_stale(
    tmp_path: Path, deviating_target: str
) -> None:
    result = _headers_run(
        tmp_path, deviating_target, _file(tmp_path, _entry(), _entry("sort-orders-results"))
    )
    assert result.exit_code == 0, result.stdout[-3000:]
    states = {e["rule"]: e["state"] for e in result.summary["deviations"]["entries"]}
    assert states == {RULE: "matched", "sort-orders-results": "stale"}
    assert "known deviation sort-orders-results is stale" in result.stdout


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ((_entry("no-such-rule"),), "unknown rule"),
        ((_entry(operation="GET /api/v1/nothing"),), "not in the spec"),
        (('\n[[deviation]]\nrule = "error-envelope"\nexpires = 2999-01-01\n',), "reason"),
    ],
    ids=["unknown-rule", "unknown-operation", "no-reason"],
)
def test_a_bad_deviations_file_is_one_line_and_exit_2_before_any_test(
    tmp_path: Path, entries: tuple[str, ...], words: str
) -> None:
    result = run_contract(
        tmp_path / "run",
        "--target",
        "http://127.0.0.1:9",
        "--deviations",
        str(_file(tmp_path, *entries)),
    )
    lines = stderr_lines(result)
    assert result.exit_code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("octoqa: error: ") and words in lines[0], lines
    assert "Traceback" not in result.stderr + result.stdout


def test_a_deviations_file_of_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deviations.toml"
    path.write_text("schema_version = 2\n", encoding="utf-8")
    with pytest.raises(UsageError, match="schema_version 2 is not supported"):
        Deviations.load(path, operations=set())


def _deviations(*entries: Entry, today: date = date(2026, 6, 1)) -> Deviations:
    return Deviations(entries, today=today)


def _entry_for(rule: str, **fields: object) -> Entry:
    values: dict[str, object] = {
        "reason": "r",
        "link": "l",
        "expires": date(2026, 6, 1),
        **fields,
    }
    return Entry(rule=rule, **values)  # type: ignore[arg-type]


def test_an_entry_holds_through_its_expiry_day_and_not_after() -> None:
    entry = _entry_for(RULE)
    assert _deviations(entry, today=date(2026, 6, 1)).judge([Breach((RULE,))]).known
    late = _deviations(entry, today=date(2026, 6, 2)).judge([Breach((RULE,))])
    assert not late.known and late.expired == (entry,)


def test_a_failure_is_a_deviation_only_when_every_breach_is_covered() -> None:
    deviations = _deviations(_entry_for(RULE, operation="GET /api/v1/products", status=200))
    here = Breach((RULE,), "GET /api/v1/products", 200)
    assert deviations.judge([here]).known
    assert not deviations.judge([here, Breach(("error-envelope",))]).known
    assert not deviations.judge([Breach((RULE,), "GET /api/v1/products", 400)]).known
    assert not deviations.judge([Breach((RULE,), "GET /api/v1/products/{id}", 200)]).known
    assert not deviations.judge([Breach((RULE,))]).known  # where unknown: an op entry can't tell
    assert not deviations.judge([]).known  # a failure naming no rule is never a deviation


def test_an_ambiguous_breach_is_covered_by_an_entry_for_any_of_its_rules() -> None:
    deviations = _deviations(_entry_for(RULE))
    assert deviations.judge([Breach(("pagination-headers-present", RULE))]).known

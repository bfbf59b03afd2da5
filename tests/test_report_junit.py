"""JUnit XML for the spec checks and the load gates: one case per check or gate, in the dialect
pytest's own junitxml writes (what GitLab's `artifacts:reports:junit` and GitHub's test-report
actions read), counts that agree with the cases, and nothing ever written as a pass that was not.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from octopus_qa import pipeline
from octopus_qa.loadtest.gates import AT_LEAST, judge
from octopus_qa.loadtest.summary import write_gates_junit
from octopus_qa.pipeline import PipelineConfig
from octopus_qa.report.junit import Case, to_xml

#: What a JUnit consumer reads (the attributes pytest's junitxml writes; GitLab requires these).
SUITE_ATTRIBUTES = {"name", "tests", "failures", "errors", "skipped", "time"}
CASE_ATTRIBUTES = {"classname", "name", "time"}
VERDICT_ELEMENTS = {"failure", "error", "skipped"}


def valid_junit(path: Path) -> ET.Element:
    """Parse `path` and check it is the JUnit pytest writes: returns its one <testsuite>."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    [suite] = list(root)
    assert suite.tag == "testsuite" and SUITE_ATTRIBUTES <= set(suite.attrib)
    cases = list(suite)
    assert all(case.tag == "testcase" for case in cases)
    assert int(suite.get("tests", "-1")) == len(cases)
    for kind, counter in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        assert int(suite.get(counter, "-1")) == sum(case.find(kind) is not None for case in cases)
    for case in cases:
        assert CASE_ATTRIBUTES <= set(case.attrib)
        float(case.get("time", "x"))
        verdicts = [child for child in case if child.tag in VERDICT_ELEMENTS]
        assert len(verdicts) <= 1 and all(v.get("message") for v in verdicts)
        assert {child.tag for child in case} <= VERDICT_ELEMENTS | {"properties"}
    return suite


def test_each_load_gate_is_a_case_with_its_measured_value_and_limit(tmp_path: Path) -> None:
    gates = [
        judge("GET /api/v1/products", "p95_ms", 200, 480),
        judge("GET /api/v1/products", "rps", 5, 39.5, AT_LEAST),
        judge("POST /auth/logout", "p95_ms", 200, None),
    ]
    suite = valid_junit(write_gates_junit(tmp_path, gates))
    cases = {case.get("name"): case for case in suite}
    assert set(cases) == {
        "GET /api/v1/products p95_ms",
        "GET /api/v1/products rps",
        "POST /auth/logout p95_ms",
    }
    failure = cases["GET /api/v1/products p95_ms"].find("failure")
    assert failure is not None
    assert failure.get("message") == "GET /api/v1/products p95_ms: measured 480, limit <= 200"
    assert cases["GET /api/v1/products rps"].find("failure") is None
    assert cases["POST /auth/logout p95_ms"].find("skipped") is not None
    assert (suite.get("failures"), suite.get("skipped")) == ("1", "1")
    properties = {
        p.get("name"): p.get("value") for p in cases["GET /api/v1/products rps"].iter("property")
    }
    assert properties == {"measured": "39.5", "limit": ">= 5"}


def test_a_load_run_that_failed_is_an_error_case_not_an_all_green_file(tmp_path: Path) -> None:
    gates = [judge("total", "p95_ms", 200, None)]
    suite = valid_junit(write_gates_junit(tmp_path, gates, "Locust exited with code 3"))
    assert suite.get("errors") == "1"


def test_spec_checks_are_written_as_junit_beside_the_spec_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "PINNED_LINTER", tmp_path / "node_modules" / ".bin" / "redocly")
    monkeypatch.setenv("PATH", str(tmp_path))  # no linter: its check is skipped, with the reason
    pipeline.check_spec(tmp_path, PipelineConfig.default())
    suite = valid_junit(tmp_path / "spec" / "junit.xml")
    cases = {case.get("name"): case for case in suite}
    assert set(cases) == {"openapi-spec-validator", "redocly lint"}
    assert cases["openapi-spec-validator"].find("skipped") is None
    skipped = cases["redocly lint"].find("skipped")
    assert skipped is not None and "node is not installed" in (skipped.get("message") or "")


@pytest.mark.parametrize("verdict", ["bogus", "", "PASS"])
def test_a_verdict_it_does_not_know_is_written_as_an_error_never_a_pass(verdict: str) -> None:
    document = to_xml("s", [Case("c", "n", verdict)])
    assert b"<error" in document


def test_markup_in_a_message_is_escaped_not_interpreted(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_bytes(to_xml("s", [Case("c", "n", "fail", 'a <b> & "c" ]]>')]))
    failure = valid_junit(path).find("testcase/failure")
    assert failure is not None and failure.get("message") == 'a <b> & "c" ]]>'

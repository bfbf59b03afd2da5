"""JUnit XML for the verdicts pytest does not write: the spec checks and the load gates.

CI dashboards (GitLab's `artifacts:reports:junit`, GitHub test-report actions) read JUnit XML;
the contract suite's comes from pytest, these from here, in the same dialect pytest writes
(`<testsuites><testsuite><testcase><failure|error|skipped message=...>`, `<properties>`), so a
dashboard shows all three alike. Written with the standard library's ElementTree: two flat suites
need no dependency (junitparser would be one more pin in every install for a dozen lines).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..verdicts import Verdict

#: A case's verdict → the JUnit element that says it (None: passed, no child element).
_ELEMENT: Mapping[str, str | None] = {
    Verdict.PASS: None,
    Verdict.FAIL: "failure",
    Verdict.ERROR: "error",
    Verdict.SKIP: "skipped",
    Verdict.NOT_RUN: "skipped",
}


@dataclass(frozen=True)
class Case:
    """One verdict as a JUnit test case."""

    classname: str
    name: str
    verdict: str  # a Verdict: pass | fail | error | skip | not run
    message: str = ""
    time_s: float = 0.0
    properties: Mapping[str, str] = field(default_factory=dict)


def to_xml(suite: str, cases: Sequence[Case], *, time_s: float = 0.0) -> bytes:
    """The JUnit document of one suite; an unknown verdict is written as an error, never a pass."""
    counts = {"failure": 0, "error": 0, "skipped": 0}
    elements = []
    for case in cases:
        element = ET.Element(
            "testcase", classname=case.classname, name=case.name, time=f"{case.time_s:.3f}"
        )
        if case.properties:
            properties = ET.SubElement(element, "properties")
            for name, value in case.properties.items():
                ET.SubElement(properties, "property", name=name, value=str(value))
        kind = _ELEMENT.get(case.verdict, "error")
        if kind is not None:
            counts[kind] += 1
            ET.SubElement(element, kind, message=case.message or case.verdict).text = (
                case.message or None
            )
        elements.append(element)
    root = ET.Element("testsuites")
    testsuite = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(cases)),
        failures=str(counts["failure"]),
        errors=str(counts["error"]),
        skipped=str(counts["skipped"]),
        time=f"{time_s:.3f}",
    )
    testsuite.extend(elements)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def write_junit(path: Path, suite: str, cases: Sequence[Case], *, time_s: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_xml(suite, cases, time_s=time_s))
    return path

"""summary.json, typed: one definition (octopus_qa.report.summaries) that every stage writes and the
pipeline and report read; versioned, `started` in one form, and refused with the reason when it
is not a summary this octoqa wrote."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from octopus_qa import pipeline
from octopus_qa.pipeline import PipelineConfig, judge_stage
from octopus_qa.report.summaries import (
    SCHEMA_VERSION,
    ContractSummary,
    SpecSummary,
    SummaryUnreadable,
    decode_stage,
    encode,
    utc_started,
)
from octopus_qa.report.summary import read_stage_summary

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def test_started_is_iso_8601_in_utc_with_its_offset_whatever_the_clock_zone() -> None:
    in_tokyo = datetime(2026, 12, 1, 21, 30, 5, 123, tzinfo=timezone(timedelta(hours=9)))
    assert utc_started(in_tokyo) == "2026-12-01T12:30:05+00:00"


def test_the_spec_stage_writes_a_versioned_typed_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no node: the lint check is skipped, quickly
    monkeypatch.setattr(pipeline, "PINNED_LINTER", tmp_path / "redocly")
    pipeline.check_spec(tmp_path, PipelineConfig.default())
    data = json.loads((tmp_path / "spec" / "summary.json").read_text(encoding="utf-8"))
    assert data["schema_version"] == SCHEMA_VERSION and data["stage"] == "spec"
    assert ISO_UTC.match(data["started"])
    summary = read_stage_summary(tmp_path, "spec")
    assert isinstance(summary, SpecSummary)
    assert [c.name for c in summary.checks] == ["openapi-spec-validator", "redocly lint"]


def test_what_is_written_reads_back_the_same() -> None:
    summary = ContractSummary(verdict="fail", seed=7, totals={"failed": 1})
    assert decode_stage(encode(summary), "contract") == summary


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"stage": "contract", "verdict": "pass"}, "schema_version"),
        ({"schema_version": 2, "stage": "contract", "verdict": "pass"}, "schema_version 2"),
        ({"schema_version": 1, "stage": "load", "verdict": "pass"}, "$.stage"),
        ({"schema_version": 1, "stage": "contract", "verdict": "pass", "seed": "7"}, "$.seed"),
    ],
    ids=["unversioned", "newer-version", "another-stage", "wrong-type"],
)
def test_a_summary_this_octoqa_did_not_write_is_refused_with_the_reason(
    document: dict[str, object], says: str
) -> None:
    with pytest.raises(SummaryUnreadable, match=re.escape(says)):
        decode_stage(json.dumps(document).encode(), "contract")


def test_an_unreadable_summary_is_never_believed_by_the_pipeline(tmp_path: Path) -> None:
    folder = tmp_path / "contract"
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps({"stage": "contract", "verdict": "pass"}))
    summary = read_stage_summary(tmp_path, "contract")
    assert summary is None
    assert judge_stage("contract", 0, summary, "", 5.0)[0] == "error"

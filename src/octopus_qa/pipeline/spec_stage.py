"""Stage 1 of a run: the contract is valid OpenAPI and clean under the pinned linter.

The validator runs in this process; the linter (Redocly CLI, a node tool) as a subprocess, when
it is installed: without it the check is skipped with the reason, never counted as a pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from ..report import EXIT_CODES, worst_verdict
from ..report.junit import Case, write_junit
from ..report.summaries import SpecCheck, SpecSummary, utc_started, write_summary
from ..spec import SPEC_PATH, load_spec, spec_version
from ..verdicts import Verdict
from .config import PipelineConfig
from .outcome import StageResult

#: Where `npm ci --prefix openapi` installs the pinned linter in a checkout.
PINNED_LINTER = SPEC_PATH.parent / "node_modules" / ".bin" / "redocly"
LINT_CONFIG = SPEC_PATH.parent / "redocly.yaml"
#: Why a run without the linter skipped it: pip cannot install a node tool.
NO_LINTER = (
    "Redocly CLI is not installed (from a checkout: `npm ci --prefix openapi`; "
    "elsewhere: `npm install -g @redocly/cli`)"
)
#: The linter must not phone home or nag from a CI job (no network here anyway: it would wait).
LINT_ENV = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}


def _spec_is_valid() -> SpecCheck:
    """The contract is valid OpenAPI, per openapi-spec-validator."""
    try:
        from jsonschema.exceptions import ValidationError
        from openapi_spec_validator import validate
        from openapi_spec_validator.exceptions import OpenAPISpecValidatorError
        from referencing.exceptions import Unresolvable
    except ImportError:
        return SpecCheck(
            name="openapi-spec-validator",
            verdict=Verdict.NOT_RUN,
            detail="openapi-spec-validator is not installed (pip install -e '.[dev]')",
        )
    try:
        validate(load_spec())
    except (ValidationError, OpenAPISpecValidatorError, Unresolvable) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return SpecCheck(
            name="openapi-spec-validator", verdict=Verdict.FAIL, detail=first_line[:300]
        )
    return SpecCheck(name="openapi-spec-validator", verdict=Verdict.PASS, detail="valid")


def find_linter() -> str | None:
    """The Redocly CLI to lint with: the checkout's pinned one first, else one on PATH."""
    if PINNED_LINTER.exists():
        return str(PINNED_LINTER)
    return shutil.which("redocly")


def _spec_is_lint_clean(run_dir: Path, timeout_s: float) -> SpecCheck:
    """The contract is clean under the linter; without node or the linter the check is skipped.

    An installed octoqa (pip, pipx) has no node tools: the run still works and says, as its
    verdict "incomplete", that this check was skipped and why.
    """
    name = "redocly lint"
    if shutil.which("node") is None:
        return SpecCheck(name=name, verdict=Verdict.SKIP, detail="node is not installed")
    linter = find_linter()
    if linter is None:
        return SpecCheck(name=name, verdict=Verdict.SKIP, detail=NO_LINTER)
    argv = [linter, "lint"]
    if LINT_CONFIG.exists():
        argv += ["--config", LINT_CONFIG.name]
    argv.append(SPEC_PATH.name)
    try:
        done = subprocess.run(
            argv,
            cwd=SPEC_PATH.parent,
            env={**os.environ, **LINT_ENV},
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return SpecCheck(
            name=name, verdict=Verdict.ERROR, detail=f"did not finish in {timeout_s:g} s"
        )
    output = (done.stdout or "") + (done.stderr or "")
    (run_dir / "spec" / "lint.txt").write_text(output, encoding="utf-8")
    if done.returncode == 0:
        return SpecCheck(name=name, verdict=Verdict.PASS, detail="no problems")
    problems = [line for line in output.splitlines() if "error" in line.lower()]
    detail = problems[-1].strip() if problems else f"exited {done.returncode}"
    verdict = Verdict.FAIL if done.returncode == 1 else Verdict.ERROR
    return SpecCheck(name=name, verdict=verdict, detail=detail[:300])


def check_spec(run_dir: Path, config: PipelineConfig) -> StageResult:
    """Stage 1: the spec is valid and lint-clean; writes `<run>/spec/summary.json`."""
    started = time.monotonic()
    started_at = datetime.now(UTC)
    (run_dir / "spec").mkdir(parents=True, exist_ok=True)
    if not SPEC_PATH.is_file():
        checks = [
            SpecCheck(name="spec file", verdict=Verdict.ERROR, detail=f"{SPEC_PATH} is missing")
        ]
    else:
        checks = [_spec_is_valid(), _spec_is_lint_clean(run_dir, config.lint_timeout_s)]
    verdict = worst_verdict(["incomplete" if c.verdict == "skip" else c.verdict for c in checks])
    write_junit(
        run_dir / "spec" / "junit.xml",
        "octoqa spec",
        [Case("spec", c.name, c.verdict, c.detail) for c in checks],
    )
    artifacts = {"junit": "spec/junit.xml"}
    if (run_dir / "spec" / "lint.txt").exists():
        artifacts["lint"] = "spec/lint.txt"
    summary = SpecSummary(
        verdict=verdict,
        started=utc_started(started_at),
        spec_version=spec_version_or_none(),
        checks=checks,
        artifacts=artifacts,
    )
    write_summary(run_dir / "spec" / "summary.json", summary)
    reason = "; ".join(f"{c.name}: {c.detail}" for c in checks if c.verdict != "pass")
    return StageResult(
        name="spec",
        verdict=verdict,
        exit_code=EXIT_CODES[verdict],
        duration_s=round(time.monotonic() - started, 2),
        reason=reason or None,
    )


def spec_version_or_none() -> str | None:
    try:
        return spec_version()
    except (OSError, KeyError, TypeError, ValueError):
        return None

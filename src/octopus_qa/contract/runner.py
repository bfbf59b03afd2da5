"""What `octoqa contract` runs: the plan, the preflight, pytest over contract_tests/.

The run is decided once (`octopus_qa.plan`: built from the options, or read from `octoqa run`'s
plan.json) and opened by the one preflight (target, embedded sandbox, the one login) before
pytest starts, so a wrong URL, refused credentials or a target that is not this API end in one
line and exit code 2 with no pytest output at all. The open Suite is handed to pytest as a
plugin object; the opened plan is written as `<run>/plan.json`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..bundled import contract_tests_dir
from ..errors import UsageError
from ..plan import PlanOptions, RunPlan, build_plan, read_plan, write_plan
from ..rundir import point_latest_at
from .deviations import load_deviations
from .suite import Suite

#: The suite pytest runs (the checkout's `contract_tests/`, or its copy inside an installed wheel).
CONTRACT_TESTS = contract_tests_dir()

#: pytest's exit codes → ours (0 all hold, 1 a contract failure, 2 usage/target problem).
EXIT_CODES = {
    pytest.ExitCode.OK: 0,
    pytest.ExitCode.TESTS_FAILED: 1,
    pytest.ExitCode.INTERRUPTED: 2,
    pytest.ExitCode.INTERNAL_ERROR: 2,
    pytest.ExitCode.USAGE_ERROR: 2,
    pytest.ExitCode.NO_TESTS_COLLECTED: 2,
}


@dataclass(frozen=True)
class ContractRun:
    target: str | None = None
    profile: str = "default"
    seed: int | None = None
    report_dir: Path | None = None
    documented_only: bool = False
    #: A deviations.toml (None: no known deviations; `--config DIR` will supply a default).
    deviations: Path | None = None
    pytest_args: Sequence[str] = field(default_factory=tuple)
    #: A plan written by `octoqa run` (its stages read it instead of deciding the run again).
    plan: Path | None = None

    def plan_options(self) -> PlanOptions:
        return PlanOptions(
            target=self.target,
            seed=self.seed,
            run_dir=self.report_dir,
            new_run_dir=True,
            contract_profile=self.profile,
            documented_only=self.documented_only,
            deviations=self.deviations,
        )


def plan_contract(run: ContractRun) -> RunPlan:
    """The run, decided: read from `--plan`, or built from the options (exit 2 on a bad one)."""
    plan = read_plan(run.plan) if run.plan else build_plan(run.plan_options())
    if plan.contract is None:
        raise UsageError(f"{plan.path}: the plan has no contract part")
    if plan.contract.deviations:  # a bad file is a usage error before anything starts
        load_deviations(Path(plan.contract.deviations))
    return plan


def pytest_arguments(run: ContractRun, suite: Suite, contract_dir: Path) -> list[str]:
    args = [
        str(CONTRACT_TESTS),
        # Node ids read `contract_tests/test_x.py::...` wherever the suite is installed.
        "--rootdir",
        str(CONTRACT_TESTS.parent),
        "-c",
        str(CONTRACT_TESTS / "pytest.ini"),
        "--junitxml",
        str(contract_dir / "junit.xml"),
        "--summary-json",
        str(contract_dir / "summary.json"),
        "--schemathesis-report",
        str(contract_dir / "schemathesis"),
        # A failure's console output is the violation, the lines that led to it and how to
        # reproduce it; the run ends with each broken rule (plugin.broken_rules).
        "--tb=short",
        # In this process the preflight imported anyio (via httpx) already; pytest warns that its
        # plugin cannot be assertion-rewritten, an error under filterwarnings = error.
        "-W",
        "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning",
    ]
    return args + list(run.pytest_args)


def run_contract(run: ContractRun) -> int:
    """Plan, preflight, run the suite, write the reports; the exit code as the briefing says."""
    plan = plan_contract(run)
    suite = Suite.open(plan)  # OctoqaError → one line, exit 2
    try:
        assert suite.plan is not None
        write_plan(suite.plan)  # the run's folder, made now that the target answered
        if run.report_dir is None and not run.plan:
            point_latest_at(plan.reports)
        contract_dir = plan.reports / "contract"
        contract_dir.mkdir(parents=True, exist_ok=True)
        print(
            f"octoqa contract: target {suite.target_label} ({suite.base_url}), profile "
            f"{suite.profile.name}, seed {suite.seed}, reports in {contract_dir}"
            + (f", known deviations from {run.deviations}" if suite.deviations else ""),
            file=sys.stderr,
        )
        code = pytest.main(pytest_arguments(run, suite, contract_dir), plugins=[suite])
    finally:
        suite.close()
    if suite.watch.loss is not None:
        _say(suite.watch.loss.describe())
        return 2
    mapped = EXIT_CODES.get(pytest.ExitCode(code), 2) if code in set(pytest.ExitCode) else 2
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        _say("no contract test was selected (check -k / -m / --documented-only)")
    elif mapped == 2:
        _say(f"the contract run could not complete (pytest exit code {int(code)})")
    return mapped


def _say(line: str) -> None:
    print(f"octoqa: error: {line}", file=sys.stderr)

"""Kill rate: for every planted fault of the sandbox, the contract run of the fault's profile (quick
unless the catalogue says a deeper one: faults that only show on more of the data than a pull
request reads) must fail and name the fault's rule. Parametrized from the fault catalogue itself,
so a fault added without a suite that catches it fails CI. The performance faults break no rule
(a capacity run names them: tests/test_load_bottleneck.py) and are not counted here, so the kill
rate stays "contract faults caught / contract faults". Run in parallel with `-n 2`
(pytest-xdist) on the 2-core CI machine.

Each run stops at its first failure (`-x`), and that first failure must name the fault's rule:
stricter than "some test somewhere names it" (a check that blames the wrong rule first is found
out), and a third of the time (62 runs in 3.5 min on two cores, not 10: a fault that breaks
every product no longer runs the whole suite to the end)."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract_runs import run_contract, sandbox

from octopus_qa.plan.contract_profiles import PROFILE_NAMES
from octopus_qa.sandbox.faults import FAULTS, Fault
from octopus_qa.sandbox.faults.catalogue import CONTRACT

CONTRACT_FAULTS = {name: fault for name, fault in FAULTS.items() if fault.caught_by == CONTRACT}


@pytest.mark.slow
@pytest.mark.parametrize("fault", CONTRACT_FAULTS.values(), ids=list(CONTRACT_FAULTS))
def test_its_profile_catches_the_fault(fault: Fault, tmp_path: Path) -> None:
    with sandbox("--fault", fault.name, *fault.sandbox_args) as url:
        result = run_contract(
            tmp_path, "--target", url, "--profile", fault.profile, "--seed", "1", "--", "-x"
        )
    assert result.exit_code == 1, (
        f"fault {fault.name} (rule {fault.rule}): octoqa contract --profile {fault.profile} "
        f"exited {result.exit_code}\n"
        f"{result.stderr[-2000:]}"
    )
    assert result.rule_status(fault.rule) == "fail", (
        f"fault {fault.name}: summary.json marks {fault.rule} as {result.rule_status(fault.rule)!r}; "
        f"failing rules: {[r for r, e in result.summary['rules'].items() if e['status'] == 'fail']}"
    )


def test_every_fault_names_a_contract_profile() -> None:
    assert {fault.profile for fault in CONTRACT_FAULTS.values()} <= set(PROFILE_NAMES)
    assert all(fault.rule is not None for fault in CONTRACT_FAULTS.values())

"""The fault catalogue: each planted bug breaks the rule it names, and only with the fault on.

For every fault, the probe of its rule (sandbox_probes.py) passes against the clean sandbox and
raises a RuleViolation of exactly that rule against the sandbox with the fault. That is what
lets the contract suite prove it can fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sandbox_client import Api
from sandbox_probes import PROBES

from octopus_qa.rules import RULES, RuleViolation
from octopus_qa.sandbox import create_app
from octopus_qa.sandbox.faults import FAULTS

#: The `octoqa sandbox` options a fault may need, as create_app keyword arguments.
SANDBOX_OPTIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "--token-ttl": ("token_ttl", float),
    "--latency-ms": ("latency_ms", float),
    "--seed": ("seed", int),
}


def create_app_options(sandbox_args: tuple[str, ...]) -> dict[str, Any]:
    flags, values = sandbox_args[::2], sandbox_args[1::2]
    return {
        SANDBOX_OPTIONS[f][0]: SANDBOX_OPTIONS[f][1](v) for f, v in zip(flags, values, strict=True)
    }


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_breaks_exactly_the_rule_it_names(name: str, make_api: Callable[..., Api]) -> None:
    fault = FAULTS[name]
    probe = PROBES[fault.rule]
    options = create_app_options(fault.sandbox_args)

    probe(make_api(**options))  # the clean sandbox keeps the rule

    with pytest.raises(RuleViolation) as broken:
        probe(make_api(faults=[name], **options))
    assert broken.value.rule.id == fault.rule, str(broken.value)


def test_every_rule_is_broken_by_at_least_one_fault() -> None:
    unbroken = set(RULES) - {fault.rule for fault in FAULTS.values()}
    assert not unbroken, f"rules no fault breaks: {sorted(unbroken)}"


def test_every_fault_names_a_catalogued_rule() -> None:
    assert {fault.rule for fault in FAULTS.values()} <= set(RULES)


def test_every_rule_has_a_probe() -> None:
    assert set(PROBES) == set(RULES)


def test_fault_names_are_kebab_case_and_keyed_by_name() -> None:
    for key, fault in FAULTS.items():
        assert key == fault.name
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", key), key


def test_unknown_fault_is_refused_by_create_app() -> None:
    with pytest.raises(ValueError, match="no-such-fault"):
        create_app(faults=["no-such-fault"])

"""The fault catalogue: each planted bug breaks the rule it names, and only with the fault on.

For every contract fault, the probe of its rule (sandbox_probes.py) passes against the clean
sandbox and raises a RuleViolation of exactly that rule against the sandbox with the fault. That
is what lets the contract suite prove it can fail. The performance faults break no rule (every
probe holds against them, one request at a time): a capacity run must name them instead
(tests/test_load_bottleneck.py).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sandbox_client import Api
from sandbox_probes import PROBES

import octopus_qa.sandbox
from octopus_qa.rules import RULES, RuleViolation
from octopus_qa.sandbox import create_app
from octopus_qa.sandbox.app import planted_seams
from octopus_qa.sandbox.faults import FAULTS, listing, products
from octopus_qa.sandbox.faults.catalogue import CAPACITY, CONTRACT
from octopus_qa.sandbox.readings import READINGS
from octopus_qa.sandbox.seams import Seams

#: The faults the contract suite must catch, and the performance faults a capacity run must name.
CONTRACT_FAULTS = sorted(name for name, fault in FAULTS.items() if fault.caught_by == CONTRACT)
PERFORMANCE_FAULTS = sorted(name for name, fault in FAULTS.items() if fault.caught_by == CAPACITY)
#: The part of the API each performance fault slows, whose rules must still hold.
PERFORMANCE_PARTS = {"availability-serialised": products, "listings-fail-under-load": listing}
SANDBOX_DIR = Path(octopus_qa.sandbox.__file__).parent
#: Where fault and reading names may be written: their catalogues, nowhere else in the sandbox.
CATALOGUES = {SANDBOX_DIR / "faults", SANDBOX_DIR / "readings.py"}

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


@pytest.mark.parametrize("name", CONTRACT_FAULTS)
def test_fault_breaks_exactly_the_rule_it_names(name: str, make_api: Callable[..., Api]) -> None:
    fault = FAULTS[name]
    assert fault.rule is not None
    probe = PROBES[fault.rule]
    options = create_app_options(fault.sandbox_args)

    probe(make_api(**options))  # the clean sandbox keeps the rule

    with pytest.raises(RuleViolation) as broken:
        probe(make_api(faults=[name], **options))
    assert broken.value.rule.id == fault.rule, str(broken.value)


@pytest.mark.parametrize("name", PERFORMANCE_FAULTS)
def test_a_performance_fault_breaks_no_rule_one_request_at_a_time(
    name: str, make_api: Callable[..., Api]
) -> None:
    """What makes it a performance fault: the probes of the part of the API it slows (the
    rules the contract faults of that part break) hold against it, one request at a time."""
    fault = FAULTS[name]
    assert fault.rule is None and fault.slo and fault.profile == CAPACITY
    for planted in PERFORMANCE_PARTS[name].catalogue.faults:
        assert planted.rule is not None
        # Each probe with the options it is run with for its own faults (a short token ttl...).
        options = create_app_options((*fault.sandbox_args, *planted.sandbox_args))
        PROBES[planted.rule](make_api(faults=[name], **options))


def test_the_two_performance_faults_of_issue_19_are_catalogued() -> None:
    assert PERFORMANCE_FAULTS == ["availability-serialised", "listings-fail-under-load"]


def test_every_rule_is_broken_by_at_least_one_fault() -> None:
    unbroken = set(RULES) - {fault.rule for fault in FAULTS.values()}
    assert not unbroken, f"rules no fault breaks: {sorted(unbroken)}"


def test_every_fault_names_a_catalogued_rule() -> None:
    unknown = {
        name: FAULTS[name].rule for name in CONTRACT_FAULTS if FAULTS[name].rule not in RULES
    }
    assert not unknown, f"faults naming no rule of octopus_qa.rules.RULES: {unknown}"


def _sandbox_modules_outside_the_catalogues() -> list[Path]:
    return [
        path
        for path in sorted(SANDBOX_DIR.rglob("*.py"))
        if not any(path == place or place in path.parents for place in CATALOGUES)
    ]


def test_no_module_outside_the_catalogues_names_a_fault_or_a_reading() -> None:
    names = [*FAULTS, *READINGS]
    modules = _sandbox_modules_outside_the_catalogues()
    assert SANDBOX_DIR / "app.py" in modules and SANDBOX_DIR / "faults" / "auth.py" not in modules
    mentions = {
        f"{path.name}: {name}"
        for path in modules
        for name in names
        if name in path.read_text(encoding="utf-8")
    }
    assert not mentions, f"the API code must not know the faults by name: {sorted(mentions)}"


def test_the_sandbox_does_not_import_the_rules_it_is_the_counterpart_of() -> None:
    importers = set()
    for path in sorted(SANDBOX_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and "rules" in (node.module or "").split("."):
                importers.add(path.name)
            if isinstance(node, ast.Import) and any("rules" in a.name for a in node.names):
                importers.add(path.name)
    assert not importers, f"sandbox modules importing the rules: {sorted(importers)}"


def test_a_clean_sandbox_keeps_every_default_seam() -> None:
    assert planted_seams(frozenset(), frozenset(), seed=0) == Seams()


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_every_fault_plants_itself_into_a_seam(name: str) -> None:
    assert planted_seams(frozenset({name}), frozenset(), seed=0) != Seams()


@pytest.mark.parametrize("name", sorted(READINGS))
def test_every_reading_plants_itself_into_a_seam(name: str) -> None:
    assert planted_seams(frozenset(), frozenset({name}), seed=0) != Seams()


def test_faults_keep_their_state_per_app() -> None:
    """A stateful fault (a counter, a shared attribute) is planted afresh in every app."""
    first, second = (
        planted_seams(frozenset({"request-id-sometimes-repeated"}), frozenset(), seed=0)
        for _ in range(2)
    )
    assert first.gate.request_id is not second.gate.request_id


def test_every_rule_has_a_probe() -> None:
    assert set(PROBES) == set(RULES)


def test_fault_names_are_kebab_case_and_keyed_by_name() -> None:
    for key, fault in FAULTS.items():
        assert key == fault.name
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", key), key


def test_unknown_fault_is_refused_by_create_app() -> None:
    with pytest.raises(ValueError, match="no-such-fault"):
        create_app(faults=["no-such-fault"])

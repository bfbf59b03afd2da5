"""What a planted fault is: the rule (or the service level) it breaks, named as data, what must
catch it, and the behaviour it plants."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..seams import Plant

#: Caught by the contract suite: a documented rule fails (tests/test_contract_kill_rate.py).
CONTRACT = "contract"
#: Caught by a load or capacity run: it breaks no documented rule, only a service level, and a
#: capacity run names it as the bottleneck (loadtest/bottleneck.py; tests/test_load_bottleneck.py).
CAPACITY = "capacity"


@dataclass(frozen=True)
class Fault:
    name: str
    #: The id of the rule this fault breaks (a string: the sandbox does not import
    #: the rules it is the counterpart of); None for a performance fault, which breaks none.
    rule: str | None
    description: str
    #: Extra `octoqa sandbox` options the fault needs to be observable (e.g. a short token ttl).
    sandbox_args: tuple[str, ...] = ()
    #: The cheapest contract profile that must catch it (tests/test_contract_kill_rate.py runs
    #: that one); "quick" unless the fault only shows on more of the data than a PR can read.
    #: For a performance fault: the command that must catch it, "capacity".
    profile: str = "quick"
    #: CONTRACT or CAPACITY: which kind of run must catch it.
    caught_by: str = CONTRACT
    #: For a performance fault: the service level it breaks, in words.
    slo: str | None = None
    #: Replaces or wraps the seams where the rule is kept (see sandbox/seams.py).
    plant: Plant = field(kw_only=True, repr=False, compare=False)

    @property
    def breaks(self) -> str:
        """What it breaks, for a table: the rule's id, or the service level."""
        return self.rule if self.rule is not None else f"slo:{self.slo}"


class Catalogue:
    """The faults of one part of the API, in the order `octoqa sandbox --list-faults` shows
    them; `@catalogue.fault(...)` turns a plant function into a Fault and lists it,
    `@catalogue.performance_fault(...)` one that breaks a service level instead of a rule."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def fault(
        self,
        name: str,
        rule: str,
        description: str,
        *,
        sandbox_args: tuple[str, ...] = (),
        profile: str = "quick",
    ) -> Callable[[Plant], Fault]:
        def register(plant: Plant) -> Fault:
            fault = Fault(name, rule, description, sandbox_args, profile, plant=plant)
            self.faults.append(fault)
            return fault

        return register

    def performance_fault(
        self, name: str, slo: str, description: str, *, sandbox_args: tuple[str, ...] = ()
    ) -> Callable[[Plant], Fault]:
        def register(plant: Plant) -> Fault:
            fault = Fault(
                name,
                None,
                description,
                sandbox_args,
                CAPACITY,
                caught_by=CAPACITY,
                slo=slo,
                plant=plant,
            )
            self.faults.append(fault)
            return fault

        return register

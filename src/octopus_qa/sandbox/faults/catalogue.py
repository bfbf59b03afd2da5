"""What a planted fault is: the rule it breaks, named as data, and the behaviour it plants."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..seams import Plant


@dataclass(frozen=True)
class Fault:
    name: str
    #: The id of the rule this fault breaks (a string: the sandbox does not import
    #: the rules it is the counterpart of).
    rule: str
    description: str
    #: Extra `octoqa sandbox` options the fault needs to be observable (e.g. a short token ttl).
    sandbox_args: tuple[str, ...] = ()
    #: The cheapest contract profile that must catch it (tests/test_contract_kill_rate.py runs
    #: that one); "quick" unless the fault only shows on more of the data than a PR can read.
    profile: str = "quick"
    #: Replaces or wraps the seams where the rule is kept (see sandbox/seams.py).
    plant: Plant = field(kw_only=True, repr=False, compare=False)


class Catalogue:
    """The faults of one part of the API, in the order `octoqa sandbox --list-faults` shows
    them; `@catalogue.fault(...)` turns a plant function into a Fault and lists it."""

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

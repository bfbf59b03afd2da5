"""What one Locust process knows of its run: the plan it plays and, on the master, its judge.

One per Locust `Environment` (a process may hold several in tests), kept beside it rather than
in module globals; the users, the shape and the event listeners find it by their environment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from ..plan.load_profiles import Profile
from ..plan.run_plan import LoadPlan, RunPlan
from .gates import Reach
from .verdict import Judge

__all__ = ["LocustRun", "profile_of", "run_of"]


@dataclass
class LocustRun:
    plan: RunPlan
    #: The gates, on the process that judges (the master, or the only process); else None.
    judge: Judge | None = None
    #: Locust warned that this generator passed ~90 % CPU: it measured itself, not the API.
    cpu_warning: bool = False
    #: The workers that sent statistics to this master: proof the merged numbers are theirs.
    workers_reported: set[str] = field(default_factory=set)
    #: The kinds of user that had users at some point of the run.
    users_ran: set[str] = field(default_factory=set)

    def note_users(self, counts: Mapping[str, int]) -> None:
        self.users_ran.update(name for name, count in counts.items() if count > 0)

    def reach(self, user_classes: Iterable[Any]) -> Reach:
        """What the users that ran could offer: their endpoints, whether a profile fixed the
        offer, and whether a capacity search chose it."""
        ran = [cls for cls in user_classes if cls.__name__ in self.users_ran]
        endpoints = frozenset(key for cls in ran for key in getattr(cls, "endpoints", ()))
        names = tuple(sorted(cls.__name__ for cls in ran))
        return Reach(
            endpoints,
            names,
            fixed_offer=self.load.profile is not None,
            search_step=self.load.capacity_step_rps is not None,
        )

    @property
    def load(self) -> LoadPlan:
        assert self.plan.load is not None, "a Locust run's plan always has a load part"
        return self.plan.load

    def open(self, environment: Any) -> None:
        _RUNS[environment] = self


_RUNS: WeakKeyDictionary[Any, LocustRun] = WeakKeyDictionary()


def run_of(environment: Any) -> LocustRun | None:
    """The run this Locust environment plays; None before Locust's init event opened it."""
    return _RUNS.get(environment)


def profile_of(environment: Any) -> Profile | None:
    """The load profile the run plays; None: Locust's own -u/-r/-t decide."""
    run = run_of(environment)
    return run.load.profile if run is not None else None

"""The seed of a run: pinned by `--seed`, else fixed by the profile, else drawn fresh.

Every run prints and records the seed it used, so any run can be replayed with `--seed`. A
pull-request profile keeps a fixed seed (the same examples every time: a red PR is the change,
not the dice); release and nightly profiles draw a fresh one, so they explore.
"""

from __future__ import annotations

import random


def new_seed() -> int:
    """A seed for a run that was not given one, small enough to type back in."""
    return random.SystemRandom().randrange(1, 2**31)


def choose_seed(pinned: int | None, profile_seed: int | None = None) -> int:
    """`--seed` wins, then the profile's fixed seed, then a fresh one."""
    if pinned is not None:
        return pinned
    if profile_seed is not None:
        return profile_seed
    return new_seed()

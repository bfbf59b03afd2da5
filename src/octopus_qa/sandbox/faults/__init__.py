"""The sandbox's catalogue of planted bugs: each fault breaks one documented rule, or (the
performance faults, `performance.py`) one service level that a load or capacity run must name.

A contract suite proves it can fail only by failing: `octoqa sandbox --fault NAME` serves the API
with one rule broken, and the suite run against it must report that rule (tests/
test_sandbox_faults.py shows each fault breaks its rule and the clean sandbox keeps it). Every
rule the rules package declares is broken by at least one fault.

Each fault is an object that names its rule and carries its behaviour: it plants itself into the
seams of one app (sandbox/seams.py), replacing or wrapping the clean step where the rule is kept,
and leaves the other rules alone as far as the rule allows (where a fault cannot help breaking a
neighbour, its description says so). Faults are planted the way real bugs happen: on some data,
some sequences, some share of responses, some way in. They live here, one module per part of the
API; nothing else in the sandbox knows their names.

Modelled on schemathesis's `test/apps` catalogue of apps with planted, named bugs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from . import auth, errors, headers, listing, performance, products
from .catalogue import Fault

__all__ = ["FAULTS", "Fault", "unknown_faults"]

FAULTS: Mapping[str, Fault] = MappingProxyType(
    {
        fault.name: fault
        for part in (auth, errors, headers, listing, products, performance)
        for fault in part.catalogue.faults
    }
)


def unknown_faults(names: Iterable[str]) -> list[str]:
    """The names that are not in the catalogue, in the order given."""
    return [name for name in names if name not in FAULTS]

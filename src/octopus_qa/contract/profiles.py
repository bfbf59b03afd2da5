"""The suite's profiles (quick, default, deep), read from `contract_tests/profiles.toml`.

Profiles are data a user can read and edit; this module only parses them and turns them into
hypothesis settings and a schemathesis configuration.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..spec import REPO_ROOT

PROFILES_PATH = REPO_ROOT / "contract_tests" / "profiles.toml"
PROFILE_NAMES = ("quick", "default", "deep")
DEFAULT_PROFILE = "default"


@dataclass(frozen=True)
class Profile:
    name: str
    max_examples: int
    stateful_steps: int
    stateful_examples: int
    expiry_wait_s: float
    retry_after_max_s: float
    schemathesis: Mapping[str, Any] = field(default_factory=dict)
    # How much of the data and how many combinations the hand-written tests explore (issue 9):
    # deeper profiles read more of the catalog, not only more random examples of the same cases.
    #: products whose detail is compared with the list, besides the unusual ones always chosen
    details_sample: int = 40
    #: page sizes the whole catalog is walked with, each walk judged for L7
    catalog_walk_limits: tuple[int, ...] = (1000,)
    #: filter combinations (two and three filters) per kind of combination
    filter_combinations: int = 2
    #: responses of the request-id sample (H1-H3 on each, freshness over all)
    request_id_sample: int = 200
    #: requests of the concurrent burst, and how many are in flight at once
    burst_requests: int = 240
    burst_concurrency: int = 8


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_profile(name: str) -> Profile:
    """The named profile, its schemathesis table merged over the common one."""
    if name not in PROFILE_NAMES:
        raise UsageError(f"unknown profile {name!r} (choose from {', '.join(PROFILE_NAMES)})")
    with PROFILES_PATH.open("rb") as handle:
        data = tomllib.load(handle)
    entry = dict(data[name])
    own = entry.pop("schemathesis", {})
    common = data.get("common", {}).get("schemathesis", {})
    if "catalog_walk_limits" in entry:
        entry["catalog_walk_limits"] = tuple(entry["catalog_walk_limits"])
    return Profile(name=name, schemathesis=_deep_merge(common, own), **entry)

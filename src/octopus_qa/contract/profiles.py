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
    #: Longest the suite waits for any one answer; past it the target counts as gone (watch.py).
    request_timeout_s: float = 10.0
    #: An answer slower than this is reported as slow (summary.json, terminal), never a failure:
    #: the documents promise no latency.
    slow_answer_s: float = 2.0
    schemathesis: Mapping[str, Any] = field(default_factory=dict)


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
    return Profile(name=name, schemathesis=_deep_merge(common, own), **entry)

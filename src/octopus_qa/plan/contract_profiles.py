"""The suite's profiles (quick, default, deep), read from `contract_tests/profiles.toml`.

Profiles are data a user can read and edit (their own copy is `contract-profiles.toml` in their
configuration directory, `octopus_qa.config`); this module only parses and checks them and turns
them into hypothesis settings and a schemathesis configuration.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from .. import config
from ..bundled import contract_tests_dir
from ..errors import UsageError

#: The shipped file; a user's `contract-profiles.toml` (see octopus_qa.config) takes its place.
PROFILES_PATH = contract_tests_dir() / "profiles.toml"
PROFILE_NAMES = ("quick", "default", "deep")
DEFAULT_PROFILE = "default"

Count = Annotated[int, Meta(ge=1, le=1_000_000)]
Seconds = Annotated[float, Meta(ge=0, le=86_400)]


class Profile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One table of the file (`[quick]`, ...); a new key is one line here."""

    max_examples: Count
    stateful_steps: Count
    stateful_examples: Count
    expiry_wait_s: Seconds
    retry_after_max_s: Seconds
    #: Longest the suite waits for any one answer; past it the target counts as gone (watch.py).
    request_timeout_s: Annotated[float, Meta(gt=0, le=600)] = 10.0
    #: An answer slower than this is reported as slow (summary.json, terminal), never a failure:
    #: the documents promise no latency.
    slow_answer_s: Annotated[float, Meta(gt=0, le=600)] = 2.0
    # How much of the data and how many combinations the hand-written tests explore (issue 9):
    # deeper profiles read more of the catalog, not only more random examples of the same cases.
    #: products whose detail is compared with the list, besides the unusual ones always chosen
    details_sample: Count = 40
    #: page sizes the whole catalog is walked with, each walk judged for L7
    catalog_walk_limits: tuple[Annotated[int, Meta(ge=1, le=10_000)], ...] = (1000,)
    #: small page sizes a listing is walked with, `deep_walk_pages` pages deep each (L7): offset
    #: arithmetic, page caches and cursors go wrong on page 21, not on page 2
    deep_walk_limits: tuple[Annotated[int, Meta(ge=1, le=10_000)], ...] = (10,)
    deep_walk_pages: Annotated[int, Meta(ge=2, le=1_000)] = 40
    #: filter combinations (two and three filters) per kind of combination
    filter_combinations: Count = 2
    #: responses of the request-id sample (H1-H3 on each, freshness over all)
    request_id_sample: Count = 200
    #: requests of the concurrent burst, and how many are in flight at once
    burst_requests: Count = 240
    burst_concurrency: Annotated[int, Meta(ge=1, le=256)] = 8
    #: Handed to schemathesis.Config.from_dict, merged over `[common.schemathesis]`.
    schemathesis: dict[str, Any] = {}
    #: The table's name, filled in by `load_profile` (not read from the file).
    name: str = ""


class _Common(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    schemathesis: dict[str, Any] = {}


class _ProfilesFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    quick: Profile
    default: Profile
    deep: Profile
    common: _Common = _Common()


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_profile(name: str) -> Profile:
    """The named profile, its schemathesis table merged over the common one.

    Read from the user's `contract-profiles.toml` when there is one, else the shipped file; a
    broken file is one ConfigError line (file, key, problem), including schemathesis's own
    verdict on its table, so a typo there is not a collection error in the middle of a run.
    """
    if name not in PROFILE_NAMES:
        raise UsageError(f"unknown profile {name!r} (choose from {', '.join(PROFILE_NAMES)})")
    path = config.path("contract-profiles.toml")
    data = config.read(path, _ProfilesFile)
    merged = {
        each: _deep_merge(data.common.schemathesis, getattr(data, each).schemathesis)
        for each in PROFILE_NAMES
    }
    for each in PROFILE_NAMES:  # the whole file, as msgspec did: a typo anywhere is reported
        _check_schemathesis(path, each, merged[each])
    entry: Profile = getattr(data, name)
    return msgspec.structs.replace(entry, name=name, schemathesis=merged[name])


def _check_schemathesis(path: Path, name: str, settings: Mapping[str, Any]) -> None:
    # Imported here: schemathesis is slow to import, and the CLI reads PROFILE_NAMES at start-up.
    import schemathesis
    from schemathesis.config import ConfigError as SchemathesisConfigError

    try:
        schemathesis.Config.from_dict(dict(settings))
    except SchemathesisConfigError as exc:
        lines = [line.strip(" -") for line in str(exc).splitlines()]
        said = " ".join(line for line in lines if line and not line.startswith("Valid "))
        raise config.ConfigError(path, f"{name}.schemathesis", said) from None

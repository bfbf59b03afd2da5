"""The spec as schemathesis sees it, configured from the run's profile, seed and target."""

from __future__ import annotations

from typing import Any

import schemathesis

from ..rules import RULES
from ..spec import SPEC_PATH
from .ledger import BUILTIN_CHECK_RULES
from .profiles import _deep_merge
from .suite import Suite


def schemathesis_settings(suite: Suite) -> dict[str, Any]:
    """The schemathesis.toml keys for this run: the profile's table plus seed and base URL."""
    settings: dict[str, Any] = _deep_merge(
        suite.profile.schemathesis,
        {
            "seed": suite.seed,
            "base-url": suite.base_url,
            # A hang ends the request, then the run (watch.py), never the suite's patience.
            "request-timeout": suite.profile.request_timeout_s,
            "suppress-health-check": ["too_slow", "filter_too_much"],
            # Negative cases that are not negative once serialized would be false alarms.
            "generation": {"database": "none"},
        },
    )
    if suite.schemathesis_report is not None:
        # Schemathesis masks sensitive headers in its report; our scrub pass runs over it too.
        settings["reports"] = {"html": {"path": str(suite.schemathesis_report)}}
    if suite.documented_only:
        # A built-in check that only judges assumed rules has nothing to say in this mode.
        for check, rule_ids in BUILTIN_CHECK_RULES.items():
            if rule_ids and all(RULES[rule_id].assumed for rule_id in rule_ids):
                settings.setdefault("checks", {}).setdefault(check, {})["enabled"] = False
    return settings


def load_schema(suite: Suite) -> Any:
    config = schemathesis.Config.from_dict(schemathesis_settings(suite))
    return schemathesis.openapi.from_path(SPEC_PATH, config=config)

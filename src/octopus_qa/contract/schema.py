"""The spec as schemathesis sees it, configured from the run's profile, seed and target."""

from __future__ import annotations

from typing import Any

import schemathesis

from ..errors import TargetUnreachable
from ..plan.contract_profiles import _deep_merge
from ..spec import SPEC_PATH
from ..target.session import login
from .ledger import BUILTIN_CHECK_RULES
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
        for check, judged in BUILTIN_CHECK_RULES.items():
            if judged and all(rule.assumed for rule in judged):
                settings.setdefault("checks", {}).setdefault(check, {})["enabled"] = False
    return settings


def load_schema(suite: Suite) -> Any:
    """The spec, configured for the run, its cases authenticated by the run's login."""
    config = schemathesis.Config.from_dict(schemathesis_settings(suite))
    schema = schemathesis.openapi.from_path(SPEC_PATH, config=config)
    run_login = type("RunLoginOfThisRun", (RunLogin,), {"__init__": _bound_to(suite)})
    schema.auth(refresh_interval=None).skip_for(path="/auth/login")(run_login)
    return schema


def _bound_to(suite: Suite) -> Any:
    """schemathesis makes its auth provider with no arguments: bind the run's Suite for it."""

    def __init__(self: RunLogin) -> None:
        RunLogin.__init__(self, suite)

    return __init__


#: Operations that spend the tokens they are sent; each example gets its own login.
SPENDS_TOKENS = {"POST /auth/logout": "access_token", "POST /auth/refresh": "refresh_token"}


class RunLogin:
    """The run's shared access token (renewed before `exp`), or a login of its own."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite

    def get(self, case: Any, context: Any) -> str:
        suite = self.suite
        spent = SPENDS_TOKENS.get(case.operation.label)
        if spent is None:
            return suite.shared_login.access_token()
        suite.watch.before_request()
        try:
            tokens = login(
                suite.base_url,
                suite.credentials,
                suite.profile.request_timeout_s,
                suite.retry_later,
            )
        except TargetUnreachable as exc:
            raise suite.watch.lost("POST /auth/login", str(exc)) from None
        suite.secrets.add(*tokens.secrets())
        return tokens.refresh_token if spent == "refresh_token" else tokens.access_token

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

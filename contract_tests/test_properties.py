"""Every operation of the spec, driven by schemathesis with positive and negative data.

All built-in checks that apply run (configured in profiles.toml, not switched off), plus the rule
checks of checks.py. The run's single login is schemathesis's auth; logout and refresh get a
login of their own per example, since they spend the tokens they are given.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from octopus_qa.contract.ledger import BUILTIN_CHECK_RULES, OPERATION_INPUT_RULES
from octopus_qa.contract.schema import load_schema
from octopus_qa.readings import Undecided, either_reading_answered, undecided_inputs
from octopus_qa.rules import RETRY_LATER, RulesBroken, rules_broken_by

from .checks import CHECKED_RULES
from .plugin import current_suite

schema = load_schema(current_suite())

#: Operations that spend the tokens they are sent; each example gets its own login.
SPENDS_TOKENS = {"POST /auth/logout": "access_token", "POST /auth/refresh": "refresh_token"}


@schema.auth(refresh_interval=None).skip_for(path="/auth/login")
class RunLogin:
    """The run's shared access token (renewed before `exp`), or a login of its own."""

    def get(self, case: Any, context: Any) -> str:
        suite = current_suite()
        spent = SPENDS_TOKENS.get(case.operation.label)
        if spent is None:
            return suite.shared_login.access_token()
        from octopus_qa.session import login

        tokens = login(suite.base_url, suite.credentials)
        suite.secrets.add(*tokens.secrets())
        return tokens.refresh_token if spent == "refresh_token" else tokens.access_token

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def _reissue_stale_auth(case: Any) -> None:
    """Schemathesis sets auth when it generates a case, but the coverage phase generates its
    cases ahead and hypothesis replays examples: by the time a case is sent, a token we gave it
    may have expired (short-lived targets) or been spent (logout, refresh). Give it a current
    one. An Authorization header we did not issue (negative testing) is left as generated."""
    value = (case.headers or {}).get("Authorization", "")
    if value.startswith("Bearer ") and value.removeprefix("Bearer ") in current_suite().secrets:
        login = RunLogin()
        login.set(case, login.get(case, None), None)


PROPERTY_RULES = tuple(
    dict.fromkeys(
        CHECKED_RULES
        + tuple(rule for rules in BUILTIN_CHECK_RULES.values() for rule in rules)
        + tuple(rule for rules in OPERATION_INPUT_RULES.values() for rule in rules)
    )
)


def _rules_broken(group: FailureGroup, operation: str) -> list[str]:
    """The rules a schemathesis failure group broke: the RuleViolation each custom check raised
    (schemathesis keeps it on the failure), and the rules of the built-in checks that failed."""
    broken: list[str] = []
    for failure in group.exceptions:
        names = [rule.id for rule in rules_broken_by(getattr(failure, "exception", None))]
        for check in type(failure).checks:
            if check in ("negative_data_rejection", "positive_data_acceptance"):
                names.extend(OPERATION_INPUT_RULES.get(operation, ()))
            else:
                names.extend(BUILTIN_CHECK_RULES.get(check, ()))
        broken.extend(names)
    return list(dict.fromkeys(broken))


def _call_with_retry_later(case: Any, base_url: str, max_wait: float) -> Any:
    """Send the case; a 429 is waited for (bounded) and retried, never judged (E4)."""
    response = case.call(base_url=base_url)
    for _ in range(3):
        if response.status_code != RETRY_LATER:
            return response
        try:
            wait = float((response.headers.get("retry-after") or ["1"])[0])
        except ValueError:
            wait = 1.0
        time.sleep(max(0.0, min(wait, max_wait)))
        response = case.call(base_url=base_url)
    return response


def _undecided(response: Any) -> tuple[Undecided, ...]:
    """The values of the request as sent whose validity the documents leave open (readings.py)."""
    request = response.request
    url = urlsplit(str(request.url))
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    return undecided_inputs(str(request.method).upper(), url.path, query, request.body)


#: Replaced, for a request holding an undecided value, by `readings.either_reading_answered`:
#: schemathesis counts `1.0` as an integer and demands a 2xx for it, where a server may also
#: refuse it with the documented 400 (ASSUMPTIONS P4 does not decide; TRACEABILITY § Readings).
DATA_ACCEPTANCE_CHECKS = [positive_data_acceptance, negative_data_rejection]


@pytest.mark.rule(*PROPERTY_RULES)
@schema.parametrize()
def test_operation_keeps_the_contract(case: Any) -> None:
    suite = current_suite()
    _reissue_stale_auth(case)
    response = _call_with_retry_later(case, suite.base_url, suite.profile.retry_after_max_s)
    suite.secrets.add_from_body(response.content)  # login/refresh bodies carry tokens
    if response.status_code == RETRY_LATER:
        pytest.skip("the target kept answering 429 (retry later, ASSUMPTIONS E4)")
    undecided = _undecided(response)
    try:
        case.validate_response(
            response,
            excluded_checks=DATA_ACCEPTANCE_CHECKS if undecided else None,
            transport_kwargs={"base_url": suite.base_url},
        )
    except FailureGroup as group:
        raise RulesBroken(_rules_broken(group, case.operation.label), group.message) from None
    either_reading_answered(response.status_code, undecided)

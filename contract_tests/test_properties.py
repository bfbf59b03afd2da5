"""Every operation of the spec, driven by schemathesis with positive and negative data.

All built-in checks that apply run (configured in profiles.toml, not switched off), plus the rule
checks of checks.py. The run's single login is schemathesis's auth; logout and refresh get a
login of their own per example, since they spend the tokens they are given.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import schemathesis
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from octopus_qa.contract.deviations import Breach
from octopus_qa.contract.exchanges import from_schemathesis
from octopus_qa.contract.ledger import (
    BUILTIN_CHECK_RULES,
    OPERATION_INPUT_RULES,
    PARAMETER_RULES,
)
from octopus_qa.contract.requests_session import SuiteSession
from octopus_qa.contract.schema import RunLogin
from octopus_qa.contract.schemathesis_checks import PROPERTY_RULES
from octopus_qa.contract.suite import Suite
from octopus_qa.contract.watch import transport_reason
from octopus_qa.rules import RETRY_LATER, Rule, RulesBroken, rules_broken_by
from octopus_qa.rules.readings import Undecided, either_reading_answered, undecided_inputs

#: Loaded by the plugin's `contract_schema` fixture when the test runs: nothing at import.
schema = schemathesis.pytest.from_fixture("contract_schema")


def _reissue_stale_auth(suite: Suite, case: Any) -> None:
    """Schemathesis sets auth when it generates a case, but the coverage phase generates its
    cases ahead and hypothesis replays examples: by the time a case is sent, a token we gave it
    may have expired (short-lived targets) or been spent (logout, refresh). Give it a current
    one. An Authorization header we did not issue (negative testing) is left as generated."""
    value = (case.headers or {}).get("Authorization", "")
    if value.startswith("Bearer ") and value.removeprefix("Bearer ") in suite.secrets:
        login = RunLogin(suite)
        login.set(case, login.get(case, None), None)


INVALID_PARAMETER = re.compile(r"parameter `([^`]+)`")


def _rules_of(failure: Any, operation: str) -> list[Rule]:
    """The rules one schemathesis failure may stand for (a built-in check covers several): the
    RuleViolation a custom check raised (schemathesis keeps it on the failure as `exception`),
    and the rules of the built-in checks that failed."""
    names = list(rules_broken_by(getattr(failure, "exception", None)))
    for check in type(failure).checks:
        if check in ("negative_data_rejection", "positive_data_acceptance"):
            names.extend(OPERATION_INPUT_RULES.get(operation, ()))
        else:
            names.extend(BUILTIN_CHECK_RULES.get(check, ()))
    return names


def _rules_broken(group: FailureGroup, operation: str) -> list[Rule]:
    broken = [rule for failure in group.exceptions for rule in _rules_of(failure, operation)]
    return list(dict.fromkeys(broken))


def _breaches(group: FailureGroup, case: Any, status: int) -> list[Breach]:
    """One breach per failure, where a known deviation can match it: the operation as sent (the
    coverage phase sends other methods under an operation's label) and the status it got. Invalid
    data accepted names its parameter (`parameter `page` in query`): that parameter's rule."""
    operation = f"{case.method.upper()} {case.operation.path}"
    breaches = []
    for failure in group.exceptions:
        rules = _rules_of(failure, case.operation.label)
        named = INVALID_PARAMETER.search(str(getattr(failure, "message", "")))
        if named and named[1] in PARAMETER_RULES and PARAMETER_RULES[named[1]] in rules:
            rules = [PARAMETER_RULES[named[1]]]
        breaches.append(Breach(tuple(dict.fromkeys(rules)), operation, status))
    return breaches


@pytest.fixture(scope="session")
def transport(suite: Suite) -> dict[str, Any]:
    """How every case is sent: one session for the run, with the 429 policy and the target
    watch, for cases and probes alike."""
    session = SuiteSession(suite.retry_later, suite.watch, suite.profile.request_timeout_s)
    return {"base_url": suite.base_url, "session": session}


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
def test_operation_keeps_the_contract(
    case: Any, suite: Suite, transport: dict[str, Any], rule_checks: list[Any]
) -> None:
    _reissue_stale_auth(suite, case)
    response = case.call(**transport)  # 429s are retried (bounded) by the session, never judged
    suite.secrets.add_from_body(response.content)  # login/refresh bodies carry tokens
    if response.status_code == RETRY_LATER:
        pytest.skip("the target kept answering 429 (retry later, ASSUMPTIONS E4)")
    undecided = _undecided(response)
    excluded = DATA_ACCEPTANCE_CHECKS if undecided else None
    group = _validate(suite, case, response, transport, rule_checks, excluded)
    if group is not None:
        raise RulesBroken(
            _rules_broken(group, case.operation.label),
            group.message,
            breaches=_breaches(group, case, response.status_code),
            exchanges=(from_schemathesis(response),),
        ) from None
    either_reading_answered(response.status_code, undecided)


def _probe_was_rate_limited(failure: Exception) -> bool:
    """ignored_auth re-sends the case without credentials; a 429 to that probe says nothing
    about auth (E4), and the probe is not sent through our session (schemathesis strips it)."""
    message = str(getattr(failure, "message", ""))
    return "ignored_auth" in getattr(type(failure), "checks", ()) and "got `429 " in message


def _validate(
    suite: Suite,
    case: Any,
    response: Any,
    transport: dict[str, Any],
    rule_checks: list[Any],
    excluded: list[Any] | None,
) -> FailureGroup | None:
    """The checks' failures (but the `excluded` checks'), with probes that met a 429 retried by
    the run's one policy and, if the target kept answering 429, left out (not judged)."""

    def attempt() -> FailureGroup | None:
        try:
            case.validate_response(
                response,
                additional_checks=rule_checks,
                excluded_checks=excluded,
                transport_kwargs=transport,
            )
        except FailureGroup as group:
            return group
        except requests.RequestException as exc:  # a check's probe found the target gone
            reason = transport_reason(exc, suite.profile.request_timeout_s)
            raise suite.watch.lost(f"{case.operation.label} (a check's probe)", reason) from None
        return None

    def status_of(group: FailureGroup | None) -> int:
        limited = group is not None and any(map(_probe_was_rate_limited, group.exceptions))
        return RETRY_LATER if limited else 200

    group = suite.retry_later.call(attempt, status_of, lambda _: None)
    if group is None:
        return None
    judged = [failure for failure in group.exceptions if not _probe_was_rate_limited(failure)]
    if not judged:
        return None
    return group if len(judged) == len(group.exceptions) else FailureGroup(judged)

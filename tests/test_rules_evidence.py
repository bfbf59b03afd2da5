"""A rule passes on evidence, never by default: each check says when an exchange met the
situation its rule is about (rules.evidence), and the contract ledger turns a rule that nothing
applied to into UNTESTED, with the reason, whatever its tests' outcomes."""

from __future__ import annotations

import time

from test_rules_requests import LIST, exchange, jwt_with

from octopus_qa import rules
from octopus_qa.contract.ledger import RuleLedger
from octopus_qa.contract.ledger import TestOutcome as Outcome
from octopus_qa.rules.evidence import applies, recording
from octopus_qa.verdicts import Verdict


def applied_by(check: object, *exchanges: object) -> dict[str, int]:
    """Which rules `check` applied to `exchanges`, and how often (violations ignored)."""
    with recording() as evidence:
        for one in exchanges:
            try:
                check(one)  # type: ignore[operator]
            except rules.RuleViolation:
                pass
    return {rule.id: count for rule, count in evidence.exchanges.items()}


# --- Checks say when they apply -------------------------------------------------------------------


def test_a_listing_without_filters_is_no_evidence_that_filters_match() -> None:
    plain = exchange(200, response=[{"id": 2, "category": "games"}])
    plain.query = {}
    filtered = exchange(200, response=[{"id": 2, "category": "games"}])
    filtered.query = {"category": "games"}
    assert "filters-match" not in applied_by(rules.listing_matches_filters, plain)
    assert applied_by(rules.listing_matches_filters, filtered) == {"filters-match": 1}


def test_a_forged_token_with_an_old_exp_is_no_evidence_that_expiry_is_checked() -> None:
    """A token the target never issued is refused for its signature as much as for its age."""
    forged = exchange(401, token=jwt_with(sub="demo", exp=time.time() - 3600))
    assert "expired-token-rejected" not in applied_by(rules.request_checks, forged)


def test_an_issued_token_presented_after_its_exp_is_the_evidence() -> None:
    token = jwt_with(sub="demo", exp=time.time() - 60)
    ledger = rules.TokenLedger()
    ledger.issued(token, "its-refresh-token")
    assert applied_by(ledger.judge, exchange(401, token=token)) == {"expired-token-rejected": 1}
    fresh = jwt_with(sub="demo", exp=time.time() + 600)
    ledger.issued(fresh, "another-refresh-token")
    assert applied_by(ledger.judge, exchange(200, token=fresh)) == {}


def test_an_issued_token_served_after_its_exp_breaks_the_rule_in_the_ledger() -> None:
    token = jwt_with(sub="demo", exp=time.time() - 60)
    ledger = rules.TokenLedger()
    ledger.issued(token, "its-refresh-token")
    try:
        ledger.judge(exchange(200, token=token))
    except rules.RuleViolation as violation:
        assert violation.rule is rules.EXPIRED_TOKEN_REJECTED
    else:
        raise AssertionError("an issued token served 60 s after its exp was not caught")


def test_a_success_says_nothing_of_the_error_envelope_and_a_refusal_does() -> None:
    ok = exchange(200, response=[])
    refused = exchange(400, response={"error": {"name": "x", "code": "y", "message": "z"}})
    assert "error-envelope" not in applied_by(rules.error_envelope_is_documented, ok)
    assert applied_by(rules.error_envelope_is_documented, refused) == {"error-envelope": 1}


def test_an_exchange_judged_twice_for_one_rule_counts_once() -> None:
    one = exchange(400, path=f"{LIST}/0")
    with recording() as evidence:
        applies(rules.PRODUCT_ID_BOUNDS, one)
        applies(rules.PRODUCT_ID_BOUNDS, one)
        applies(rules.PRODUCT_ID_BOUNDS, exchange(400, path=f"{LIST}/-1"))
    assert evidence.exchanges == {rules.PRODUCT_ID_BOUNDS: 2}


def test_nothing_is_recorded_outside_a_recording() -> None:
    applies(rules.AUTH_REQUIRED, exchange(401))  # the load users: no recorder, no cost
    with recording() as evidence:
        pass
    assert evidence.exchanges == {}


# --- The ledger: a pass needs evidence ------------------------------------------------------------


def test_tests_that_passed_without_applying_their_rule_leave_it_untested() -> None:
    ledger = RuleLedger()
    for n in range(6):
        ledger.record(Outcome(f"t::generated[{n}]", "passed", rules=("expired-token-rejected",)))
    ledger.record(
        Outcome("t::expiry", "skipped", "tokens live 900 s", rules=("expired-token-rejected",))
    )
    entry = ledger.by_rule()["expired-token-rejected"]
    assert entry.status == Verdict.UNTESTED
    assert entry.exchanges == 0 and entry.tests_applied == 0
    assert "no exchange met the situation" in entry.reason and "1 skipped" in entry.reason
    assert entry.reason.endswith("skipped: tokens live 900 s")


def test_a_rule_passes_on_the_exchanges_it_was_applied_to_in_any_test() -> None:
    ledger = RuleLedger()
    ledger.record(Outcome("t::listing", "passed", rules=("filters-match",)))
    ledger.record(
        Outcome("t::other", "passed", rules=("sort-format",), evidence={"filters-match": 3})
    )
    entry = ledger.by_rule()["filters-match"]
    assert entry.status == Verdict.PASS
    assert (entry.exchanges, entry.tests_applied) == (3, 1)


def test_a_failure_counts_whatever_the_evidence_and_a_skip_is_never_evidence() -> None:
    ledger = RuleLedger()
    ledger.record(Outcome("t::a", "passed", evidence={"page-bounds": 5}))
    ledger.record(Outcome("t::b", "failed", "[page-bounds] ...", rules=("page-bounds",)))
    ledger.record(Outcome("t::c", "skipped", evidence={"limit-bounds": 2}))
    by_rule = ledger.by_rule()
    assert by_rule["page-bounds"].status == Verdict.FAIL
    assert by_rule["limit-bounds"].status == Verdict.UNTESTED
    assert by_rule["limit-bounds"].reason == "no test of this run exercised it"

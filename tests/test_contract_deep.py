"""The deep profile's property tests against a clean sandbox: every check on, zero server errors.

Issue 10: schemathesis at the `deep` profile (300 examples per operation, every built-in check
and every registered rule check) plus the suite's own hypothesis properties and the auth state
machine, against `octoqa sandbox` in a process of its own. The run must pass, and no response it
judged may have had a 5xx status. The statuses come from summary.json's `coverage.operations`
(`seen`: every status a check or the suite's client recorded, per operation and method); that
record skips 429s (retried, never judged) and paths outside the spec's templates, and a 5xx
would also fail schemathesis's `not_a_server_error` check, so both the exit code and the record
are asserted. Minutes long: soak only (`tox -e soak`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from contract_runs import run_contract, sandbox

#: The property tests: schemathesis over every operation (every check), the auth state machine,
#: and the hand-written hypothesis properties (boundaries, pagination, details vs list entry,
#: availability outside the ranges).
#: 17 tests at the time of writing, the schemathesis one parametrized over the six operations.
#: (test_whole_catalog's details test shares a name prefix but is a walk, not a property.)
PROPERTY_TESTS = "({}) and not on_unusual_and_sampled_products".format(
    " or ".join(
        [
            "test_operation_keeps_the_contract",
            "test_auth_flow_holds_in_any_order",
            "test_any_",
            "test_quantity_of_one_or_more_is_accepted",
            "test_pagination_headers_hold_on_any_page",
            "test_pagination_holds_on_any_page_of_any_listing",
            "test_details_equal_the_list_entry",
            "test_availability_is_false_outside_every_range",
        ]
    )
)
SCHEMATHESIS_TEST = "contract_tests/test_properties.py::test_operation_keeps_the_contract"
STATE_MACHINE_TEST = "contract_tests/test_auth_flow.py::test_auth_flow_holds_in_any_order"


@pytest.mark.soak
def test_deep_property_tests_pass_with_zero_server_errors(tmp_path: Path) -> None:
    with sandbox() as url:
        result = run_contract(
            tmp_path,
            "--profile",
            "deep",
            "--seed",
            "1",
            "--target",
            url,
            "--",
            "-k",
            PROPERTY_TESTS,
            timeout_s=1200,
        )
    assert result.exit_code == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = result.summary
    assert summary["judged"] and summary["totals"]["failed"] == 0
    outcomes = {t["nodeid"]: t["outcome"] for r in summary["rules"].values() for t in r["tests"]}
    assert outcomes.get(SCHEMATHESIS_TEST) == "passed", outcomes
    assert outcomes.get(STATE_MACHINE_TEST) == "passed", outcomes
    operations = summary["coverage"]["operations"]
    assert all(op["seen"] for op in operations if op["declared"]), operations
    server_errors = [
        f"{op['method']} {op['path']}: {status}"
        for op in operations
        for status in op["seen"]
        if status >= 500
    ]
    assert not server_errors, server_errors

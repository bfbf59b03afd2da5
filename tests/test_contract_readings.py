"""Zero false alarms where the documents do not decide: the suite passes against every reading.

Each reading of the sandbox (`octoqa sandbox --reading NAME`, sandbox/readings.py) answers one
open question the other way from the default: `"quantity": 1.0` refused, a partial sort object
refused, `limit=+5` accepted, ... Both answers keep the contract, so a suite that fails against
one raised a false alarm. Quick against each reading alone; default, on two seeds, against all
of them at once. And every reading must change an answer, or it proves nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from contract_runs import run_contract, sandbox
from sandbox_client import Api

from octopus_qa.rules.readings import AMBIGUITIES, undecided_inputs
from octopus_qa.sandbox.readings import READINGS

ALL_READINGS = [arg for name in READINGS for arg in ("--reading", name)]

#: For each reading, one request whose answer it changes (method, path, query, raw body).
CHANGED_BY = {
    "integral-floats-rejected": (
        "POST",
        "/api/v1/products/1001/availability",
        {},
        '{"denomination": 100, "quantity": 1.0}',
    ),
    "big-integers-rejected": ("GET", "/api/v1/products", {"page": str(2**64)}, None),
    "lenient-integers-accepted": ("GET", "/api/v1/products", {"limit": "+5"}, None),
    "leading-zeros-rejected": ("GET", "/api/v1/products", {"limit": "05"}, None),
    "exact-decimals": (
        "POST",
        "/api/v1/products/1001/availability",
        {},
        '{"denomination": 1000000000.00000000000000001, "quantity": 1}',
    ),
    "extra-fields-rejected": (
        "POST",
        "/api/v1/products/1001/availability",
        {},
        '{"denomination": 100, "quantity": 1, "x": 1}',
    ),
    "duplicate-keys-rejected": (
        "POST",
        "/api/v1/products/1001/availability",
        {},
        '{"denomination": 100, "quantity": 1, "quantity": 2}',
    ),
    "empty-credentials-rejected": ("POST", "/auth/login", {}, '{"username": "", "password": ""}'),
    "partial-sort-rejected": ("GET", "/api/v1/products", {"sort": '{"field": "name"}'}, None),
    "sort-extra-keys-ignored": (
        "GET",
        "/api/v1/products",
        {"sort": '{"field": "id", "direction": "ASC", "x": 1}'},
        None,
    ),
    "sort-field-case-sensitive": (
        "GET",
        "/api/v1/products",
        {"sort": '{"field": "ID", "direction": "ASC"}'},
        None,
    ),
    "sort-id-and-name-only": (
        "GET",
        "/api/v1/products",
        {"sort": '{"field": "category", "direction": "ASC"}'},
        None,
    ),
}


def test_every_reading_answers_a_catalogued_question() -> None:
    assert {reading.ambiguity for reading in READINGS.values()} <= set(AMBIGUITIES)
    assert set(CHANGED_BY) == set(READINGS)


@pytest.mark.parametrize("name", sorted(READINGS))
def test_reading_changes_the_answer_to_an_undecided_request(
    make_api: Callable[..., Api], name: str
) -> None:
    method, path, query, body = CHANGED_BY[name]
    assert any(
        u.ambiguity.id == READINGS[name].ambiguity
        for u in undecided_inputs(method, path, query, body)
    ), f"readings.py does not call the request {name} changes undecided"
    answers = []
    for readings in ((), (name,)):
        api = make_api(readings=list(readings))
        headers = {"Content-Type": "application/json"} if body is not None else {}
        token = None if path == "/auth/login" else api.token
        exchange = api.call(method, path, params=query, content=body, headers=headers, token=token)
        answers.append(exchange.status)
    assert answers[0] != answers[1], f"{name}: both readings answered {answers[0]}"
    assert set(answers) <= {200, 400, 401}, answers


@pytest.mark.soak  # twelve runs, six minutes: CI runs every reading at once, below
@pytest.mark.parametrize("name", sorted(READINGS))
def test_quick_profile_passes_against_the_reading(tmp_path: Path, name: str) -> None:
    with sandbox("--reading", name) as url:
        result = run_contract(tmp_path, "--target", url, "--profile", "quick", "--seed", "1")
    failing = [rule for rule, entry in result.summary["rules"].items() if entry["status"] == "fail"]
    assert result.exit_code == 0, f"reading {name}: failing {failing}\n{result.stdout[-3000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, pytest.param(3, marks=pytest.mark.soak)])
def test_default_profile_passes_against_every_reading_at_once(tmp_path: Path, seed: int) -> None:
    with sandbox(*ALL_READINGS) as url:
        result = run_contract(
            tmp_path, "--target", url, "--profile", "default", "--seed", str(seed)
        )
    failing = [rule for rule, entry in result.summary["rules"].items() if entry["status"] == "fail"]
    assert result.exit_code == 0, f"seed {seed}: failing {failing}\n{result.stdout[-3000:]}"

"""X-Request-Id on every response (H1), echoed when a KSUID (H2), fresh otherwise (H3), and JSON
bodies labelled as JSON (H4)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from ksuid import Ksuid
from sandbox_client import Api

from octopus_qa import ksuids
from octopus_qa.ksuids import SEQUENCE_LENGTH, encode, is_ksuid, new_ksuid
from octopus_qa.rules import json_content_type, request_id_follows_rules

RESPONSES_OF_EVERY_KIND = [
    pytest.param("GET", "/api/v1/products", "token", id="200-list"),
    pytest.param("GET", "/api/v1/products/1001", "token", id="200-detail"),
    pytest.param("POST", "/auth/logout", "token", id="204"),
    pytest.param("GET", "/api/v1/products/0", "token", id="400"),
    pytest.param("GET", "/api/v1/products", None, id="401"),
    pytest.param("GET", "/api/v1/products/999999", "token", id="404"),
    pytest.param("GET", "/nothing-here", None, id="404-unknown-path"),
    pytest.param("GET", "/openapi.yaml", None, id="spec"),
]


@pytest.mark.parametrize("method, path, token", RESPONSES_OF_EVERY_KIND)
def test_request_id_present_and_generated_on_every_response(
    api: Api, method: str, path: str, token: str | None
) -> None:
    exchange = api.call(method, path, token=api.token if token else None)
    request_id_follows_rules(exchange)
    assert is_ksuid(exchange.headers["x-request-id"])


@pytest.mark.parametrize("method, path, token", RESPONSES_OF_EVERY_KIND)
def test_request_id_echoed_on_every_response(
    api: Api, method: str, path: str, token: str | None
) -> None:
    sent = new_ksuid()
    exchange = api.call(
        method, path, token=api.token if token else None, headers={"X-Request-Id": sent}
    )
    assert exchange.headers["x-request-id"] == sent


def test_request_id_generated_fresh_for_each_request(api: Api) -> None:
    ids = {api.products(limit="1").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5 and all(is_ksuid(i) for i in ids)


def test_request_id_echoed_for_the_largest_ksuid(api: Api) -> None:
    largest = "aWgEPTl1tmebfsQzFP4bxwgy80V"
    assert api.products(headers={"X-Request-Id": largest}).headers["x-request-id"] == largest


@pytest.mark.parametrize(
    "sent",
    [
        "not-a-ksuid",
        "",
        "z" * 27,  # base62, but above 160 bits
        "aWgEPTl1tmebfsQzFP4bxwgy80W",  # one past the largest KSUID
        "0ujtsYcgvSTl8PAuAdqWYSMnLO",  # 26 characters
        "0ujtsYcgvSTl8PAuAdqWYSMnLOvx",  # 28 characters
        "0ujtsYcgvSTl8PAuAdqWYSMnLO-",
        "550e8400-e29b-41d4-a716-446655440000",
    ],
)
def test_request_id_invalid_replaced(api: Api, sent: str) -> None:
    exchange = api.products(limit="1", headers={"X-Request-Id": sent})
    assert exchange.status == 200
    assert exchange.headers["x-request-id"] != sent
    request_id_follows_rules(exchange)


@pytest.mark.parametrize(
    "method, path, token",
    [entry for entry in RESPONSES_OF_EVERY_KIND if entry.id not in ("204", "spec")],
)
def test_json_content_type(api: Api, method: str, path: str, token: str | None) -> None:
    exchange = api.call(method, path, token=api.token if token else None)
    assert exchange.json is not None
    assert exchange.headers["content-type"] == "application/json"
    json_content_type(exchange)


def test_no_content_type_on_the_empty_logout_answer(api: Api) -> None:
    exchange = api.post("/auth/logout")
    assert exchange.status == 204 and "content-type" not in exchange.headers


def test_request_ids_are_ksuids_that_round_trip_through_svix_ksuid() -> None:
    for _ in range(2000):
        request_id = new_ksuid()
        assert is_ksuid(request_id)
        assert str(Ksuid.from_base62(request_id)) == request_id
    assert abs(Ksuid.from_base62(new_ksuid()).timestamp - time.time()) < 2


@pytest.mark.parametrize(
    "value", [0, 1, 3843, 3844, 2**128, 2**160 - 1, *range(7**50, 7**51, 7**49)]
)
def test_a_160_bit_value_is_encoded_as_the_reference_encodes_it(value: int) -> None:
    assert encode(value) == str(Ksuid.from_bytes(value.to_bytes(20, "big")))


def test_ids_drawn_by_threads_across_sequences_are_all_distinct_ksuids() -> None:
    """More ids than one sequence holds, drawn by four threads at once: no id twice, and the
    sequences that ran out were followed by others with other random digits."""
    per_thread = SEQUENCE_LENGTH // 2
    with ThreadPoolExecutor(4) as pool:
        drawn = list(pool.map(lambda _: [new_ksuid() for _ in range(per_thread)], range(4)))
    ids = [request_id for batch in drawn for request_id in batch]
    assert len(set(ids)) == len(ids) == 4 * per_thread
    assert all(map(is_ksuid, ids))
    assert len({request_id[:24] for request_id in ids}) >= 2


def test_a_sequence_seeded_at_the_largest_value_stays_within_160_bits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ksuids.os, "urandom", lambda size: b"\xff" * size)
    last_second = ksuids._KSUID_EPOCH + 0xFFFFFFFF
    sequence = ksuids._Sequence.seeded(last_second)
    last = sequence.prefix + "zzz"  # the sequence's last id
    assert is_ksuid(last)
    value = int.from_bytes(bytes(Ksuid.from_base62(last)), "big")
    assert 2**160 - 2 * SEQUENCE_LENGTH < value < 2**160


@pytest.mark.parametrize(
    "value",
    [
        "",
        "0" * 26,  # one short
        "0" * 28,  # one long
        "0" * 26 + "-",
        "0" * 26 + "_",
        "0" * 26 + " ",
        "0" * 26 + "é",  # a letter, not base62
        "0" * 26 + "٣",  # an Arabic-Indic digit: alphanumeric, not ASCII
        "0" * 26 + "ｚ",  # a fullwidth z
        "aWgEPTl1tmebfsQzFP4bxwgy80W",  # one above the largest 160-bit value
        "z" * 27,
    ],
)
def test_a_value_that_is_not_27_base62_digits_of_at_most_160_bits_is_not_a_ksuid(
    value: str,
) -> None:
    assert not is_ksuid(value)


@pytest.mark.parametrize(
    "value", ["0" * 27, "aWgEPTl1tmebfsQzFP4bxwgy80V", "0ujtsYcgvSTl8PAuAdqWYSMnLOv"]
)
def test_27_base62_digits_of_at_most_160_bits_are_a_ksuid(value: str) -> None:
    assert is_ksuid(value)

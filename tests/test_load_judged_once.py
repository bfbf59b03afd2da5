"""The faster path under load judges what the slow one did: remembered verdicts and counts.

`Exchange.array_length` remembers counts by the body's exact bytes; `cheap_checks` remembers
answers that held by everything but their request id, and judges that id every time;
`judged_once` remembers pages that held by request and body (loadtest/judged_once.py). None may
hide a response that differs: another body, another header, another request id, the same body
under another sort or filter, a page that broke before.
The end-to-end proof, under Locust against a target that reverses every second answer to the
same request, is tests/test_load_runs.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from octopus_qa.ksuids import new_ksuid
from octopus_qa.loadtest.judged_once import HELD, judged_once
from octopus_qa.rules import (
    Exchange,
    RuleViolation,
    cheap_checks,
    cheap_request_checks,
    cheap_response_checks,
    listing_is_in_requested_order,
    listing_matches_filters,
    pagination_headers_are_consistent,
)
from octopus_qa.rules.evidence import recording
from octopus_qa.rules.exchange import MISSING, BoundedMemo

PRODUCTS = [
    {"id": 9 - n, "name": f"Card {n}", "category": "Gift Cards", "country_code": "GB"}
    for n in range(5)
]  # id descending: the default order


def page(items: list[dict[str, Any]], **query: str) -> Exchange:
    """A 200 listing of `items`, its pagination headers consistent with them, a fresh body."""
    size = len(items)
    headers = {
        "content-type": "application/json",
        "x-request-id": new_ksuid(),
        "x-page": "1",
        "x-per-page": query.get("limit", "50"),
        "x-total-count": str(size),
        "x-total-pages": "1",
        "x-page-size": str(size),
        "x-has-more": "false",
    }
    body = json.dumps(items).encode()
    return Exchange("GET", "/api/v1/products", 200, headers, body=body, query=query)


@pytest.fixture(autouse=True)
def nothing_remembered() -> Iterator[None]:
    HELD.clear()
    yield
    HELD.clear()


listing_holds = judged_once(listing_matches_filters, listing_is_in_requested_order)


def test_a_page_that_held_is_not_walked_again_for_the_same_request_and_bytes() -> None:
    calls: list[Exchange] = []
    counted = judged_once(calls.append)
    counted(page(PRODUCTS, limit="5"))
    counted(page(PRODUCTS, limit="5"))  # equal bytes, another bytes object: remembered
    assert len(calls) == 1


def test_another_body_for_the_same_request_is_judged_afresh() -> None:
    listing_holds(page(PRODUCTS))
    with pytest.raises(RuleViolation, match=r"\[default-order-id-desc\]"):
        listing_holds(page(PRODUCTS[::-1]))


def test_the_same_body_under_another_sort_is_judged_afresh() -> None:
    listing_holds(page(PRODUCTS))
    with pytest.raises(RuleViolation, match=r"\[sort-orders-results\]"):
        listing_holds(page(PRODUCTS, sort='{"field":"id","direction":"ASC"}'))


def test_the_same_body_under_another_filter_is_judged_afresh() -> None:
    listing_holds(page(PRODUCTS))
    with pytest.raises(RuleViolation, match=r"\[filters-match\]"):
        listing_holds(page(PRODUCTS, category="Food"))


def test_a_page_that_broke_is_judged_and_reported_every_time() -> None:
    for _ in range(3):
        with pytest.raises(RuleViolation):
            listing_holds(page(PRODUCTS[::-1]))


def test_while_evidence_is_recorded_every_exchange_is_judged_aloud() -> None:
    with recording() as evidence:
        for _ in range(2):
            listing_holds(page(PRODUCTS))
    assert sum(evidence.exchanges.values()) == 2  # default-order-id-desc, once per exchange


def again(exchange: Exchange, **headers: str) -> Exchange:
    """The same answer to the same request, a fresh copy of its body, some headers changed."""
    return Exchange(
        exchange.method,
        exchange.path,
        exchange.status,
        {**exchange.headers, **headers},
        body=bytes(bytearray(exchange.body)),
        query=exchange.query,
        request_headers=exchange.request_headers,
    )


def test_an_answer_like_one_that_held_is_still_judged_by_its_own_request_id() -> None:
    held = page(PRODUCTS)
    cheap_checks(held)
    cheap_checks(again(held, **{"x-request-id": new_ksuid()}))  # held: only the id is new
    with pytest.raises(RuleViolation, match=r"\[request-id-generated\]"):
        cheap_checks(again(held, **{"x-request-id": "not-a-ksuid"}))
    with pytest.raises(RuleViolation, match=r"\[request-id-present\]"):
        cheap_checks(again(held, **{"x-request-id": ""}))


def test_an_answer_like_one_that_held_but_without_any_request_id_header_breaks_h1() -> None:
    """The comparison puts the held answer's id in place of the answer's own: an answer with no
    X-Request-Id at all compares like the one that held, and its own (missing) id is judged."""
    held = page(PRODUCTS)
    cheap_checks(held)
    bare = again(held)
    bare.headers = {name: value for name, value in held.headers.items() if name != "x-request-id"}
    with pytest.raises(RuleViolation, match=r"\[request-id-present\]"):
        cheap_checks(bare)


def test_an_answer_of_another_second_is_judged_by_its_request_id() -> None:
    held = page(PRODUCTS)
    cheap_checks(again(held, date="Sun, 06 Dec 2026 10:37:39 GMT"))
    with pytest.raises(RuleViolation, match=r"\[request-id-generated\]"):
        cheap_checks(again(held, date="Sun, 06 Dec 2026 10:37:40 GMT", **{"x-request-id": "x"}))


def test_an_answer_with_one_other_header_changed_is_judged_afresh() -> None:
    held = page(PRODUCTS)
    cheap_checks(held)
    with pytest.raises(RuleViolation, match=r"\[pagination-headers-consistent\]"):
        cheap_checks(again(held, **{"x-total-pages": "2"}))
    with pytest.raises(RuleViolation, match=r"\[json-content-type\]"):
        cheap_checks(again(held, **{"content-type": "text/plain"}))


def test_an_answer_whose_body_differs_from_the_one_that_held_is_judged_afresh() -> None:
    held = page(PRODUCTS)
    cheap_checks(held)
    shorter = again(held)
    shorter.body = held.body.replace(b"}, {", b"}, 7, {", 1)  # one more item, same headers
    with pytest.raises(RuleViolation, match=r"\[pagination-headers-consistent\].*6 items"):
        cheap_checks(shorter)
    cheap_checks(again(held))  # and the page that held still holds


class ReadNames(dict[str, str]):
    """Headers that note which names were read ("*": all of them)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return super().get(name, default)

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return super().__getitem__(name)

    def items(self) -> Any:
        self.read.add("*")
        return super().items()

    def __contains__(self, name: object) -> bool:
        self.read.add(str(name))
        return super().__contains__(name)

    def __len__(self) -> int:
        self.read.add("*")
        return super().__len__()


@pytest.mark.parametrize("path", ["/api/v1/products", "/api/v1/products/7"])
@pytest.mark.parametrize("sent_id", [None, "2QSKMo4aOm6QFTZXgxcWAW0A0Mw", "not-a-ksuid"])
def test_on_a_200_get_the_cheap_checks_read_no_request_header_but_its_id_and_no_date(
    path: str, sent_id: str | None
) -> None:
    """Why the memo of `cheap_checks` leaves the request's headers (every user's token) and the
    response's Date out of its key: a check that starts reading one must be keyed by it
    (rules/under_load.py)."""
    listing = page(PRODUCTS)
    body = listing.body if path.endswith("products") else json.dumps(PRODUCTS[0]).encode()
    sent = ReadNames({"authorization": "Bearer x.y.z"})
    if sent_id is not None:
        sent["x-request-id"] = sent_id
    answered = ReadNames({**listing.headers, "date": "Sun, 06 Dec 2026 10:37:39 GMT"})
    sent.read.clear()
    exchange = Exchange("GET", path, 200, answered, body=body, query={}, request_headers=sent)
    for check in (cheap_response_checks, cheap_request_checks):
        try:
            check(exchange)
        except RuleViolation:
            pass  # the echo rules may break here: which names were read is the point
    assert sent.read <= {"x-request-id"}
    assert "date" not in answered.read and "*" not in answered.read  # nor the Date answered


def test_an_answer_that_broke_a_rule_is_judged_every_time() -> None:
    broken = page(PRODUCTS, limit="0")  # accepted although limit=0 is out of bounds
    for _ in range(3):
        with pytest.raises(RuleViolation, match=r"\[limit-bounds\]"):
            cheap_checks(again(broken))


def test_a_body_that_differs_by_one_item_is_counted_afresh() -> None:
    pagination_headers_are_consistent(page(PRODUCTS))
    five = page(PRODUCTS)
    four = Exchange("GET", "/api/v1/products", 200, five.headers, body=page(PRODUCTS[:4]).body)
    assert five.array_length == 5 and four.array_length == 4
    with pytest.raises(RuleViolation, match=r"\[pagination-headers-consistent\].*holds 4 items"):
        pagination_headers_are_consistent(four)


def test_counts_of_malformed_and_non_array_bodies_are_none_each_time() -> None:
    for body in (b"[1, 2", b'{"a": 1}', b"[1, 2", b""):
        exchange = Exchange("GET", "/api/v1/products", 200, {}, body=body)
        assert exchange.array_length is None


def test_the_memo_holds_its_byte_budget_and_forgets_the_oldest_first() -> None:
    memo = BoundedMemo(max_bytes=10)
    memo.put(b"aaaa", 1, 4)
    memo.put(b"bbbb", 2, 4)
    memo.put(b"cccc", 3, 4)  # 12 bytes: the oldest goes
    assert memo.get(b"aaaa") is MISSING and memo.get(b"bbbb") == 2 and memo.get(b"cccc") == 3
    memo.put(b"x" * 11, 4, 11)  # larger than the whole budget: not kept, nothing evicted
    assert memo.get(b"x" * 11) is MISSING and memo.get(b"bbbb") == 2

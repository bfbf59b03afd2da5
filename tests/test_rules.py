"""The shared rule checks judge exchanges correctly: each holds on a good exchange and names its
rule on a broken one. These functions are what the contract suite and the load suite both call."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from octopus_qa import rules
from octopus_qa.ksuids import new_ksuid
from octopus_qa.rules import RULES, Exchange, RuleViolation


def exchange(
    status: int = 200,
    body: Any = None,
    *,
    method: str = "GET",
    path: str = "/api/v1/products",
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    request_headers: dict[str, str] | None = None,
) -> Exchange:
    raw = b"" if body is None else json.dumps(body).encode()
    base = {"x-request-id": new_ksuid(), "content-type": "application/json"}
    return Exchange(
        method=method,
        path=path,
        status=status,
        headers={**base, **(headers or {})},
        body=raw,
        query=query or {},
        request_headers=request_headers or {},
    )


def pagination(page: int, per_page: int, total: int) -> tuple[dict[str, str], list[dict[str, int]]]:
    """Headers and a body that keep the L2 arithmetic, to be broken one field at a time."""
    total_pages = math.ceil(total / per_page)
    size = max(0, min(per_page, total - (page - 1) * per_page))
    headers = {
        "x-page": str(page),
        "x-per-page": str(per_page),
        "x-total-count": str(total),
        "x-total-pages": str(total_pages),
        "x-page-size": str(size),
        "x-has-more": "true" if page < total_pages else "false",
    }
    return headers, [{"id": i} for i in range(size)]


def broken_rule(check: Any, *args: Any) -> str:
    with pytest.raises(RuleViolation) as caught:
        check(*args)
    return caught.value.rule.id


def test_catalogue_rules_are_complete_and_sourced() -> None:
    assert len(RULES) >= 40
    for rule in RULES.values():
        assert rule.basis in {"documented", "assumed"}, rule.id
        assert rule.source and rule.quote and rule.title, rule.id
        assert all(item[0] in "AEHLP" for item in rule.assumption), rule.id


def test_rule_violation_message_names_the_rule_and_is_an_assertion() -> None:
    violation = RuleViolation("limit-bounds", "limit=10001 accepted")
    assert isinstance(violation, AssertionError)
    assert str(violation).startswith("[limit-bounds] ")
    assert "limit=10001 accepted" in str(violation)


# --- Request id (H1-H3) -----------------------------------------------------------------------


def test_request_id_generated_when_none_sent_holds() -> None:
    rules.request_id_follows_rules(exchange())


def test_request_id_missing_breaks_request_id_present() -> None:
    missing = exchange(headers={"x-request-id": ""})
    assert broken_rule(rules.request_id_follows_rules, missing) == "request-id-present"


def test_request_id_sent_ksuid_must_be_echoed() -> None:
    sent = new_ksuid()
    echoed = exchange(request_headers={"x-request-id": sent}, headers={"x-request-id": sent})
    rules.request_id_follows_rules(echoed)
    replaced = exchange(request_headers={"x-request-id": sent})
    assert broken_rule(rules.request_id_follows_rules, replaced) == "request-id-echoed"


def test_request_id_generated_must_be_a_ksuid() -> None:
    uuid = exchange(headers={"x-request-id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"})
    assert broken_rule(rules.request_id_follows_rules, uuid) == "request-id-generated"


def test_request_id_garbage_must_not_be_echoed() -> None:
    garbage = "not-a-ksuid"
    echoed = exchange(request_headers={"x-request-id": garbage}, headers={"x-request-id": garbage})
    assert broken_rule(rules.request_id_follows_rules, echoed) == "request-id-invalid-replaced"
    rules.request_id_follows_rules(exchange(request_headers={"x-request-id": garbage}))


def test_request_id_over_160_bits_is_not_a_ksuid_and_must_not_be_echoed() -> None:
    too_big = "zzzzzzzzzzzzzzzzzzzzzzzzzzz"
    echoed = exchange(request_headers={"x-request-id": too_big}, headers={"x-request-id": too_big})
    assert broken_rule(rules.request_id_follows_rules, echoed) == "request-id-invalid-replaced"


# --- Status codes, envelope, content type (E1, E4, H4) -----------------------------------------


@pytest.mark.parametrize(
    ("status", "name", "code"),
    [
        (400, "BadRequestError", "BAD_REQUEST"),
        (401, "UnauthorizedError", "UNAUTHORIZED"),
        (404, "NotFoundError", "NOT_FOUND"),
        (500, "InternalServerError", "INTERNAL_SERVER_ERROR"),
    ],
)
def test_error_envelope_with_documented_pair_holds(status: int, name: str, code: str) -> None:
    body = {"error": {"name": name, "code": code, "message": "anything"}}
    rules.error_envelope_is_documented(exchange(status, body))


@pytest.mark.parametrize(
    "body",
    [
        {"message": "flat"},
        {"error": "string"},
        {"error": {"name": "BadRequestError", "code": "BAD_REQUEST"}},
        {"error": {"name": "NotFoundError", "code": "NOT_FOUND", "message": "wrong pair"}},
        None,
    ],
    ids=["flat", "error-string", "message-missing", "wrong-pair", "empty"],
)
def test_error_envelope_broken_is_caught(body: Any) -> None:
    assert broken_rule(rules.error_envelope_is_documented, exchange(400, body)) == "error-envelope"


def test_undocumented_status_breaks_documented_status_codes() -> None:
    for status in (201, 405, 422, 503):
        assert (
            broken_rule(rules.status_is_documented, exchange(status)) == "documented-status-codes"
        )
    rules.status_is_documented(exchange(204, method="POST", path="/auth/logout"))
    no_content = exchange(204, path="/api/v1/products")
    assert broken_rule(rules.status_is_documented, no_content) == "documented-status-codes"


def test_json_body_must_say_application_json() -> None:
    rules.json_content_type(
        exchange(200, [], headers={"content-type": "application/json; charset=utf-8"})
    )
    text = exchange(200, [], headers={"content-type": "text/plain"})
    assert broken_rule(rules.json_content_type, text) == "json-content-type"
    rules.json_content_type(exchange(200, headers={"content-type": "text/plain"}))  # no body


def test_cheap_checks_leave_429_to_retry_later() -> None:
    rules.cheap_response_checks(exchange(429, {"whatever": True}, headers={"x-request-id": ""}))


# --- Pagination (L2, L3) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "per_page", "total"),
    [(1, 50, 1247), (13, 50, 1247), (25, 50, 1247), (26, 50, 1247), (1, 50, 0), (1, 10000, 10500)],
    ids=["first", "middle", "last", "past-last", "empty", "max-limit"],
)
def test_pagination_arithmetic_holds(page: int, per_page: int, total: int) -> None:
    headers, items = pagination(page, per_page, total)
    query = {"page": str(page), "limit": str(per_page)}
    rules.pagination_headers_are_consistent(exchange(200, items, headers=headers, query=query))


@pytest.mark.parametrize(
    ("header", "value", "rule"),
    [
        ("x-total-pages", "24", "pagination-headers-consistent"),
        ("x-page-size", "49", "pagination-headers-consistent"),
        ("x-has-more", "false", "pagination-headers-consistent"),
        ("x-has-more", "True", "pagination-headers-consistent"),
        ("x-page", "2", "pagination-headers-consistent"),
        ("x-per-page", "abc", "pagination-headers-consistent"),
    ],
)
def test_pagination_header_off_is_caught(header: str, value: str, rule: str) -> None:
    headers, items = pagination(1, 50, 1247)
    headers[header] = value
    broken = exchange(200, items, headers=headers, query={"page": "1", "limit": "50"})
    assert broken_rule(rules.pagination_headers_are_consistent, broken) == rule


def test_pagination_header_missing_is_caught() -> None:
    headers, items = pagination(1, 50, 1247)
    del headers["x-has-more"]
    broken = exchange(200, items, headers=headers)
    assert (
        broken_rule(rules.pagination_headers_are_consistent, broken) == "pagination-headers-present"
    )


def test_pagination_violation_names_the_header_that_is_not_an_integer() -> None:
    headers, items = pagination(1, 50, 1247)
    headers.update({"x-page": "-1", "x-total-count": "many"})
    with pytest.raises(RuleViolation, match="x-total-count is 'many'"):
        rules.pagination_headers_are_consistent(exchange(200, items, headers=headers))


def test_pagination_violation_names_every_missing_header() -> None:
    headers, items = pagination(1, 50, 1247)
    del headers["x-total-pages"], headers["x-has-more"]
    with pytest.raises(RuleViolation, match="missing x-total-pages, x-has-more"):
        rules.pagination_headers_are_consistent(exchange(200, items, headers=headers))


def test_pagination_default_limit_other_than_50_breaks_paging_defaults() -> None:
    headers, items = pagination(1, 20, 1247)
    assert (
        broken_rule(rules.pagination_headers_are_consistent, exchange(200, items, headers=headers))
        == "paging-defaults"
    )


def test_past_last_page_with_items_breaks_page_past_last_is_empty() -> None:
    headers, _ = pagination(26, 50, 1247)
    repeated = [{"id": i} for i in range(47)]
    broken = exchange(200, repeated, headers=headers, query={"page": "26"})
    assert broken_rule(rules.pagination_headers_are_consistent, broken) == "page-past-last-is-empty"


def test_body_size_must_match_page_size() -> None:
    headers, items = pagination(1, 50, 1247)
    broken = exchange(200, items[:-1], headers=headers)
    assert (
        broken_rule(rules.pagination_headers_are_consistent, broken)
        == "pagination-headers-consistent"
    )


@pytest.mark.parametrize(
    "body",
    [b'{"items": []}', b'[{"id": 1}, {"id": 2}', b"[1, 2,]", b"<html>", b""],
    ids=["object", "truncated", "trailing-comma", "html", "empty"],
)
def test_list_body_that_is_not_a_json_array_breaks_pagination(body: bytes) -> None:
    headers, _ = pagination(1, 50, 1247)
    broken = exchange(200, headers=headers)
    broken.body = body
    assert broken.array_length is None
    assert (
        broken_rule(rules.pagination_headers_are_consistent, broken)
        == "pagination-headers-consistent"
    )


@pytest.mark.parametrize("parsed_first", [False, True], ids=["counted", "parsed"])
def test_array_length_counts_top_level_items_only(parsed_first: bool) -> None:
    items = [{"id": 1, "tags": [1, 2, 3]}, [], "x", {"nested": [{"a": [1]}]}]
    page = exchange(200, items)
    if parsed_first:
        assert page.json == items
    assert page.array_length == 4


def test_pagination_is_only_judged_on_list_successes() -> None:
    rules.pagination_headers_are_consistent(exchange(400, {"error": {}}))
    rules.pagination_headers_are_consistent(exchange(200, {"id": 1}, path="/api/v1/products/1"))


# --- Catalog semantics (L5, L6, P2, P3, P5) -----------------------------------------------------


def test_sorted_by_name_compares_casefolded() -> None:
    items = [{"id": 1, "name": "amazon"}, {"id": 2, "name": "Bol"}, {"id": 3, "name": "Éclair"}]
    rules.items_are_sorted(items[:2], "name", "ASC")
    assert broken_rule(rules.items_are_sorted, items[:2], "name", "DESC") == "sort-orders-results"


def test_sorted_by_id_is_numeric_and_rule_id_is_selectable() -> None:
    items = [{"id": 10}, {"id": 9}, {"id": 100}]
    assert broken_rule(rules.items_are_sorted, items, "id", "DESC", "default-order-id-desc") == (
        "default-order-id-desc"
    )
    rules.items_are_sorted([{"id": 9}, {"id": 10}, {"id": 100}], "id", "asc")


def test_filters_must_match_exactly() -> None:
    items = [{"id": 1, "country_code": "USA", "category": "Gift Cards"}]
    rules.items_match_filters(items, {"country_id": "USA", "category": "Gift Cards"})
    assert broken_rule(rules.items_match_filters, items, {"country_id": "usa"}) == "filters-match"


def test_denomination_ranges_must_be_sane() -> None:
    good = {"id": 1, "available_denominations": [{"min_value": 5, "max_value": 5, "discount": 0}]}
    rules.denomination_ranges_are_sane(good)
    inverted = {
        "id": 1,
        "available_denominations": [{"min_value": 9, "max_value": 5, "discount": 1}],
    }
    over = {
        "id": 1,
        "available_denominations": [{"min_value": 1, "max_value": 5, "discount": 100.5}],
    }
    assert broken_rule(rules.denomination_ranges_are_sane, inverted) == "denomination-ranges-sane"
    assert broken_rule(rules.denomination_ranges_are_sane, over) == "denomination-ranges-sane"


def test_availability_outside_every_range_must_be_false() -> None:
    product = {
        "id": 1001,
        "available_denominations": [
            {"min_value": 10.0, "max_value": 20.0, "discount": 1},
            {"min_value": 50.0, "max_value": 60.0, "discount": 1},
        ],
    }
    rules.availability_false_outside_ranges(product, 30.0, False)
    rules.availability_false_outside_ranges(product, 10.0, True)  # inside: stock decides
    rules.availability_false_outside_ranges(product, 60.0, False)
    assert broken_rule(rules.availability_false_outside_ranges, product, 60.01, True) == (
        "availability-false-outside-ranges"
    )


def test_details_must_equal_list_entry_but_may_add_optional_fields() -> None:
    entry = {"id": 1, "name": "A", "category": "Gift Cards"}
    rules.product_matches_list_entry({**entry, "terms": "t", "how_to_use": "h"}, entry)
    changed = {**entry, "name": "B"}
    assert broken_rule(rules.product_matches_list_entry, changed, entry) == "details-match-list"


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, ("id", "DESC")),
        ('{"field":"name","direction":"ASC"}', ("name", "ASC")),
        ('{"Field":"Name","Direction":"desc"}', ("name", "DESC")),
        ('{"field":"price","direction":"ASC"}', None),
        ('["name","ASC"]', None),
        ("not json", None),
    ],
)
def test_requested_sort_reads_both_key_spellings(sort: str | None, expected: Any) -> None:
    query = {} if sort is None else {"sort": sort}
    assert rules.requested_sort(query) == expected


def test_non_numeric_denomination_range_is_a_violation_not_an_error() -> None:
    product = {"id": 7, "available_denominations": [{"min_value": "10", "max_value": 5}]}
    assert broken_rule(rules.denomination_ranges_are_sane, product) == "denomination-ranges-sane"


def test_expected_status_names_the_rule_and_both_statuses() -> None:
    rules.expect_status(exchange(400), 400, "limit-bounds", "limit=0")
    with pytest.raises(RuleViolation, match=r"^\[limit-bounds\] .*limit=0 answered 200, not 400"):
        rules.expect_status(exchange(200), 400, "limit-bounds", "limit=0")


# --- Listing parameters, partitions and request-id freshness (issue 9) ----------------------


@pytest.mark.parametrize(
    "parameter,value,rule_id",
    [
        ("page", "0", "page-bounds"),
        ("page", "-0", "page-bounds"),
        ("page", "-3", "page-bounds"),
        ("page", "1.5", "page-bounds"),
        ("page", "abc", "page-bounds"),
        ("page", "", "page-bounds"),
        ("page", "nan", "page-bounds"),
        ("limit", "10001", "limit-bounds"),
        ("limit", "1e5", "limit-bounds"),
        ("limit", "0", "limit-bounds"),
    ],
)
def test_paging_value_outside_every_reading_accepted_breaks_its_bound(
    parameter: str, value: str, rule_id: str
) -> None:
    headers, body = pagination(1, 50, 10)
    accepted = exchange(200, body, query={parameter: value}, headers=headers)
    assert broken_rule(rules.paging_parameters_are_bounded, accepted) == rule_id


@pytest.mark.parametrize("value", ["1", "1.0", "+1", "01", " 1", "1e0", "1_0"])
def test_paging_spellings_the_documents_leave_open_are_not_judged(value: str) -> None:
    for parameter in ("page", "limit"):
        rules.paging_parameters_are_bounded(exchange(200, [], query={parameter: value}))
        rules.paging_parameters_are_bounded(exchange(400, {}, query={parameter: value}))


def test_a_refused_paging_value_keeps_the_bounds() -> None:
    rules.paging_parameters_are_bounded(exchange(400, {}, query={"page": "0", "limit": "0"}))


@pytest.mark.parametrize(
    "sort",
    ["name", '["name","ASC"]', '{"field":"name","direction":"UP"}', '{"field":1}', "{"],
)
def test_clearly_malformed_sort_accepted_breaks_sort_format(sort: str) -> None:
    accepted = exchange(200, [], query={"sort": sort})
    assert broken_rule(rules.sort_is_well_formed, accepted) == "sort-format"


@pytest.mark.parametrize(
    "sort",
    [
        '{"field":"category","direction":"ASC"}',
        '{"field":"name"}',
        "{}",
        '{"field":"name","direction":" asc "}',
        '{"field":"id","Field":"name","direction":"ASC"}',
        '{"field":"name","direction":"ASC","locale":"en"}',
    ],
    ids=["other-field", "no-direction", "empty", "whitespace", "twice", "extra-key"],
)
def test_sorts_the_documents_leave_open_are_not_judged(sort: str) -> None:
    rules.sort_is_well_formed(exchange(200, [], query={"sort": sort}))
    assert rules.requested_sort({"sort": '{"field":"id","Field":"name","direction":"ASC"}'}) is None


def test_pages_that_partition_the_listing_keep_l7() -> None:
    rules.pages_partition_listing([[{"id": 3}, {"id": 2}], [{"id": 1}]], 3, "three")


@pytest.mark.parametrize(
    "pages,total",
    [([[{"id": 3}, {"id": 2}], [{"id": 2}]], 3), ([[{"id": 3}], [{"id": 1}]], 3)],
    ids=["repeated", "missing"],
)
def test_pages_that_repeat_or_skip_break_the_partition(pages: Any, total: int) -> None:
    assert (
        broken_rule(rules.pages_partition_listing, pages, total, "x") == "pages-partition-listing"
    )


def test_generated_request_ids_must_not_repeat() -> None:
    first, second = exchange(), exchange()
    rules.request_ids_are_fresh([first, second])
    again = exchange(headers={"x-request-id": first.headers["x-request-id"]})
    assert (
        broken_rule(rules.request_ids_are_fresh, [first, second, again]) == "request-id-generated"
    )


def test_a_generated_id_must_not_repeat_one_a_client_sent() -> None:
    sent = new_ksuid()
    echoed = exchange(headers={"x-request-id": sent}, request_headers={"x-request-id": sent})
    stolen = exchange(headers={"x-request-id": sent})
    rules.request_ids_are_fresh([echoed, exchange()])
    assert broken_rule(rules.request_ids_are_fresh, [echoed, stolen]) == "request-id-generated"


# --- Dates (getting-started.txt § Date Format) ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["2025-01-15T13:00:00Z", "2025-01-15T18:30:00+05:30", "2024-02-29t23:59:60.123z"],
)
def test_rfc3339_date_times_are_accepted(text: str) -> None:
    assert rules.is_rfc3339(text)


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-15T13:00:00",  # no offset: ISO 8601, not RFC 3339
        "2025-01-15 13:00:00Z",  # a space
        "2025-01-15T13:00:00+0530",  # offset without a colon
        "2025-01-15",  # a date alone
        "2025-02-30T00:00:00Z",  # no such day
        "2025-01-15T24:00:00Z",
        "1736946000",  # epoch seconds
        "Wed, 15 Jan 2025 13:00:00 GMT",
        "２０２５-01-15T13:00:00Z",  # non-ASCII digits
    ],
)
def test_date_times_that_are_not_rfc3339_are_refused(text: str) -> None:
    assert not rules.is_rfc3339(text)


def test_a_naive_expires_at_breaks_the_date_rule() -> None:
    body = {"access_token": "a.b.c", "expires_at": "2025-01-15T13:00:00"}
    with pytest.raises(RuleViolation) as broken:
        rules.dates_are_rfc3339(exchange(body=body, method="POST", path="/auth/refresh"))
    assert broken.value.rule.id == "dates-are-rfc3339"
    rules.dates_are_rfc3339(
        exchange(body={**body, "expires_at": "2025-01-15T13:00:00Z"}, method="POST")
    )


def test_nested_date_fields_are_judged_too() -> None:
    products = [{"id": 1, "updated_at": "2025-01-15T13:00:00Z"}, {"id": 2, "updated_at": 5}]
    with pytest.raises(RuleViolation, match=r"\[1\]\.updated_at"):
        rules.dates_are_rfc3339(exchange(body=products))


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize(("field", "direction"), [("id", "DESC"), ("id", "ASC"), ("name", "ASC")])
def test_items_are_sorted_names_the_first_pair_out_of_order(
    seed: int, field: str, direction: str
) -> None:
    """The keys are compared in one pass (rules/listing.py): the verdict and the pair it names
    are those of a walk pair by pair, ties and casefolded names included."""
    rng = random.Random(seed)
    items = [
        {"id": rng.randint(1, 6), "name": rng.choice(["a", "A", "b", "B", "c"])}
        for _ in range(rng.randint(0, 8))
    ]
    key = (lambda i: i["name"].casefold()) if field == "name" else (lambda i: i["id"])
    keys = [key(item) for item in items]
    first_bad = next(
        (
            n
            for n in range(len(keys) - 1)
            if (keys[n] < keys[n + 1] if direction == "DESC" else keys[n] > keys[n + 1])
        ),
        None,
    )
    if first_bad is None:
        rules.items_are_sorted(items, field, direction)
        return
    with pytest.raises(RuleViolation, match=rf"item {first_bad} \(.* item {first_bad + 1} \("):
        rules.items_are_sorted(items, field, direction)

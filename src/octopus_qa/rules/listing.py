"""The product listing: paging headers, bounds, sort, filters and partitions (L1-L7)."""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from operator import itemgetter
from typing import Any

from .catalogue import Rule, RuleViolation, judges, rule_named
from .evidence import applies
from .exchange import Exchange, _decode_json
from .http_layer import unless_refused_by_http_layer

# --- The rules of the listing (L1-L7) ---------------------------------------------------------

PAGE_BOUNDS = Rule(
    "page-bounds",
    title="page is an integer ≥ 1; anything else → 400",
    basis="documented",
    source="products-api.txt § List Products, Query Parameters",
    quote="page | number | 1 | Page number (min: 1)",
    assumption=("L1",),
    bounds_input_of=("GET /api/v1/products",),
    parameter="page",
)
LIMIT_BOUNDS = Rule(
    "limit-bounds",
    title="limit is an integer from 1 to 10,000; anything else → 400",
    basis="documented",
    source="products-api.txt § List Products, Query Parameters",
    quote="limit | number | 50 | Items per page (min: 1, max: 10,000)",
    assumption=("L1",),
    bounds_input_of=("GET /api/v1/products",),
    parameter="limit",
)
PAGING_DEFAULTS = Rule(
    "paging-defaults",
    title="Without page/limit the list serves page 1 with 50 items per page",
    basis="documented",
    source="getting-started.txt § Pagination; products-api.txt § List Products",
    quote="page | 1 | 1+ ... limit | 50 | 1–10,000",
)
PAGINATION_HEADERS_PRESENT = Rule(
    "pagination-headers-present",
    title=(
        "List responses carry X-Page, X-Per-Page, X-Total-Count, X-Total-Pages, X-Page-Size, "
        "X-Has-More"
    ),
    basis="documented",
    source="getting-started.txt § Response Headers",
    quote="List endpoints also include pagination headers",
    builtin_checks=("response_headers_conformance",),
)
PAGINATION_HEADERS_CONSISTENT = Rule(
    "pagination-headers-consistent",
    title="The pagination headers agree with each other, the request and the body (L2 arithmetic)",
    basis="documented",
    source="getting-started.txt § Response Headers",
    quote="X-Page-Size | Items in the current page (may be less than X-Per-Page on the last page)",
    assumption=("L2",),
)
PAGE_PAST_LAST_IS_EMPTY = Rule(
    "page-past-last-is-empty",
    title="A page past the last → 200 with an empty array",
    basis="assumed",
    source="ASSUMPTIONS.md L3",
    quote="A page past the last → 200, an empty array, headers as in L2.",
    assumption=("L3",),
)
SORT_FORMAT = Rule(
    "sort-format",
    title="sort is a JSON object {field, direction}, keys case-insensitive; anything else → 400",
    basis="documented",
    source="products-api.txt § Sort Object Format; getting-started.txt § Pagination",
    quote='sort | object | {"field":"id","direction":"DESC"} | Sort configuration',
    assumption=("L4",),
    bounds_input_of=("GET /api/v1/products",),
    parameter="sort",
)
SORT_ORDERS_RESULTS = Rule(
    "sort-orders-results",
    title="Results are ordered by the sort field and direction (id numerically, name casefolded)",
    basis="documented",
    source="products-api.txt § List Products, Examples",
    quote="Sort by name in ascending order",
    assumption=("L5",),
)
DEFAULT_ORDER_ID_DESC = Rule(
    "default-order-id-desc",
    title="Without sort, results come in id descending order",
    basis="documented",
    source="getting-started.txt § Pagination",
    quote="sort | id DESC",
    assumption=("L5",),
)
FILTERS_MATCH = Rule(
    "filters-match",
    title="category, country_id and currency_id return exactly the matching products",
    basis="documented",
    source="products-api.txt § List Products, Query Parameters",
    quote='category | string | - | Filter by category name (e.g., "Gift Cards")',
    assumption=("L6",),
)
PAGES_PARTITION_LISTING = Rule(
    "pages-partition-listing",
    title="Walking all pages of a filtered listing yields the filtered set, each item once",
    basis="assumed",
    source="ASSUMPTIONS.md L7",
    quote=(
        "the union of all pages of a filtered listing is exactly the filtered set, with no item "
        "twice."
    ),
    assumption=("L7",),
)

# --- Pagination -------------------------------------------------------------------------------

PAGINATION_HEADERS = (
    "x-page",
    "x-per-page",
    "x-total-count",
    "x-total-pages",
    "x-page-size",
    "x-has-more",
)
_NUMBERS = itemgetter(*PAGINATION_HEADERS[:5])
DEFAULT_PAGE = 1
DEFAULT_LIMIT = 50


def _requested_int(query: Mapping[str, str], name: str, default: int) -> int | None:
    value = query.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return None  # an invalid value that was accepted: the bounds checks judge that


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _pagination_numbers(headers: Mapping[str, str]) -> tuple[int, int, int, int, int]:
    """X-Page, X-Per-Page, X-Total-Count, X-Total-Pages and X-Page-Size as integers.

    One lookup and one int() each on the way every page takes; the reasons come only on failure.
    """
    try:
        page, per_page, total, total_pages, page_size = map(int, _NUMBERS(headers))
    except (KeyError, ValueError):
        missing = [name for name in PAGINATION_HEADERS if name not in headers]
        if missing:
            raise RuleViolation(
                PAGINATION_HEADERS_PRESENT, f"missing {', '.join(missing)}"
            ) from None
        bad = next(name for name in PAGINATION_HEADERS[:5] if not _is_int(headers[name]))
        raise RuleViolation(
            PAGINATION_HEADERS_CONSISTENT, f"{bad} is {headers[bad]!r}, not an integer"
        ) from None
    return page, per_page, total, total_pages, page_size


def _inconsistent(detail: str, headers: Mapping[str, str]) -> RuleViolation:
    """A pagination-headers-consistent violation that shows all six headers as they came."""
    shown = " ".join(f"{name.title()}={headers[name]}" for name in PAGINATION_HEADERS)
    return RuleViolation(PAGINATION_HEADERS_CONSISTENT, f"{detail} ({shown})")


@judges(
    PAGING_DEFAULTS,
    PAGINATION_HEADERS_PRESENT,
    PAGINATION_HEADERS_CONSISTENT,
    PAGE_PAST_LAST_IS_EMPTY,
)
def pagination_headers_are_consistent(exchange: Exchange) -> None:
    """The six pagination headers agree with the request, each other and the body (L2, L3)."""
    if exchange.status != 200 or not exchange.is_list:
        return
    applies(PAGINATION_HEADERS_PRESENT, exchange)
    applies(PAGINATION_HEADERS_CONSISTENT, exchange)
    if "page" not in exchange.query or "limit" not in exchange.query:
        applies(PAGING_DEFAULTS, exchange)
    headers = exchange.headers
    has_more = headers.get("x-has-more")
    page, per_page, total, total_pages, page_size = _pagination_numbers(headers)
    if page > total_pages:
        applies(PAGE_PAST_LAST_IS_EMPTY, exchange)
    if has_more is None:
        raise RuleViolation(PAGINATION_HEADERS_PRESENT, "missing x-has-more")
    item_count = exchange.array_length
    if item_count is None:
        raise RuleViolation(PAGINATION_HEADERS_CONSISTENT, "the list body is not an array")

    requested_page = _requested_int(exchange.query, "page", DEFAULT_PAGE)
    requested_limit = _requested_int(exchange.query, "limit", DEFAULT_LIMIT)
    if requested_page is not None and page != requested_page:
        rule = PAGING_DEFAULTS if "page" not in exchange.query else PAGINATION_HEADERS_CONSISTENT
        raise RuleViolation(rule, f"X-Page is {page}, requested page {requested_page}")
    if requested_limit is not None and per_page != requested_limit:
        rule = PAGING_DEFAULTS if "limit" not in exchange.query else PAGINATION_HEADERS_CONSISTENT
        raise RuleViolation(rule, f"X-Per-Page is {per_page}, requested limit {requested_limit}")

    if per_page < 1:
        raise _inconsistent("X-Per-Page must be at least 1", headers)
    expected_pages = math.ceil(total / per_page)
    if total_pages != expected_pages:
        raise _inconsistent(
            f"X-Total-Pages should be ceil({total}/{per_page}) = {expected_pages}", headers
        )
    expected_size = max(0, min(per_page, total - (page - 1) * per_page))
    if page_size != expected_size:
        raise _inconsistent(f"X-Page-Size should be {expected_size}", headers)
    if page > total_pages and item_count:
        raise RuleViolation(
            PAGE_PAST_LAST_IS_EMPTY, f"page {page} of {total_pages} returned {item_count} items"
        )
    if item_count != page_size:
        raise _inconsistent(f"the body holds {item_count} items", headers)
    expected_more = "true" if page < total_pages else "false"
    if has_more != expected_more:
        raise _inconsistent(f"X-Has-More should be {expected_more}", headers)


# --- Catalog semantics ------------------------------------------------------------------------


def _sort_key(field_name: str) -> Any:
    if field_name.lower() == "name":
        return lambda item: str(item.get("name", "")).casefold()
    return lambda item: item.get(field_name.lower())


def requested_sort(query: Mapping[str, str]) -> tuple[str, str] | None:
    """(field, direction) of a well-formed `sort` query value (L4: keys case-insensitive)."""
    raw = query.get("sort")
    if raw is None:
        return ("id", "DESC")
    value = _decode_json(raw)
    if not isinstance(value, dict):
        return None
    keys = {str(key).lower(): item for key, item in value.items()}
    if len(keys) != len(value):
        return None  # a key given twice in two spellings: which one a server reads is open
    field, direction = keys.get("field"), keys.get("direction")
    if not isinstance(field, str) or not isinstance(direction, str):
        return None
    if field.lower() not in ("id", "name") or direction.upper() not in ("ASC", "DESC"):
        return None
    return field.lower(), direction.upper()


@judges(SORT_ORDERS_RESULTS)
def items_are_sorted(
    items: Sequence[Mapping[str, Any]],
    field_name: str = "id",
    direction: str = "DESC",
    rule: Rule | str = SORT_ORDERS_RESULTS,
) -> None:
    """Items are ordered by `field_name` in `direction`; names compare casefolded (L5). `rule`:
    sort-orders-results, or default-order-id-desc for a listing that asked for no order."""
    rule = rule_named(rule)
    if len(items) > 1:  # one item or none is in every order
        applies(rule, items)
    # Each item's key once, and the pairs compared in C: a browsed page of 100 items is judged
    # in a third of the time a pair-by-pair walk took, with the very same comparisons.
    keys = list(map(_sort_key(field_name), items))
    descending = direction.upper() == "DESC"
    out_of_order = operator.lt if descending else operator.gt
    if not any(map(out_of_order, keys, keys[1:])):
        return
    index = next(i for i in range(len(keys) - 1) if out_of_order(keys[i], keys[i + 1]))
    a, b = keys[index], keys[index + 1]
    raise RuleViolation(
        rule,
        f"sorted by {field_name} {direction.upper()}, item {index} ({a!r}, id "
        f"{items[index].get('id')}) comes before item {index + 1} ({b!r}, id "
        f"{items[index + 1].get('id')})",
    )


#: L6: which product field each list filter matches, exactly.
FILTER_FIELDS: Mapping[str, str] = {
    "category": "category",
    "country_id": "country_code",
    "currency_id": "currency_code",
}


@judges(FILTERS_MATCH)
def items_match_filters(items: Sequence[Mapping[str, Any]], filters: Mapping[str, str]) -> None:
    """Every item matches every filter given (L6)."""
    if filters and items:
        applies(FILTERS_MATCH, items)
    for parameter, value in filters.items():
        product_field = FILTER_FIELDS[parameter]
        for item in items:
            if item.get(product_field) != value:
                raise RuleViolation(
                    FILTERS_MATCH,
                    f"{parameter}={value!r} returned product {item.get('id')} with "
                    f"{product_field}={item.get(product_field)!r}",
                )


# --- Listing parameters, order, filters and partitions (L1, L4-L7) ----------------------------

#: L1's bounds per paging parameter: (rule, least, greatest or None for no maximum).
PAGING_BOUNDS: Mapping[str, tuple[Rule, int, int | None]] = {
    "page": (PAGE_BOUNDS, 1, None),
    "limit": (LIMIT_BOUNDS, 1, 10_000),
}


@lru_cache(maxsize=1024)  # pure, and a run sends few distinct values: judged once each under load
def clearly_out_of_bounds(text: str, least: int, greatest: int | None) -> bool:
    """True when no reading of `text` is an integer within the bounds (L1).

    Only the clear cases: no number at all ("abc", ""), a fraction ("1.5"), or a value outside
    the bounds whatever its spelling ("0", "-3", "10001"). Spellings the documents leave open
    ("1.0", "+5", "05", " 5", "1e2") are an integer to one server and a word to another, so a
    200 for them is not judged here (openapi/TRACEABILITY.md, readings).
    """
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return True
    if not value.is_finite() or value != value.to_integral_value():
        return True
    return value < least or (greatest is not None and value > greatest)


@judges(PAGE_BOUNDS, LIMIT_BOUNDS)
def paging_parameters_are_bounded(exchange: Exchange) -> None:
    """A listing that accepted (200) a page or limit outside L1's bounds broke them.

    The other half (a value within the bounds is accepted) needs a request that is otherwise
    valid, so the tests that send one judge it with `expect_status`.
    """
    query = exchange.query
    if exchange.status not in (200, 400) or not query or not exchange.is_list:
        return  # another answer (401 first, 429) says nothing of L1
    for parameter, (rule, least, greatest) in PAGING_BOUNDS.items():
        text = query.get(parameter)
        if text is None:
            continue
        if text.isascii() and text.isdigit():  # the common case, read exactly as Decimal would
            value = int(text)
            out = value < least or (greatest is not None and value > greatest)
        else:
            out = clearly_out_of_bounds(text, least, greatest)
        if out:
            applies(rule, exchange)
        if out and exchange.status == 200:
            raise RuleViolation(rule, f"{parameter}={text!r} was accepted (200)")


@judges(SORT_FORMAT)
def sort_is_well_formed(exchange: Exchange) -> None:
    """A listing that accepted (200) a sort that is clearly not L4's object broke sort-format.

    Clearly: not JSON, not an object, a direction that is not ASC/DESC in any case, or a field
    or direction that is not a string. A field other than id and name is not judged ("fields
    that can be sorted on include at least id and name"), nor are extra keys, keys given twice
    in different cases, or surrounding whitespace: the documents do not decide them.
    """
    raw = exchange.query.get("sort")
    if raw is None or exchange.status not in (200, 400) or not exchange.is_list:
        return
    if (problem := _sort_format_problem(raw)) is None:
        return
    applies(SORT_FORMAT, exchange)
    if exchange.status == 200:
        raise RuleViolation(SORT_FORMAT, f"sort={raw!r} {problem} was accepted")


@judges(SORT_FORMAT)
@unless_refused_by_http_layer
def well_formed_sort_is_accepted(exchange: Exchange) -> None:
    """L4's other half, for a request whose whole query the caller knows to be valid (the tests
    that build it): a sort every reading accepts is not refused (400). A generated query may
    hold something else a server refuses (an unknown or repeated parameter), so the check run
    on every exchange does not judge refusals."""
    raw = exchange.query.get("sort")
    if raw is None or exchange.status not in (200, 400) or not exchange.is_list:
        return
    if not (_plainly_well_formed_sort(raw) and _paging_is_plainly_valid(exchange.query)):
        return
    applies(SORT_FORMAT, exchange)
    if exchange.status == 400:
        raise RuleViolation(SORT_FORMAT, f"the well-formed sort={raw!r} was refused (400)")


@lru_cache(maxsize=1024)
def _plainly_well_formed_sort(raw: str) -> bool:
    """A sort every reading of L4 accepts: an object of exactly `field` and `direction` in any
    case of the keys, the field `id` or `name`, the direction ASC or DESC in any case (the
    undecided spellings of readings.py, such as `"ID"` or a missing key, are not plain)."""
    value = _decode_json(raw)
    if not isinstance(value, dict) or len(value) != 2:
        return False
    keys = {str(key).lower(): item for key, item in value.items()}
    direction = keys.get("direction")
    return (
        keys.get("field") in ("id", "name")
        and isinstance(direction, str)
        and direction.upper() in ("ASC", "DESC")
    )


def _paging_is_plainly_valid(query: Mapping[str, str]) -> bool:
    """Page and limit absent or written as plain digits within L1's bounds."""
    for parameter, (_, least, greatest) in PAGING_BOUNDS.items():
        text = query.get(parameter)
        if text is None:
            continue
        if not (text.isascii() and text.isdigit() and text == str(int(text))):
            return False
        if int(text) < least or (greatest is not None and int(text) > greatest):
            return False
    return True


@lru_cache(maxsize=1024)  # pure, and a run sends few distinct sorts: parsed once each under load
def _sort_format_problem(raw: str) -> str | None:
    """What makes `raw` clearly not L4's sort object, or None when it is one (or undecided)."""
    value = _decode_json(raw)
    if not isinstance(value, dict):
        return "(not a JSON object)"
    keys: dict[str, Any] = {}
    for key, item in value.items():
        if str(key).lower() in keys:
            return None  # field given twice in two spellings: which one wins is not documented
        keys[str(key).lower()] = item
    field_value, direction = keys.get("field"), keys.get("direction")
    if "field" in keys and not isinstance(field_value, str):
        return "(a field that is no name)"
    if "direction" in keys and (
        not isinstance(direction, str) or direction.strip().upper() not in ("ASC", "DESC")
    ):
        return f"(direction {direction!r})"
    return None


def _listed_items(exchange: Exchange) -> list[Any] | None:
    if exchange.status != 200 or not exchange.is_list or not isinstance(exchange.json, list):
        return None
    return [item for item in exchange.json if isinstance(item, dict)]


@judges(SORT_ORDERS_RESULTS, DEFAULT_ORDER_ID_DESC)
def listing_is_in_requested_order(exchange: Exchange) -> None:
    """A listing comes in the order its `sort` asks for, default id DESC (L5), within the page.

    Across page boundaries the tests that walk pages call `items_are_sorted` on the pages
    joined.
    """
    items = _listed_items(exchange)
    sort = requested_sort(exchange.query)
    if items is None or sort is None:
        return
    rule = DEFAULT_ORDER_ID_DESC if "sort" not in exchange.query else SORT_ORDERS_RESULTS
    items_are_sorted(items, sort[0], sort[1], rule=rule)


@judges(FILTERS_MATCH)
def listing_matches_filters(exchange: Exchange) -> None:
    """Every listed item matches every filter of the query (L6)."""
    items = _listed_items(exchange)
    filters = {name: exchange.query[name] for name in FILTER_FIELDS if name in exchange.query}
    if items is not None and filters:
        items_match_filters(items, filters)


@judges(PAGES_PARTITION_LISTING)
def pages_partition_listing(
    pages: Sequence[Sequence[Mapping[str, Any]]], total: int, what: str
) -> None:
    """The pages of a listing hold each of its `total` items exactly once (L7).

    `total` is the listing's X-Total-Count; `what` names the listing (filters, sort, page size)
    in the failure. Items are told apart by id (P1: the product identifier).
    """
    if len(pages) > 1:  # one page partitions nothing
        applies(PAGES_PARTITION_LISTING, pages)
    seen: dict[Any, int] = {}
    for number, page in enumerate(pages, start=1):
        for item in page:
            product_id = item.get("id")
            if product_id in seen:
                raise RuleViolation(
                    PAGES_PARTITION_LISTING,
                    f"{what}: product {product_id} is on page {seen[product_id]} and page {number}",
                )
            seen[product_id] = number
    if len(seen) != total:
        raise RuleViolation(
            PAGES_PARTITION_LISTING,
            f"{what}: {len(pages)} pages hold {len(seen)} distinct products, X-Total-Count {total}",
        )

"""Faults of the product listing: paging, its headers, sorting and filtering (L1-L7)."""

from __future__ import annotations

import asyncio
import random
import unicodedata
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import replace
from functools import lru_cache
from itertools import groupby

from starlette.requests import Request

from ..catalog import Catalog, Product
from ..responses import RawHeaders
from ..seams import Seams
from ..settings import Settings
from ..validation import SORT_KEYS, ListQuery, unknown_sort_key
from .catalogue import Catalogue

catalogue = Catalogue()

#: The deep-pages-clamped fault's "max result window" (a search engine's).
RESULT_WINDOW = 10_000
#: The await between writing the shared total and reading it back (a metrics call, say).
SHARED_WRITE_S = 0.002


def _with_header(headers: RawHeaders, name: bytes, value: bytes | None) -> RawHeaders:
    """The headers with `name` set to `value` in its place (dropped when None)."""
    changed: RawHeaders = []
    for key, old in headers:
        if key != name:
            changed.append((key, old))
        elif value is not None:
            changed.append((key, value))
    return changed


def _unfiltered(query: ListQuery) -> ListQuery:
    return replace(query, category=None, country=None, currency=None)


@catalogue.fault(
    "page-zero-accepted",
    "page-bounds",
    "page=0 is accepted (and served as the first page, X-Page: 0).",
)
def page_zero_accepted(seams: Seams) -> None:
    page_items = seams.endpoints.page_items
    seams.inputs.page_allowed = lambda page: page >= 0
    seams.endpoints.page_items = lambda products, page, limit: page_items(
        products, max(page, 1), limit
    )


@catalogue.fault(
    "limit-off-by-one",
    "limit-bounds",
    "limit=10001 is accepted: the maximum is compared off by one.",
)
def limit_off_by_one(seams: Seams) -> None:
    seams.inputs.limit_allowed = lambda limit, maximum: 1 <= limit <= maximum + 1


@catalogue.fault(
    "default-limit-20",
    "paging-defaults",
    "Without limit, pages hold 20 items instead of 50.",
)
def default_limit_20(seams: Seams) -> None:
    seams.inputs.default_limit = lambda settings: 20


@catalogue.fault(
    "pagination-headers-missing",
    "pagination-headers-present",
    "List responses lack X-Has-More.",
)
def pagination_headers_missing(seams: Seams) -> None:
    headers = seams.endpoints.pagination_headers
    seams.endpoints.pagination_headers = lambda page, limit, total: _with_header(
        headers(page, limit, total), b"x-has-more", None
    )


@catalogue.fault(
    "total-pages-off-by-one",
    "pagination-headers-consistent",
    "X-Total-Pages is one more than ceil(X-Total-Count / X-Per-Page).",
)
def total_pages_off_by_one(seams: Seams) -> None:
    headers = seams.endpoints.pagination_headers

    def one_page_too_many(page: int, limit: int, total: int) -> RawHeaders:
        pages = -(-total // limit) + 1
        return _with_header(headers(page, limit, total), b"x-total-pages", b"%d" % pages)

    seams.endpoints.pagination_headers = one_page_too_many


@catalogue.fault(
    "past-last-page-repeats",
    "page-past-last-is-empty",
    "A page past the last serves the last page's items again (headers still say 0 items).",
)
def past_last_page_repeats(seams: Seams) -> None:
    page_items = seams.endpoints.page_items

    def last_page_again(products: Sequence[Product], page: int, limit: int) -> Sequence[Product]:
        items = page_items(products, page, limit)
        if items or not products:
            return items
        return page_items(products, (len(products) - 1) // limit + 1, limit)

    seams.endpoints.page_items = last_page_again


@catalogue.fault(
    "sort-ignored",
    "sort-orders-results",
    "A valid sort is accepted and ignored: results stay in id DESC order.",
)
def sort_ignored(seams: Seams) -> None:
    select = seams.endpoints.select_products

    def by_id_whatever_asked(catalog: Catalog, query: ListQuery) -> Sequence[Product]:
        if query.sorted_explicitly:
            query = replace(query, sort_field="id", descending=True)
        return select(catalog, query)

    seams.endpoints.select_products = by_id_whatever_asked


@catalogue.fault(
    "sort-keys-case-sensitive",
    "sort-format",
    'Only lower-case sort keys are understood: {"Field": ..., "Direction": ...} → 400.',
)
def sort_keys_case_sensitive(seams: Seams) -> None:
    # The getting-started page writes Field/Direction; L4 accepts both.
    def exact_key(key: str) -> str | None:
        if key not in SORT_KEYS:
            raise unknown_sort_key(key)
        return key

    seams.inputs.sort_key = exact_key


@catalogue.fault(
    "sort-direction-unchecked",
    "sort-format",
    'A sort direction that is neither ASC nor DESC ("UP", "") is read as ascending and '
    "answered 200; every well-formed sort is served right (only malformed data shows it).",
)
def sort_direction_unchecked(seams: Seams) -> None:
    descending = seams.inputs.descending

    def descending_only_if_desc(direction: object) -> bool:
        # "Descending unless it says desc" reads UP, ZA or "" as ascending.
        if isinstance(direction, str) and direction.lower() not in ("asc", "desc"):
            return False
        return descending(direction)

    seams.inputs.descending = descending_only_if_desc


@catalogue.fault(
    "default-order-ascending",
    "default-order-id-desc",
    "Without sort, results come in id ascending order.",
)
def default_order_ascending(seams: Seams) -> None:
    default_sort = seams.inputs.default_sort

    def ascending(settings: Settings) -> tuple[str, bool]:
        return default_sort(settings)[0], False

    seams.inputs.default_sort = ascending


@catalogue.fault(
    "filter-case-insensitive",
    "filters-match",
    "Filters compare case-insensitively: category=gift cards returns 'Gift Cards' products.",
)
def filter_case_insensitive(seams: Seams) -> None:
    select = seams.endpoints.select_products

    def casefolded_match(catalog: Catalog, query: ListQuery) -> Sequence[Product]:
        wanted = [
            (attribute, value.casefold())
            for attribute, value in (
                ("category", query.category),
                ("country_code", query.country),
                ("currency_code", query.currency),
            )
            if value is not None
        ]
        everything = select(catalog, _unfiltered(query))
        return tuple(p for p in everything if all(getattr(p, a).casefold() == v for a, v in wanted))

    seams.endpoints.select_products = casefolded_match


@catalogue.fault(
    "page-overlap",
    "pages-partition-listing",
    "Each page after the first starts with the last item of the page before "
    "(the headers stay consistent).",
)
def page_overlap(seams: Seams) -> None:
    page_items = seams.endpoints.page_items

    def one_item_back(products: Sequence[Product], page: int, limit: int) -> Sequence[Product]:
        items = page_items(products, page, limit)
        if page <= 1:
            return items
        start = (page - 1) * limit - 1  # the previous page's last item, then as many as promised
        return products[start : start + len(items)]

    seams.endpoints.page_items = one_item_back


@catalogue.fault(
    "has-more-on-full-last-page",
    "pagination-headers-consistent",
    "X-Has-More is computed as page × limit ≤ total: true on a last page that is exactly "
    "full (limit divides the total), right everywhere else.",
)
def has_more_on_full_last_page(seams: Seams) -> None:
    headers = seams.endpoints.pagination_headers

    def has_more_if_not_past(page: int, limit: int, total: int) -> RawHeaders:
        has_more = page * limit <= total and total > 0
        value = b"true" if has_more else b"false"
        return _with_header(headers(page, limit, total), b"x-has-more", value)

    seams.endpoints.pagination_headers = has_more_if_not_past


@catalogue.fault(
    "filters-or-combined",
    "filters-match",
    "Two or three filters at once are combined with OR instead of AND; one filter alone is "
    "matched exactly.",
)
def filters_or_combined(seams: Seams) -> None:
    select = seams.endpoints.select_products

    def any_filter_matches(catalog: Catalog, query: ListQuery) -> Sequence[Product]:
        given = [value for value in (query.category, query.country, query.currency) if value]
        if len(given) < 2:
            return select(catalog, query)
        return tuple(
            p
            for p in select(catalog, _unfiltered(query))
            if p.category == query.category
            or p.country_code == query.country
            or p.currency_code == query.currency
        )

    seams.endpoints.select_products = any_filter_matches


@catalogue.fault(
    "name-sort-accent-folded",
    "sort-orders-results",
    "Sorting by name folds accents first (an accent-insensitive collation): 'Étoile' sorts "
    "among the E's, not after 'z' as casefold puts it. Only non-ASCII names move.",
)
def name_sort_accent_folded(seams: Seams) -> None:
    select = seams.endpoints.select_products

    def accent_insensitive(catalog: Catalog, query: ListQuery) -> Sequence[Product]:
        products = select(catalog, query)
        if query.sort_field != "name":
            return products
        return sorted(products, key=lambda p: _accent_folded(p.name), reverse=query.descending)

    seams.endpoints.select_products = accent_insensitive


@lru_cache(maxsize=32_768)  # names come from the catalog, not from requests
def _accent_folded(name: str) -> str:
    """Accents stripped, then casefolded."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@catalogue.fault(
    "deep-pages-clamped",
    "pages-partition-listing",
    "A page whose window ends past the 10,000th item is cut from item 10,000 − limit "
    "instead (a search engine's max result window): only deep pages of a listing of more "
    "than 10,000 products repeat items; the headers stay consistent.",
)
def deep_pages_clamped(seams: Seams) -> None:
    page_items = seams.endpoints.page_items

    def within_result_window(
        products: Sequence[Product], page: int, limit: int
    ) -> Sequence[Product]:
        items = page_items(products, page, limit)
        if page * limit <= RESULT_WINDOW:
            return items
        start = max(0, RESULT_WINDOW - limit)
        return products[start : start + len(items)]

    seams.endpoints.page_items = within_result_window


@catalogue.fault(
    "name-sort-ties-unstable",
    "pages-partition-listing",
    "Products with the same name (casefold) come in a different order on every request, so "
    "walking a name-sorted listing page by page repeats some and skips others; id sorts "
    "and each single page stay right.",
)
def name_sort_ties_unstable(seams: Seams) -> None:
    select, draw = seams.endpoints.select_products, random.Random(0)

    def ties_reshuffled(catalog: Catalog, query: ListQuery) -> Sequence[Product]:
        products = select(catalog, query)
        if query.sort_field != "name":
            return products
        result: list[Product] = []
        for _, run in groupby(products, key=lambda p: p.name.casefold()):
            group = list(run)
            draw.shuffle(group)
            result.extend(group)
        return result

    seams.endpoints.select_products = ties_reshuffled


@catalogue.fault(
    "total-count-races",
    "pagination-headers-consistent",
    "A listing's total goes through one attribute shared by all requests, with an await "
    "between writing and reading it: listings in flight together swap X-Total-Count (and "
    "the pages count with it), so the headers no longer fit the body. Sequential requests "
    "are answered right.",
)
def total_count_races(seams: Seams) -> None:
    total_of = seams.endpoints.listing_total
    last_total = 0  # one attribute for every request in flight

    async def through_shared_attribute(total: int) -> int:
        nonlocal last_total
        last_total = await total_of(total)
        await asyncio.sleep(SHARED_WRITE_S)
        return last_total

    seams.endpoints.listing_total = through_shared_attribute


#: From this page on, the planted page cache serves the page before it.
STALE_FROM_PAGE = 21


@catalogue.fault(
    "pages-repeat-past-20",
    "pages-partition-listing",
    "From page 21 on, a page repeats the previous page's items (a page cache that stops telling "
    "pages apart past its first 20); the headers stay right, and past the last page it is empty.",
)
def pages_repeat_past_20(seams: Seams) -> None:
    page_items = seams.endpoints.page_items

    def stale_deep_pages(products: Sequence[Product], page: int, limit: int) -> Sequence[Product]:
        in_range = (page - 1) * limit < len(products)
        return page_items(
            products, page - 1 if page >= STALE_FROM_PAGE and in_range else page, limit
        )

    seams.endpoints.page_items = stale_deep_pages


@catalogue.fault(
    "sort-echo-drops-connection",
    "documented-status-codes",
    "The listing echoes the sort it was given in an X-Sort header, as written: a sort object laid "
    "out over several lines (JSON allows line breaks between its members, as json.dumps(indent=2) "
    "writes them) puts a line break in a header, which the HTTP server refuses to write, so the "
    "connection is closed without an answer (uvicorn, h11 and httptools alike); the target keeps "
    "answering every other request.",
)
def sort_echo_drops_connection(seams: Seams) -> None:
    # The sort is read where the request is (validated) and written where the headers are
    # (pagination_headers): one request's task carries it between the two, as a request-scoped
    # debugging middleware would.
    echoed: ContextVar[str | None] = ContextVar("echoed_sort", default=None)
    validated, pagination_headers = seams.endpoints.validated, seams.endpoints.pagination_headers

    def remember_sort(request: Request) -> None:
        validated(request)
        echoed.set(request.query_params.get("sort"))

    def echo_sort(page: int, limit: int, total: int) -> RawHeaders:
        headers = pagination_headers(page, limit, total)
        sort = echoed.get()
        return headers if sort is None else [*headers, (b"x-sort", sort.encode())]

    seams.endpoints.validated = remember_sort
    seams.endpoints.pagination_headers = echo_sort

"""Faults of the products themselves: ids, entries, details and availability (P1-P5)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from ..catalog import Catalog, Product
from ..responses import ApiError
from ..seams import Seams
from ..validation import JsonOptions
from .catalogue import Catalogue

catalogue = Catalogue()

Entry = dict[str, Any]
#: A number literal whose exponent no double reaches (1e400): the huge-exponent-500 fault.
HUGE_EXPONENT = re.compile(rb"[0-9][eE]\+?[0-9]{3,}")
#: A signed 64-bit column's largest value: the quantity-past-int64-500 fault.
INT64_MAX = 2**63 - 1


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _change_entries(seams: Seams, change: Callable[[Entry], None]) -> None:
    """Plant `change` into every product the API shows, in listings and details alike."""
    render_listing = seams.endpoints.render_listing

    def changed_listing(catalog: Catalog, items: Sequence[Product]) -> bytes:
        entries = json.loads(render_listing(catalog, items))
        for entry in entries:
            change(entry)
        return _dumps(entries)

    seams.endpoints.render_listing = changed_listing
    _change_details(seams, change)


def _change_details(seams: Seams, change: Callable[[Entry], None]) -> None:
    """Plant `change` into the detail of a product only (its list entry stays right)."""
    render_detail = seams.endpoints.render_detail

    def changed_detail(catalog: Catalog, product: Product) -> bytes:
        entry = json.loads(render_detail(catalog, product))
        change(entry)
        return _dumps(entry)

    seams.endpoints.render_detail = changed_detail


@catalogue.fault(
    "product-field-missing",
    "product-schema",
    "Products (list and detail alike) lack sub_category.",
)
def product_field_missing(seams: Seams) -> None:
    _change_entries(seams, lambda entry: entry.pop("sub_category", None))


@catalogue.fault(
    "product-id-zero-accepted",
    "product-id-bounds",
    "Product id 0 passes validation (→ 404 Product not found instead of 400).",
)
def product_id_zero_accepted(seams: Seams) -> None:
    seams.inputs.product_id_allowed = lambda product_id: True


@catalogue.fault(
    "unknown-product-500",
    "unknown-product-404",
    "A well-formed id that no product has → 500 instead of 404.",
)
def unknown_product_500(seams: Seams) -> None:
    seams.endpoints.product_not_found = lambda product_id: ApiError(
        500, "Failed to retrieve product"
    )


@catalogue.fault(
    "denomination-range-inverted",
    "denomination-ranges-sane",
    "Every denomination range is served with min_value and max_value swapped "
    "(list and detail alike).",
)
def denomination_range_inverted(seams: Seams) -> None:
    def swap_bounds(entry: Entry) -> None:
        entry["available_denominations"] = [
            {**r, "min_value": r["max_value"], "max_value": r["min_value"]}
            for r in entry["available_denominations"]
        ]

    _change_entries(seams, swap_bounds)


@catalogue.fault(
    "details-differ-from-list",
    "details-match-list",
    "The detail of a product shows another delivery_time than its list entry.",
)
def details_differ_from_list(seams: Seams) -> None:
    def estimated(entry: Entry) -> None:
        entry["delivery_time"] = f"{entry['delivery_time']} (estimated)"

    _change_details(seams, estimated)


@catalogue.fault(
    "denomination-max-off-by-one",
    "denomination-bounds",
    "The maximum denomination is exclusive: 1,000,000,000 → 400.",
)
def denomination_max_off_by_one(seams: Seams) -> None:
    seams.inputs.denomination_allowed = lambda value, low, high: not (value < low or value >= high)


@catalogue.fault(
    "quantity-zero-accepted",
    "quantity-bounds",
    "quantity 0 is accepted (→ 200 is_available false).",
)
def quantity_zero_accepted(seams: Seams) -> None:
    seams.inputs.quantity_allowed = lambda quantity, minimum: quantity >= 0


@catalogue.fault(
    "availability-string",
    "availability-response",
    'is_available is the string "yes" or "no", not a boolean.',
)
def availability_string(seams: Seams) -> None:
    seams.endpoints.availability_body = lambda available: _dumps(
        {"is_available": "yes" if available else "no"}
    )


@catalogue.fault(
    "available-outside-range",
    "availability-false-outside-ranges",
    "Every valid availability check answers is_available true, in range or not.",
)
def available_outside_range(seams: Seams) -> None:
    seams.endpoints.is_available = lambda catalog, product, denomination, quantity: True


@catalogue.fault(
    "detail-name-decomposed",
    "details-match-list",
    "The detail serves the name in Unicode NFD (decomposed) form, the list in NFC: they "
    "differ only for non-ASCII names.",
)
def detail_name_decomposed(seams: Seams) -> None:
    def decomposed(entry: Entry) -> None:
        entry["name"] = unicodedata.normalize("NFD", entry["name"])

    _change_details(seams, decomposed)


@catalogue.fault(
    "detail-stale-for-some",
    "details-match-list",
    "About 1 product in 500 (id % 499 == 7) shows a stale discount in its detail: found "
    "only by comparing many details with the list.",
    profile="default",
)
def detail_stale_for_some(seams: Seams) -> None:
    def stale_discount(entry: Entry) -> None:
        if entry["id"] % 499 == 7:
            first = entry["available_denominations"][0]
            first["discount"] = round(first["discount"] + 0.5, 1)

    _change_details(seams, stale_discount)


@catalogue.fault(
    "huge-exponent-500",
    "denomination-bounds",
    "A number literal with an exponent past a double's range (1e400) → 500 instead of 400; "
    "every other number is read as before.",
)
def huge_exponent_500(seams: Seams) -> None:
    parse = seams.inputs.parse_json_body

    def overflowing(raw: bytes, options: JsonOptions) -> Any:
        if HUGE_EXPONENT.search(raw):
            # The number parser's overflow escapes as a server error.
            raise ApiError(500, "Failed to parse number")
        return parse(raw, options)

    seams.inputs.parse_json_body = overflowing


@catalogue.fault(
    "quantity-past-int64-500",
    "quantity-bounds",
    "A quantity past 2**63 − 1 overflows a 64-bit column → 500; smaller ones are fine "
    "(P4 gives quantity no maximum: 200, or 400 under a 64-bit reading, never 500).",
)
def quantity_past_int64_500(seams: Seams) -> None:
    read_quantity = seams.inputs.read_quantity

    def stored_in_int64(value: object) -> int | float:
        quantity = read_quantity(value)
        if quantity > INT64_MAX:
            raise ApiError(500, "Failed to check availability")
        return quantity

    seams.inputs.read_quantity = stored_in_int64


@catalogue.fault(
    "product-id-fraction-truncated",
    "product-id-bounds",
    'An id with a fraction ("3.7") is read with float() then int() and serves product 3; '
    "0, negatives, words and integers are judged right.",
)
def product_id_fraction_truncated(seams: Seams) -> None:
    read_product_id = seams.inputs.read_product_id

    def through_float(text: str, read_integer: Callable[[str, str], int]) -> int:
        whole, dot, fraction = text.partition(".")
        if dot and whole.isdigit() and fraction.isdigit() and int(whole) > 0:
            return int(float(text))
        return read_product_id(text, read_integer)

    seams.inputs.read_product_id = through_float

"""Products: their fields, denomination ranges, details and availability (P1-P5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .catalogue import RuleViolation
from .exchange import Exchange


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def denomination_ranges_are_sane(product: Mapping[str, Any]) -> None:
    """Each range has min_value ≤ max_value and a discount from 0 to 100 (P2)."""
    for entry in product.get("available_denominations") or ():
        low, high, discount = entry.get("min_value"), entry.get("max_value"), entry.get("discount")
        if not all(_is_number(value) for value in (low, high)):
            raise RuleViolation(
                "denomination-ranges-sane",
                f"product {product.get('id')} has a non-numeric range {low!r}..{high!r}",
            )
        if low is not None and high is not None and low > high:
            raise RuleViolation(
                "denomination-ranges-sane",
                f"product {product.get('id')} has min_value {low} > max_value {high}",
            )
        if discount is not None and not 0 <= discount <= 100:
            raise RuleViolation(
                "denomination-ranges-sane",
                f"product {product.get('id')} has discount {discount}, outside 0..100",
            )


def availability_false_outside_ranges(
    product: Mapping[str, Any], denomination: float, is_available: Any
) -> None:
    """is_available is false when the denomination lies outside every range (P5)."""
    ranges = product.get("available_denominations") or ()
    inside = any(r["min_value"] <= denomination <= r["max_value"] for r in ranges)
    if not inside and is_available is not False:
        spans = ", ".join(f"[{r['min_value']}, {r['max_value']}]" for r in ranges)
        raise RuleViolation(
            "availability-false-outside-ranges",
            f"product {product.get('id')} answered is_available={is_available!r} for "
            f"denomination {denomination}, outside its ranges {spans}",
        )


AVAILABILITY_SUFFIX = "/availability"


def availability_is_boolean(exchange: Exchange) -> None:
    """A 200 from an availability check is {"is_available": boolean} (products-api.txt)."""
    if exchange.status != 200 or not exchange.path.endswith(AVAILABILITY_SUFFIX):
        return
    body = exchange.json
    if not isinstance(body, dict) or not isinstance(body.get("is_available"), bool):
        raise RuleViolation(
            "availability-response", f"answered {exchange.body[:120]!r}, not {{is_available: bool}}"
        )


#: P3: optional fields a detail response may add to its list entry.
DETAIL_ONLY_FIELDS = frozenset({"terms", "details", "how_to_use"})


def product_matches_list_entry(detail: Mapping[str, Any], entry: Mapping[str, Any]) -> None:
    """The detail of a product equals its list entry, plus the optional detail fields (P3)."""
    differing = sorted(
        key
        for key in set(detail) | set(entry)
        if key not in DETAIL_ONLY_FIELDS and detail.get(key) != entry.get(key)
    )
    if differing:
        shown = ", ".join(
            f"{k}: list {entry.get(k)!r} vs detail {detail.get(k)!r}" for k in differing
        )
        raise RuleViolation("details-match-list", f"product {entry.get('id')} differs in {shown}")

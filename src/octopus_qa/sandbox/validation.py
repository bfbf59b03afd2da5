"""Reading requests the way the documents and ASSUMPTIONS.md say, by hand.

Every function here turns untrusted input into plain values or raises `ApiError(400, ...)` with
a message naming what was wrong. Nothing is derived from the OpenAPI spec on purpose: the
contract suite tests the spec against this reading, so the two must be written apart.

Bad input never becomes a 500 or a hang: bodies and query strings are capped, JSON is parsed
with NaN/Infinity and runaway nesting refused, and invalid UTF-8 is a 400.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeGuard
from urllib.parse import unquote_to_bytes

from starlette.requests import Request

from .responses import ApiError, bad_request
from .settings import Settings

#: An integer as a path or query value: ASCII digits only (int() would also take "+1", " 1",
#: "1_000" and non-ASCII digits, none of which the documents call a number).
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
#: Python refuses int() on longer strings; a longer number is "too large" for any bound here.
_MAX_DIGITS = 4000
#: The `big-integers-rejected` reading's limits: a signed 64-bit integer; an exact double.
_INT64_MAX = 2**63 - 1
_DOUBLE_EXACT = 2**53
#: No readings: the sandbox's default answer to every question the documents leave open.
DEFAULT_READINGS: frozenset[str] = frozenset()

# --- Query strings --------------------------------------------------------------------------


def parse_query(raw: bytes, max_bytes: int) -> dict[str, str]:
    """The query string as a dict; too long, repeated names or invalid UTF-8 → 400."""
    if not raw:
        return {}
    if len(raw) > max_bytes:
        raise bad_request(f"query string longer than {max_bytes} bytes")
    params: dict[str, str] = {}
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name_raw, _, value_raw = pair.partition(b"=")
        name, value = _decode_component(name_raw), _decode_component(value_raw)
        if name in params:
            raise bad_request(f"query parameter {name!r} given more than once")
        params[name] = value
    return params


def _decode_component(raw: bytes) -> str:
    try:
        if b"%" not in raw and b"+" not in raw:
            return raw.decode("utf-8")  # the common case, without unquoting
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("query string is not valid UTF-8") from None


def _integer(text: str, what: str, readings: frozenset[str] = DEFAULT_READINGS) -> int:
    """ASCII digits → int; a sign, decimals, words and empty text are not integers here.

    Readings (sandbox/readings.py) where the documents do not decide: `lenient-integers-accepted`
    reads ' 5', '+5', '5.0', '1e1' as a lenient parser would; `leading-zeros-rejected` refuses
    '05'; `big-integers-rejected` refuses what does not fit 64 bits.
    """
    if readings:
        if "lenient-integers-accepted" in readings and _DIGITS.fullmatch(text) is None:
            return _lenient_integer(text, what)
        if "leading-zeros-rejected" in readings and len(text) > 1 and text.startswith("0"):
            raise bad_request(f"{what} must be an integer without leading zeros, got {text[:40]!r}")
    if _DIGITS.fullmatch(text) is None or len(text) > _MAX_DIGITS:
        raise bad_request(f"{what} must be an integer, got {text[:40]!r}")
    value = int(text)
    if "big-integers-rejected" in readings and value > _INT64_MAX:
        raise bad_request(f"{what} is too large, got {text[:40]!r}")
    return value


def _lenient_integer(text: str, what: str) -> int:
    """The `lenient-integers-accepted` reading: int(), else an integral, finite float()."""
    stripped = text.strip()
    if len(stripped) <= _MAX_DIGITS:
        try:
            return int(stripped)
        except ValueError:
            pass
        try:
            value = float(stripped)
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value.is_integer():
            return int(value)
    raise bad_request(f"{what} must be an integer, got {text[:40]!r}")


# --- Listing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    page: int
    limit: int
    sort_field: str
    descending: bool
    sorted_explicitly: bool
    category: str | None
    country: str | None
    currency: str | None


def parse_list_query(
    params: Mapping[str, str],
    settings: Settings,
    sortable: frozenset[str],
    faults: frozenset[str],
    readings: frozenset[str] = DEFAULT_READINGS,
) -> ListQuery:
    """page/limit (L1), sort (L4) and the exact-match filters (L6) of GET /api/v1/products."""
    page = _page(params.get("page"), settings, faults, readings)
    limit = _limit(params.get("limit"), settings, faults, readings)
    sort = params.get("sort")
    if sort is None:
        field = settings.default_sort_field
        # Planted bug: the documented default order is id DESC.
        descending = settings.default_sort_descending and "default-order-ascending" not in faults
    else:
        field, descending = parse_sort(sort, sortable, faults, readings)
    return ListQuery(
        page=page,
        limit=limit,
        sort_field=field,
        descending=descending,
        sorted_explicitly=sort is not None,
        category=params.get("category"),
        country=params.get("country_id"),
        currency=params.get("currency_id"),
    )


def _page(
    text: str | None, settings: Settings, faults: frozenset[str], readings: frozenset[str]
) -> int:
    if text is None:
        return settings.default_page
    page = _integer(text, "page", readings)
    if page < 1 and not (page == 0 and "page-zero-accepted" in faults):
        raise bad_request(f"page must be at least 1, got {page}")
    return page


def _limit(
    text: str | None, settings: Settings, faults: frozenset[str], readings: frozenset[str]
) -> int:
    if text is None:
        return 20 if "default-limit-20" in faults else settings.default_limit
    limit = _integer(text, "limit", readings)
    maximum = settings.max_limit + 1 if "limit-off-by-one" in faults else settings.max_limit
    if not 1 <= limit <= maximum:
        raise bad_request(f"limit must be from 1 to {settings.max_limit}, got {limit}")
    return limit


_SORT_KEYS = ("field", "direction")
_DIRECTIONS = {"asc": False, "desc": True}


def parse_sort(
    text: str,
    sortable: frozenset[str],
    faults: frozenset[str],
    readings: frozenset[str] = DEFAULT_READINGS,
) -> tuple[str, bool]:
    """L4: a JSON object whose keys match `field`/`direction` case-insensitively.

    Missing keys take the default (id, DESC); the field name and the direction are matched
    case-insensitively too. Anything else (not an object, other keys, unknown field, other
    direction) → 400. Where the documents do not decide (a missing key, another key, the field's
    case, fields besides id and name), the readings of sandbox/readings.py answer otherwise.
    """
    parsed = _loads_or_invalid(text, unique_keys="duplicate-keys-rejected" in readings)
    if not isinstance(parsed, dict):
        raise bad_request('sort must be a JSON object like {"field":"name","direction":"ASC"}')
    config: dict[str, Any] = {}
    for key, value in parsed.items():
        # Planted bug: the getting-started page writes Field/Direction; L4 accepts both.
        normal = key if "sort-keys-case-sensitive" in faults else key.lower()
        if normal not in _SORT_KEYS:
            if "sort-extra-keys-ignored" in readings:
                continue
            raise bad_request(f"sort has an unknown key {key!r}; expected field and direction")
        if normal in config:
            raise bad_request(f"sort gives {normal!r} more than once")
        config[normal] = value
    if "partial-sort-rejected" in readings and len(config) < len(_SORT_KEYS):
        raise bad_request("sort must give both field and direction")
    field = config.get("field", "id")
    direction = config.get("direction", "DESC")
    if readings and isinstance(field, str):
        if "sort-field-case-sensitive" in readings and field != field.lower():
            raise bad_request("sort field must be written in lower case")
        if "sort-id-and-name-only" in readings and field.lower() not in ("id", "name"):
            raise bad_request("sort field must be id or name")
    if not isinstance(field, str) or field.lower() not in sortable:
        raise bad_request(f"sort field must be one of {', '.join(sorted(sortable))}")
    if not isinstance(direction, str) or direction.lower() not in _DIRECTIONS:
        if "sort-direction-unchecked" in faults and isinstance(direction, str):
            # Planted bug: "descending unless it says desc" reads UP, ZA or "" as ascending.
            return field.lower(), False
        raise bad_request("sort direction must be ASC or DESC")
    return field.lower(), _DIRECTIONS[direction.lower()]


# --- Path ids -------------------------------------------------------------------------------


def parse_product_id(
    text: str, faults: frozenset[str], readings: frozenset[str] = DEFAULT_READINGS
) -> int:
    """P1: an integer > 0; 0, negatives and non-integers → 400."""
    if "product-id-fraction-truncated" in faults and _is_plain_fraction(text):
        # Planted bug: float() then int(), so "3.7" is product 3.
        return int(float(text))
    product_id = _integer(text, "product id", readings)
    if product_id < 1 and "product-id-zero-accepted" not in faults:
        raise bad_request(f"product id must be greater than 0, got {product_id}")
    return product_id


def _is_plain_fraction(text: str) -> bool:
    whole, dot, fraction = text.partition(".")
    return bool(dot) and whole.isdigit() and fraction.isdigit() and int(whole) > 0


# --- JSON bodies ------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


#: What `_loads_or_invalid` returns for text that is not strict JSON (None is JSON's null).
INVALID_JSON = object()


def _finite_decimal(text: str) -> Decimal:
    """The `exact-decimals` reading: a number as written, refused past a double's range."""
    _finite_float(text)
    return Decimal(text)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The `duplicate-keys-rejected` reading: an object naming a key twice is not accepted."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _lenient_constant(name: str) -> float:
    """The nan-literal-accepted fault: Python's json default, NaN and Infinity as floats."""
    return float(name)


#: A number literal whose exponent no double reaches (1e400): the huge-exponent-500 fault.
_HUGE_EXPONENT = re.compile(rb"[0-9][eE]\+?[0-9]{3,}")


def _loads_or_invalid(
    raw: bytes | str, *, exact: bool = False, unique_keys: bool = False, lenient: bool = False
) -> Any:
    """Strict JSON (no NaN/Infinity, no overflowing numbers, bounded nesting) or INVALID_JSON.

    json.loads decodes bytes strictly, so invalid UTF-8 is a ValueError like any syntax error;
    deep nesting is a RecursionError. `exact` keeps fractions as Decimal, `unique_keys` refuses
    duplicate keys (two readings of sandbox/readings.py).
    """
    try:
        return json.loads(
            raw,
            parse_constant=_lenient_constant if lenient else _reject_constant,
            parse_float=_finite_decimal if exact else float if lenient else _finite_float,
            object_pairs_hook=_unique_pairs if unique_keys else None,
        )
    except (ValueError, RecursionError):
        return INVALID_JSON


def is_json_media_type(content_type: str | None) -> bool:
    """E3/H4: `application/json`, parameters such as charset allowed, any letter case."""
    if content_type is None:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, read chunk by chunk and refused past `max_bytes` (Content-Length is
    checked first, but not trusted: a chunked or lying body is counted as it arrives)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise bad_request(f"request body larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise bad_request(f"request body larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


#: What `read_json_body(optional=True)` returns when no body was sent.
NO_BODY = object()


async def read_json_body(
    request: Request,
    max_bytes: int,
    faults: frozenset[str],
    *,
    optional: bool = False,
    readings: frozenset[str] = DEFAULT_READINGS,
) -> Any:
    """E3: a POST body must be JSON sent as application/json; otherwise 400.

    With `optional` (refresh, logout: A2/A3 send no body) an empty body is fine and gives
    `NO_BODY`; a Content-Type other than JSON is still refused.
    """
    content_type = request.headers.get("content-type")
    # Planted bug: any Content-Type is parsed as JSON.
    json_required = "post-any-content-type" not in faults
    if json_required and content_type is not None and not is_json_media_type(content_type):
        raise bad_request(f"Content-Type must be application/json, got {content_type[:60]!r}")
    body = await read_body(request, max_bytes)
    if optional and not body.strip():
        return NO_BODY
    if json_required and content_type is None:
        raise bad_request("Content-Type must be application/json")
    if "huge-exponent-500" in faults and _HUGE_EXPONENT.search(body):
        # Planted bug: the number parser's overflow escapes as a server error.
        raise ApiError(500, "Failed to parse number")
    parsed = _loads_or_invalid(
        body,
        exact="exact-decimals" in readings,
        unique_keys="duplicate-keys-rejected" in readings,
        lenient="nan-literal-accepted" in faults,
    )
    if parsed is INVALID_JSON:
        raise bad_request("request body is not valid JSON")
    return parsed


# --- Login and availability bodies ------------------------------------------------------------


def parse_login(body: Any, readings: frozenset[str] = DEFAULT_READINGS) -> tuple[str, str]:
    """A1: {"username": string, "password": string}; anything else → 400."""
    if not isinstance(body, dict):
        raise bad_request("login body must be a JSON object with username and password")
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise bad_request("username and password are required strings")
    if readings:
        if "empty-credentials-rejected" in readings and not (username and password):
            raise bad_request("username and password must not be empty")
        if "extra-fields-rejected" in readings and set(body) - {"username", "password"}:
            raise bad_request("login body takes only username and password")
    return username, password


def _is_number(value: object) -> TypeGuard[int | float | Decimal]:
    """A JSON number: bool is an int subclass in Python, but true/false are not numbers.
    (Decimal only under the `exact-decimals` reading.)"""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


@dataclass(frozen=True)
class AvailabilityQuery:
    denomination: float
    quantity: int


def parse_availability(
    body: Any,
    settings: Settings,
    faults: frozenset[str],
    readings: frozenset[str] = DEFAULT_READINGS,
) -> AvailabilityQuery:
    """P4: denomination a number in [0.01, 1e9], quantity an integer ≥ 1; otherwise 400.

    A float with no fraction (2.0) counts as an integer, as JSON Schema's `integer` does (the
    `integral-floats-rejected` reading refuses it: P4 does not decide).
    """
    if not isinstance(body, dict):
        raise bad_request("availability body must be a JSON object")
    denomination, quantity = body.get("denomination"), body.get("quantity")
    if not _is_number(denomination):
        raise bad_request("denomination is required and must be a number")
    low: float | Decimal = settings.min_denomination
    high: float | Decimal = settings.max_denomination
    if readings:
        _apply_readings(body, quantity, readings)
        if isinstance(denomination, Decimal):  # exact-decimals: bounds as written, too
            low, high = Decimal(repr(low)), Decimal(repr(high))
        if isinstance(quantity, Decimal):
            quantity = float(quantity)
    # Planted bug: the documented maximum is inclusive.
    above_max = (
        denomination >= high if "denomination-max-off-by-one" in faults else denomination > high
    )
    if denomination < low or above_max:
        raise bad_request(f"denomination must be from {low} to {high:,.0f}, got {denomination}")
    if not _is_number(quantity) or (isinstance(quantity, float) and not quantity.is_integer()):
        raise bad_request("quantity is required and must be an integer")
    if "quantity-past-int64-500" in faults and quantity > _INT64_MAX:
        # Planted bug: the quantity is stored in a signed 64-bit column, and overflows.
        raise ApiError(500, "Failed to check availability")
    minimum = 0 if "quantity-zero-accepted" in faults else settings.min_quantity
    if quantity < minimum:
        raise bad_request(f"quantity must be at least {settings.min_quantity}, got {quantity}")
    return AvailabilityQuery(float(denomination), int(quantity))


def _apply_readings(body: Mapping[str, Any], quantity: Any, readings: frozenset[str]) -> None:
    """The readings of an availability body where P4 does not decide (sandbox/readings.py)."""
    if "extra-fields-rejected" in readings and set(body) - {"denomination", "quantity"}:
        raise bad_request("availability body takes only denomination and quantity")
    if "integral-floats-rejected" in readings and isinstance(quantity, float | Decimal):
        raise bad_request("quantity must be written as an integer")
    big = isinstance(quantity, int) and not isinstance(quantity, bool) and quantity > _DOUBLE_EXACT
    if "big-integers-rejected" in readings and big:
        raise bad_request("quantity is too large")

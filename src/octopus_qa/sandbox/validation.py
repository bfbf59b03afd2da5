"""Reading requests the way the documents and ASSUMPTIONS.md say, by hand.

Every function here turns untrusted input into plain values or raises `ApiError(400, ...)` with
a message naming what was wrong. Nothing is derived from the OpenAPI spec on purpose: the
contract suite tests the spec against this reading, so the two must be written apart.

Bad input never becomes a 500 or a hang: bodies and query strings are capped, JSON is parsed
with NaN/Infinity and runaway nesting refused, and invalid UTF-8 is a 400.

`InputSeams` names the few decisions a planted fault (sandbox/faults/) or another reading
(sandbox/readings.py) may take otherwise: a bound, a default, how a sort key or a number is read.
Its defaults are the documents' answers; the functions below call them and nothing else decides.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeGuard
from urllib.parse import unquote_to_bytes

from starlette.requests import Request

from .responses import ApiError, bad_request
from .settings import Settings

#: An integer as a path or query value: ASCII digits only (int() would also take "+1", " 1",
#: "1_000" and non-ASCII digits, none of which the documents call a number).
DIGITS = re.compile(r"[0-9]+", re.ASCII)
#: Python refuses int() on longer strings; a longer number is "too large" for any bound here.
MAX_DIGITS = 4000
SORT_KEYS = ("field", "direction")
_DIRECTIONS = {"asc": False, "desc": True}

# --- JSON -----------------------------------------------------------------------------------

#: What `JsonOptions.loads` returns for text that is not JSON it accepts (None is JSON's null).
INVALID_JSON = object()


def reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


@dataclass(frozen=True)
class JsonOptions:
    """How JSON text becomes values: strict JSON (no NaN/Infinity, no number past a double's
    range) unless a reading or a fault swaps one of json.loads's hooks."""

    parse_constant: Callable[[str], Any] = reject_constant
    parse_float: Callable[[str], Any] = finite_float
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None

    def loads(self, raw: bytes | str) -> Any:
        """The value, or INVALID_JSON. json.loads decodes bytes strictly, so invalid UTF-8 is a
        ValueError like any syntax error; deep nesting is a RecursionError."""
        try:
            return json.loads(
                raw,
                parse_constant=self.parse_constant,
                parse_float=self.parse_float,
                object_pairs_hook=self.object_pairs_hook,
            )
        except (ValueError, RecursionError):
            return INVALID_JSON


def parse_json_body(raw: bytes, options: JsonOptions) -> Any:
    return options.loads(raw)


# --- The documents' answers, as seams ---------------------------------------------------------


def read_integer(text: str, what: str) -> int:
    """ASCII digits → int; a sign, decimals, words and empty text are not integers here."""
    if DIGITS.fullmatch(text) is None or len(text) > MAX_DIGITS:
        raise bad_request(f"{what} must be an integer, got {text[:40]!r}")
    return int(text)


def default_limit(settings: Settings) -> int:
    return settings.default_limit


def default_sort(settings: Settings) -> tuple[str, bool]:
    """L5: without sort, id DESC (sandbox.toml)."""
    return settings.default_sort_field, settings.default_sort_descending


def page_allowed(page: int) -> bool:
    return page >= 1


def limit_allowed(limit: int, maximum: int) -> bool:
    return 1 <= limit <= maximum


def sort_key(key: str) -> str | None:
    """L4: `field`/`direction` in any letter case; any other key → 400 (None: ignore it)."""
    normal = key.lower()
    if normal not in SORT_KEYS:
        raise unknown_sort_key(key)
    return normal


def unknown_sort_key(key: str) -> ApiError:
    return bad_request(f"sort has an unknown key {key!r}; expected field and direction")


def complete_sort(given: Mapping[str, Any]) -> tuple[Any, Any]:
    """A sort object's field and direction; a missing key takes the default (id, DESC)."""
    return given.get("field", "id"), given.get("direction", "DESC")


def sort_field(field: str, sortable: frozenset[str]) -> str:
    """The field to sort on, matched in any letter case."""
    if field.lower() not in sortable:
        raise bad_request(f"sort field must be one of {', '.join(sorted(sortable))}")
    return field.lower()


def descending(direction: object) -> bool:
    if not isinstance(direction, str) or direction.lower() not in _DIRECTIONS:
        raise bad_request("sort direction must be ASC or DESC")
    return _DIRECTIONS[direction.lower()]


def read_product_id(text: str, read_integer: Callable[[str, str], int]) -> int:
    """P1: a path id is read as an integer (its bound is checked apart)."""
    return read_integer(text, "product id")


def product_id_allowed(value: int) -> bool:
    return value >= 1


def is_json_media_type(content_type: str | None) -> bool:
    """E3/H4: `application/json`, parameters such as charset allowed, any letter case."""
    if content_type is None:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def login_credentials(body: Mapping[str, Any]) -> tuple[str, str]:
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise bad_request("username and password are required strings")
    return username, password


def is_number(value: object) -> TypeGuard[int | float | Decimal]:
    """A JSON number: bool is an int subclass in Python, but true/false are not numbers.
    (Decimal only where a reading keeps numbers as written.)"""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def read_quantity(value: object) -> int | float:
    """P4: an integer; a float with no fraction (2.0) counts, as JSON Schema's `integer` says."""
    if isinstance(value, Decimal):  # read exactly: an integral one is an integer all the same
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request("quantity is required and must be an integer")
    if isinstance(value, float) and not value.is_integer():
        raise bad_request("quantity is required and must be an integer")
    return value


def denomination_allowed(
    value: float | Decimal, low: float | Decimal, high: float | Decimal
) -> bool:
    """P4: refused below the minimum or above the maximum (both bounds inclusive)."""
    return not (value < low or value > high)


def quantity_allowed(value: int | float, minimum: int) -> bool:
    return value >= minimum


def _no_check(body: Mapping[str, Any]) -> None:
    """No check on the body as a whole: the documents name fields, not a closed set."""


@dataclass
class InputSeams:
    """Where a request's reading can be planted otherwise; the defaults keep the documents."""

    read_integer: Callable[[str, str], int] = read_integer
    default_limit: Callable[[Settings], int] = default_limit
    default_sort: Callable[[Settings], tuple[str, bool]] = default_sort
    page_allowed: Callable[[int], bool] = page_allowed
    limit_allowed: Callable[[int, int], bool] = limit_allowed
    sort_json: JsonOptions = field(default_factory=JsonOptions)
    sort_key: Callable[[str], str | None] = sort_key
    complete_sort: Callable[[Mapping[str, Any]], tuple[Any, Any]] = complete_sort
    sort_field: Callable[[str, frozenset[str]], str] = sort_field
    descending: Callable[[object], bool] = descending
    read_product_id: Callable[[str, Callable[[str, str], int]], int] = read_product_id
    product_id_allowed: Callable[[int], bool] = product_id_allowed
    sends_json: Callable[[str | None], bool] = is_json_media_type
    body_json: JsonOptions = field(default_factory=JsonOptions)
    parse_json_body: Callable[[bytes, JsonOptions], Any] = parse_json_body
    login_credentials: Callable[[Mapping[str, Any]], tuple[str, str]] = login_credentials
    availability_fields: Callable[[Mapping[str, Any]], None] = _no_check
    denomination_allowed: Callable[[float | Decimal, float | Decimal, float | Decimal], bool] = (
        denomination_allowed
    )
    read_quantity: Callable[[object], int | float] = read_quantity
    quantity_allowed: Callable[[int | float, int], bool] = quantity_allowed


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
    params: Mapping[str, str], settings: Settings, sortable: frozenset[str], seams: InputSeams
) -> ListQuery:
    """page/limit (L1), sort (L4) and the exact-match filters (L6) of GET /api/v1/products."""
    page = _page(params.get("page"), settings, seams)
    limit = _limit(params.get("limit"), settings, seams)
    sort = params.get("sort")
    if sort is None:
        field, descending = seams.default_sort(settings)
    else:
        field, descending = parse_sort(sort, sortable, seams)
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


def _page(text: str | None, settings: Settings, seams: InputSeams) -> int:
    if text is None:
        return settings.default_page
    page = seams.read_integer(text, "page")
    if not seams.page_allowed(page):
        raise bad_request(f"page must be at least 1, got {page}")
    return page


def _limit(text: str | None, settings: Settings, seams: InputSeams) -> int:
    if text is None:
        return seams.default_limit(settings)
    limit = seams.read_integer(text, "limit")
    if not seams.limit_allowed(limit, settings.max_limit):
        raise bad_request(f"limit must be from 1 to {settings.max_limit}, got {limit}")
    return limit


def parse_sort(text: str, sortable: frozenset[str], seams: InputSeams) -> tuple[str, bool]:
    """L4: a JSON object whose keys match `field`/`direction` case-insensitively.

    Missing keys take the default (id, DESC); the field name and the direction are matched
    case-insensitively too. Anything else (not an object, other keys, unknown field, other
    direction) → 400.
    """
    parsed = seams.sort_json.loads(text)
    if not isinstance(parsed, dict):
        raise bad_request('sort must be a JSON object like {"field":"name","direction":"ASC"}')
    given: dict[str, Any] = {}
    for key, value in parsed.items():
        normal = seams.sort_key(key)
        if normal is None:
            continue
        if normal in given:
            raise bad_request(f"sort gives {normal!r} more than once")
        given[normal] = value
    field, direction = seams.complete_sort(given)
    if not isinstance(field, str):
        raise bad_request(f"sort field must be one of {', '.join(sorted(sortable))}")
    return seams.sort_field(field, sortable), seams.descending(direction)


# --- Path ids -------------------------------------------------------------------------------


def parse_product_id(text: str, seams: InputSeams) -> int:
    """P1: an integer > 0; 0, negatives and non-integers → 400."""
    product_id = seams.read_product_id(text, seams.read_integer)
    if not seams.product_id_allowed(product_id):
        raise bad_request(f"product id must be greater than 0, got {product_id}")
    return product_id


# --- JSON bodies ------------------------------------------------------------------------------


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
    request: Request, max_bytes: int, seams: InputSeams, *, optional: bool = False
) -> Any:
    """E3: a POST body must be JSON sent as application/json; otherwise 400.

    With `optional` (refresh, logout: A2/A3 send no body) an empty body is fine and gives
    `NO_BODY`; a Content-Type other than JSON is still refused.
    """
    content_type = request.headers.get("content-type")
    sends_json = seams.sends_json(content_type)
    if content_type is not None and not sends_json:
        raise bad_request(f"Content-Type must be application/json, got {content_type[:60]!r}")
    body = await read_body(request, max_bytes)
    if optional and not body.strip():
        return NO_BODY
    if not sends_json:
        raise bad_request("Content-Type must be application/json")
    parsed = seams.parse_json_body(body, seams.body_json)
    if parsed is INVALID_JSON:
        raise bad_request("request body is not valid JSON")
    return parsed


# --- Login and availability bodies ------------------------------------------------------------


def parse_login(body: Any, seams: InputSeams) -> tuple[str, str]:
    """A1: {"username": string, "password": string}; anything else → 400."""
    if not isinstance(body, dict):
        raise bad_request("login body must be a JSON object with username and password")
    return seams.login_credentials(body)


@dataclass(frozen=True)
class AvailabilityQuery:
    denomination: float
    quantity: int


def parse_availability(body: Any, settings: Settings, seams: InputSeams) -> AvailabilityQuery:
    """P4: denomination a number in [0.01, 1e9], quantity an integer ≥ 1; otherwise 400."""
    if not isinstance(body, dict):
        raise bad_request("availability body must be a JSON object")
    denomination = body.get("denomination")
    if not is_number(denomination):
        raise bad_request("denomination is required and must be a number")
    seams.availability_fields(body)
    low: float | Decimal = settings.min_denomination
    high: float | Decimal = settings.max_denomination
    if isinstance(denomination, Decimal):  # read exactly: the bounds as written, too
        low, high = Decimal(repr(low)), Decimal(repr(high))
    if not seams.denomination_allowed(denomination, low, high):
        raise bad_request(f"denomination must be from {low} to {high:,.0f}, got {denomination}")
    quantity = seams.read_quantity(body.get("quantity"))
    if not seams.quantity_allowed(quantity, settings.min_quantity):
        raise bad_request(f"quantity must be at least {settings.min_quantity}, got {quantity}")
    return AvailabilityQuery(float(denomination), int(quantity))

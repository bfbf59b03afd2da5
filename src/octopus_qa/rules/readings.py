"""Inputs the documents and ASSUMPTIONS.md leave undecided, and what the suite accepts for them.

The suite may assert only what the documents and ASSUMPTIONS.md fix. Some requests it sends
(schemathesis's generated data above all, which sends `"quantity": 1.0` because JSON Schema
counts `1.0` as an integer) hold a value whose validity they do not decide: P4 says "an integer
≥ 1" and JSON has one number type, so a server may take `1.0` as 1 or refuse it with the
documented 400. For such a request both answers are right, and the suite accepts either.

This module is the one place that recognises such values: `undecided_inputs` reads a request as
it went on the wire and names each undecided value in it, and `either_reading_answered` is the
narrow check that replaces "must be accepted" / "must be refused" for that request alone (every
other check still runs on it). openapi/TRACEABILITY.md § Readings lists every ambiguity with its
reasons; the sandbox serves the other reading of each on request (`octoqa sandbox --reading`,
src/octopus_qa/sandbox/readings.py), and tests/test_contract_readings.py runs the suite clean
against every reading.

Values the documents do decide are not here, however lenient a parser might be about them:
`NaN`, `Infinity`, trailing commas or single quotes are not JSON (E3 → 400); a string where a
number belongs, or a boolean, is another type (A1/P4 → 400); `1e400` is a number past every bound.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

from .catalogue import RuleViolation

__all__ = [
    "AMBIGUITIES",
    "Ambiguity",
    "Undecided",
    "either_reading_answered",
    "json_as_written",
    "undecided_inputs",
]


@dataclass(frozen=True)
class Ambiguity:
    """One question the documents leave open, and the rule whose answer it changes."""

    id: str
    rule: str
    question: str


_LIST = (
    Ambiguity(
        "integral-float",
        "quantity-bounds",
        'Is a JSON number with a fraction or exponent but an integral value ("quantity": 1.0, '
        "1e2, 10E-1) an integer (P4)? JSON Schema says yes; many typed parsers say no.",
    ),
    Ambiguity(
        "integer-past-double",
        "quantity-bounds",
        "Quantity has no documented maximum (P4), but RFC 8259 § 6 lets a parser limit numbers "
        "to IEEE doubles: is an integer past 2**53 accepted or refused?",
    ),
    Ambiguity(
        "decimal-past-double",
        "denomination-bounds",
        "A denomination written with more digits than a double holds, on the edge of a bound "
        "(0.00999999999999999999999 reads as 0.01 as a double, below it as a decimal).",
    ),
    Ambiguity(
        "extra-body-fields",
        "denomination-bounds",
        "A login or availability body with fields the documents do not name: ignored or 400?",
    ),
    Ambiguity(
        "duplicate-keys",
        "post-requires-json",
        "A JSON object naming a key twice: RFC 8259 § 4 says names SHOULD be unique and leaves "
        "the meaning to the parser (first wins, last wins, or refused).",
    ),
    Ambiguity(
        "empty-credentials",
        "login-rejects-malformed-body",
        'An empty username or password: a "missing field" (A1 → 400) or wrong credentials '
        "(A1 → 401)?",
    ),
    Ambiguity(
        "lenient-integer-text",
        "limit-bounds",
        "A page, limit or id written as ' 5', '+5', '05', '1e1', '5.0', '1_0' or with "
        "non-ASCII digits, whose value is in range: an integer (L1, P1) or a word?",
    ),
    Ambiguity(
        "integer-past-64-bits",
        "page-bounds",
        "A page or product id past 2**63 − 1: the documents give no maximum (L1, P1), but most "
        "servers read ids and pages into 64 bits. Served (200 / 404) or refused (400)?",
    ),
    Ambiguity(
        "partial-sort",
        "sort-format",
        'A sort object without "field" or without "direction": the missing key defaults, or 400? '
        "(Both documents always show both keys; discrepancy 35.)",
    ),
    Ambiguity(
        "sort-extra-key",
        "sort-format",
        "A sort object with a key besides field/direction: ignored or 400? L4 names only a "
        "non-object, an unknown field or another direction as 400.",
    ),
    Ambiguity(
        "sort-field-case",
        "sort-format",
        'Sort field values in another case ("ID", "Name"): L4 makes the keys and the direction '
        "case-insensitive, but says nothing of the field's value.",
    ),
    Ambiguity(
        "sort-other-field",
        "sort-format",
        'Sorting on a product field other than id and name ("category"): L4 says the sortable '
        'fields "include at least id and name", so a server may accept more.',
    ),
)
AMBIGUITIES: Mapping[str, Ambiguity] = {ambiguity.id: ambiguity for ambiguity in _LIST}

# The rule an undecided value belongs to by its place, when that is not its ambiguity's (a page
# written ' 5' is page-bounds'). By id: the check modules that declare the rules import this one.
_PAGE_RULE, _LIMIT_RULE, _ID_RULE, _QUANTITY_RULE, _LOGIN_RULE = (
    "page-bounds",
    "limit-bounds",
    "product-id-bounds",
    "quantity-bounds",
    "login-rejects-malformed-body",
)
#: Every rule id this module names; octopus_qa.rules checks each against the catalogue at import.
RULE_IDS = frozenset(
    {ambiguity.rule for ambiguity in _LIST}
    | {_PAGE_RULE, _LIMIT_RULE, _ID_RULE, _QUANTITY_RULE, _LOGIN_RULE}
)


@dataclass(frozen=True)
class Undecided:
    """One undecided value in one request: which ambiguity, where it was, and the rule whose
    answer it leaves open (the ambiguity's own, unless the place names another: `page-bounds`
    for a page written ' 5', `limit-bounds` for a limit)."""

    ambiguity: Ambiguity
    where: str
    rule: str

    def __str__(self) -> str:
        return f"{self.where} ({self.ambiguity.id})"


# --- Numbers as text (query and path) --------------------------------------------------------

STRICT_DIGITS = re.compile(r"0|[1-9][0-9]*", re.ASCII)
INT64_MAX = 2**63 - 1
DOUBLE_EXACT = 2**53


def lenient_integer(text: str) -> int | None:
    """The integer a lenient parser would read from `text` (int(), or an integral float()),
    or None when no common parser reads an integer there ('abc', '2.5', '0x10', '1e400')."""
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        value = float(stripped)
    except ValueError:
        return None
    if math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _integer_text(name: str, text: str, low: int, high: int | None, rule: str) -> list[Undecided]:
    """Undecided readings of one integer written as text, valid from `low` to `high`."""
    if STRICT_DIGITS.fullmatch(text):
        value = int(text)
        if value > INT64_MAX and value >= low and (high is None or value <= high):
            return [_found("integer-past-64-bits", f"{name}={text[:30]}", rule)]
        return []
    lenient = lenient_integer(text)
    if lenient is None or lenient < low or (high is not None and lenient > high):
        return []  # no reading makes it valid: a 400 either way
    return [_found("lenient-integer-text", f"{name}={text[:30]!r}", rule)]


# --- JSON bodies ------------------------------------------------------------------------------


class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJson(name)


def _parse(raw: bytes | str, duplicates: list[str]) -> Any:
    """Strict JSON, numbers with a fraction or exponent kept as Decimal (as written), duplicate
    keys recorded. Raises ValueError for anything that is not JSON (NaN and Infinity included)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    return json.loads(
        raw, parse_float=Decimal, parse_constant=_reject_constant, object_pairs_hook=pairs
    )


def json_as_written(raw: bytes | str) -> Any:
    """A request body's JSON with every number as written (fractions and exponents as Decimal),
    so a bound is judged on the value sent, not on its nearest double. ValueError if it is not
    JSON; RecursionError if it is nested too deeply to tell (valid JSON may be)."""
    return _parse(raw, [])


def _decimal_is_integral(value: Decimal) -> bool:
    try:
        return value.is_finite() and value == value.to_integral_value()
    except InvalidOperation:
        return False


def _availability_body(body: Mapping[str, Any]) -> list[Undecided]:
    found: list[Undecided] = []
    quantity = body.get("quantity")
    if isinstance(quantity, Decimal) and quantity.is_finite() and quantity >= 1:
        # 1.0 and 1e2 are integral as written; 1.0000000000000001 is 1.0 once read as a double.
        as_double = float(quantity)
        if _decimal_is_integral(quantity) or (math.isfinite(as_double) and as_double.is_integer()):
            found.append(_found("integral-float", f"quantity {str(quantity)[:40]}"))
    elif isinstance(quantity, int) and not isinstance(quantity, bool) and quantity > DOUBLE_EXACT:
        found.append(_found("integer-past-double", f"quantity {str(quantity)[:30]}"))
    denomination = body.get("denomination")
    if isinstance(denomination, Decimal) and denomination.is_finite():
        as_double = float(denomination)
        exact_in = Decimal("0.01") <= denomination <= Decimal(1_000_000_000)
        double_in = 0.01 <= as_double <= 1_000_000_000
        if exact_in != double_in:
            found.append(_found("decimal-past-double", f"denomination {str(denomination)[:40]}"))
    extra = sorted(set(body) - {"denomination", "quantity"})
    if extra:
        found.append(
            _found("extra-body-fields", f"availability body field {extra[0]!r}", _QUANTITY_RULE)
        )
    return found


def _login_body(body: Mapping[str, Any]) -> list[Undecided]:
    found: list[Undecided] = []
    if any(body.get(key) == "" for key in ("username", "password")):
        found.append(_found("empty-credentials", "an empty username or password"))
    extra = sorted(set(body) - {"username", "password"})
    if extra:
        found.append(
            _found(
                "extra-body-fields",
                f"login body field {extra[0]!r}",
                _LOGIN_RULE,
            )
        )
    return found


#: Product fields other than id and name, which a server may also sort on (L4 "at least").
_OTHER_PRODUCT_FIELDS = frozenset(
    {
        "category",
        "sub_category",
        "country_code",
        "currency_code",
        "image_url",
        "delivery_mode",
        "delivery_time",
        "validity",
    }
)


def _sort(text: str) -> list[Undecided]:
    duplicates: list[str] = []
    try:
        value = _parse(text, duplicates)
    except (ValueError, RecursionError):
        return []  # not JSON: a 400 either way (L4)
    if not isinstance(value, dict):
        return []
    found: list[Undecided] = []
    lowered = [str(key).lower() for key in value]
    if duplicates or len(set(lowered)) != len(lowered):
        found.append(_found("duplicate-keys", f"sort {text[:60]!r}"))
    keys = {str(key).lower(): item for key, item in value.items()}
    if set(keys) - {"field", "direction"}:
        found.append(_found("sort-extra-key", f"sort {text[:60]!r}"))
    if "field" not in keys or "direction" not in keys:
        found.append(_found("partial-sort", f"sort {text[:60]!r}"))
    field = keys.get("field")
    if isinstance(field, str):
        if field.lower() in ("id", "name") and field not in ("id", "name"):
            found.append(_found("sort-field-case", f"sort field {field!r}"))
        elif field.lower() in _OTHER_PRODUCT_FIELDS:
            found.append(_found("sort-other-field", f"sort field {field!r}"))
    return found


def _found(ambiguity_id: str, where: str, rule: str | None = None) -> Undecided:
    ambiguity = AMBIGUITIES[ambiguity_id]
    return Undecided(ambiguity, where, rule or ambiguity.rule)


_PRODUCT_ID = re.compile(r"^/api/v1/products/(?P<id>[^/]+)(?:/availability)?/?$")


def undecided_inputs(
    method: str, path: str, query: Mapping[str, str], body: bytes | str | None
) -> tuple[Undecided, ...]:
    """Every value in this request whose validity the documents and ASSUMPTIONS.md leave open.

    `path` as sent (percent-encoding is undone here), `query` decoded, `body` the raw bytes.
    """
    found: list[Undecided] = []
    path_match = _PRODUCT_ID.match(path)
    if path_match:
        found += _integer_text("id", unquote(path_match["id"]), 1, None, _ID_RULE)
    if method == "GET" and path.rstrip("/") == "/api/v1/products":
        if "page" in query:
            found += _integer_text("page", query["page"], 1, None, _PAGE_RULE)
        if "limit" in query:
            found += _integer_text("limit", query["limit"], 1, 10_000, _LIMIT_RULE)
        if "sort" in query:
            found += _sort(query["sort"])
    if method == "POST" and body:
        duplicates: list[str] = []
        try:
            parsed = _parse(body, duplicates)
        except (ValueError, RecursionError):
            parsed = None  # not JSON: a 400 either way (E3)
        if duplicates:
            found.append(_found("duplicate-keys", f"body key {duplicates[0]!r} given twice"))
        if isinstance(parsed, dict):
            if path.endswith("/availability"):
                found += _availability_body(parsed)
            elif path.rstrip("/") == "/auth/login":
                found += _login_body(parsed)
    return tuple(found)


#: What a request holding an undecided value may get: its acceptance (200; 204 from logout; 404
#: for an id nobody has; 401 for credentials or tokens that are refused) or the documented 400.
EITHER_READING = frozenset({200, 204, 400, 401, 404})


def either_reading_answered(status: int, undecided: tuple[Undecided, ...]) -> None:
    """The narrow check for a request with undecided values: accepted or refused, both right;
    anything else (a 500, an undocumented status) breaks the rule the value belongs to."""
    if undecided and status not in EITHER_READING:
        first = undecided[0]
        raise RuleViolation(
            first.rule,
            f"{first} answered {status}: either reading allows "
            f"{', '.join(str(s) for s in sorted(EITHER_READING))}",
        )

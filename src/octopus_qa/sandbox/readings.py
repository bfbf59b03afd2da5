"""Other readings the sandbox can take where the documents do not decide: not faults.

Where the documents and ASSUMPTIONS.md leave a question open (is `"quantity": 1.0` an integer?),
the sandbox answers one way by default, and any server may answer the other way and still keep
the contract. `octoqa sandbox --reading NAME` serves the other answer, so the suite can be shown
to accept both (tests/test_contract_readings.py): a suite that fails against a reading raised a
false alarm. The questions themselves, and how the suite treats each, are in
src/octopus_qa/readings.py and openapi/TRACEABILITY.md § Readings.

Like faults, each reading is an object carrying its behaviour: it plants itself into the seams of
how a request is read (validation.InputSeams), wrapping the default answer. Readings compose: all
of them at once is a server too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from .responses import ApiError, bad_request
from .seams import Plant, Seams
from .validation import DIGITS, MAX_DIGITS, finite_float

#: The `big-integers-rejected` reading's limits: a signed 64-bit integer; an exact double.
INT64_MAX = 2**63 - 1
DOUBLE_EXACT = 2**53


@dataclass(frozen=True)
class Reading:
    name: str
    #: The id in octopus_qa.readings.AMBIGUITIES of the question this reading answers otherwise.
    ambiguity: str
    description: str
    #: Wraps the seams where the question is answered (see sandbox/seams.py).
    plant: Plant = field(kw_only=True, repr=False, compare=False)


_CATALOGUE: list[Reading] = []


def reading(name: str, ambiguity: str, description: str) -> Callable[[Plant], Reading]:
    """Turn a plant function into a Reading and list it, in the order --list-readings shows."""

    def register(plant: Plant) -> Reading:
        _CATALOGUE.append(Reading(name, ambiguity, description, plant=plant))
        return _CATALOGUE[-1]

    return register


@reading(
    "integral-floats-rejected",
    "integral-float",
    'A quantity written with a fraction or exponent ("quantity": 1.0, 1e2) → 400 '
    "(default: accepted as the integer it equals, as JSON Schema does).",
)
def integral_floats_rejected(seams: Seams) -> None:
    read_quantity = seams.inputs.read_quantity

    def written_as_integer(value: object) -> int | float:
        if isinstance(value, float | Decimal):
            raise bad_request("quantity must be written as an integer")
        return read_quantity(value)

    seams.inputs.read_quantity = written_as_integer


@reading(
    "big-integers-rejected",
    "integer-past-64-bits",
    "page and product ids past 2**63 − 1, and quantities past 2**53, → 400 "
    "(default: any size is served).",
)
def big_integers_rejected(seams: Seams) -> None:
    read_integer, read_quantity = seams.inputs.read_integer, seams.inputs.read_quantity

    def within_64_bits(text: str, what: str) -> int:
        value = read_integer(text, what)
        if value > INT64_MAX:
            raise bad_request(f"{what} is too large, got {text[:40]!r}")
        return value

    def exact_in_a_double(value: object) -> int | float:
        if isinstance(value, int) and not isinstance(value, bool) and value > DOUBLE_EXACT:
            raise bad_request("quantity is too large")
        return read_quantity(value)

    seams.inputs.read_integer = within_64_bits
    seams.inputs.read_quantity = exact_in_a_double


@reading(
    "lenient-integers-accepted",
    "lenient-integer-text",
    "page, limit and ids are read leniently: ' 5', '+5', '1e1', '5.0', '1_0', non-ASCII "
    "digits → the integer (default: ASCII digits only; '05' is 5).",
)
def lenient_integers_accepted(seams: Seams) -> None:
    read_integer = seams.inputs.read_integer

    def leniently(text: str, what: str) -> int:
        if DIGITS.fullmatch(text) is not None:
            return read_integer(text, what)
        return _lenient_integer(text, what)

    seams.inputs.read_integer = leniently


def _lenient_integer(text: str, what: str) -> int:
    """int(), else an integral, finite float()."""
    stripped = text.strip()
    if len(stripped) <= MAX_DIGITS:
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


@reading(
    "leading-zeros-rejected",
    "lenient-integer-text",
    "page, limit and ids with a leading zero ('05') → 400 (default: 5).",
)
def leading_zeros_rejected(seams: Seams) -> None:
    read_integer = seams.inputs.read_integer

    def without_leading_zeros(text: str, what: str) -> int:
        if len(text) > 1 and text.startswith("0"):
            raise bad_request(f"{what} must be an integer without leading zeros, got {text[:40]!r}")
        return read_integer(text, what)

    seams.inputs.read_integer = without_leading_zeros


@reading(
    "exact-decimals",
    "decimal-past-double",
    "denominations are compared as written, in decimal: 0.00999999999999999999999 → 400 "
    "(default: read as a double, 0.01).",
)
def exact_decimals(seams: Seams) -> None:
    seams.inputs.body_json = replace(seams.inputs.body_json, parse_float=_finite_decimal)


def _finite_decimal(text: str) -> Decimal:
    """A number as written, refused past a double's range."""
    finite_float(text)
    return Decimal(text)


@reading(
    "extra-fields-rejected",
    "extra-body-fields",
    "login and availability bodies with fields besides the documented ones → 400 "
    "(default: extra fields are ignored).",
)
def extra_fields_rejected(seams: Seams) -> None:
    login_credentials, availability_fields = (
        seams.inputs.login_credentials,
        seams.inputs.availability_fields,
    )

    def only_username_and_password(body: Mapping[str, Any]) -> tuple[str, str]:
        credentials = login_credentials(body)
        if set(body) - {"username", "password"}:
            raise bad_request("login body takes only username and password")
        return credentials

    def only_denomination_and_quantity(body: Mapping[str, Any]) -> None:
        if set(body) - {"denomination", "quantity"}:
            raise bad_request("availability body takes only denomination and quantity")
        availability_fields(body)

    seams.inputs.login_credentials = only_username_and_password
    seams.inputs.availability_fields = only_denomination_and_quantity


@reading(
    "duplicate-keys-rejected",
    "duplicate-keys",
    "a JSON body or sort object naming a key twice → 400 (default: the last one wins).",
)
def duplicate_keys_rejected(seams: Seams) -> None:
    inputs = seams.inputs
    inputs.body_json = replace(inputs.body_json, object_pairs_hook=_unique_pairs)
    inputs.sort_json = replace(inputs.sort_json, object_pairs_hook=_unique_pairs)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object naming a key twice is not accepted (a ValueError: not JSON we read)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


@reading(
    "empty-credentials-rejected",
    "empty-credentials",
    "an empty username or password → 400 (default: 401, wrong credentials).",
)
def empty_credentials_rejected(seams: Seams) -> None:
    login_credentials = seams.inputs.login_credentials

    def not_empty(body: Mapping[str, Any]) -> tuple[str, str]:
        username, password = login_credentials(body)
        if not (username and password):
            raise bad_request("username and password must not be empty")
        return username, password

    seams.inputs.login_credentials = not_empty


@reading(
    "partial-sort-rejected",
    "partial-sort",
    'a sort object without "field" or "direction" → 400 (default: the missing key is id / DESC).',
)
def partial_sort_rejected(seams: Seams) -> None:
    complete_sort = seams.inputs.complete_sort

    def both_given(given: Mapping[str, Any]) -> tuple[Any, Any]:
        if len(given) < 2:
            raise bad_request("sort must give both field and direction")
        return complete_sort(given)

    seams.inputs.complete_sort = both_given


@reading(
    "sort-extra-keys-ignored",
    "sort-extra-key",
    "a sort object's keys besides field/direction are ignored (default: 400).",
)
def sort_extra_keys_ignored(seams: Seams) -> None:
    sort_key = seams.inputs.sort_key

    def known_or_ignored(key: str) -> str | None:
        try:
            return sort_key(key)
        except ApiError:
            return None  # the key the default refuses is left out instead

    seams.inputs.sort_key = known_or_ignored


@reading(
    "sort-field-case-sensitive",
    "sort-field-case",
    'sort field values must be written "id" / "name": "ID" → 400 (default: any case).',
)
def sort_field_case_sensitive(seams: Seams) -> None:
    sort_field = seams.inputs.sort_field

    def lower_case_only(field: str, sortable: frozenset[str]) -> str:
        if field != field.lower():
            raise bad_request("sort field must be written in lower case")
        return sort_field(field, sortable)

    seams.inputs.sort_field = lower_case_only


@reading(
    "sort-id-and-name-only",
    "sort-other-field",
    "only id and name are sortable: category, country_code, currency_code → 400 "
    "(default: those sort too).",
)
def sort_id_and_name_only(seams: Seams) -> None:
    sort_field = seams.inputs.sort_field

    def id_or_name(field: str, sortable: frozenset[str]) -> str:
        if field.lower() not in ("id", "name"):
            raise bad_request("sort field must be id or name")
        return sort_field(field, sortable)

    seams.inputs.sort_field = id_or_name


READINGS: Mapping[str, Reading] = MappingProxyType({r.name: r for r in _CATALOGUE})


def unknown_readings(names: Iterable[str]) -> list[str]:
    """The names that are not in the catalogue, in the order given."""
    return [name for name in names if name not in READINGS]

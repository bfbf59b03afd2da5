"""Other readings the sandbox can take where the documents do not decide: not faults.

Where the documents and ASSUMPTIONS.md leave a question open (is `"quantity": 1.0` an integer?),
the sandbox answers one way by default, and any server may answer the other way and still keep
the contract. `octoqa sandbox --reading NAME` serves the other answer, so the suite can be shown
to accept both (tests/test_contract_readings.py): a suite that fails against a reading raised a
false alarm. The questions themselves, and how the suite treats each, are in
src/octopus_qa/readings.py and openapi/TRACEABILITY.md § Readings.

Like faults, each reading acts at one point of the code (`if NAME in readings:`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Reading:
    name: str
    #: The id in octopus_qa.readings.AMBIGUITIES of the question this reading answers otherwise.
    ambiguity: str
    description: str


_CATALOGUE = (
    Reading(
        "integral-floats-rejected",
        "integral-float",
        'A quantity written with a fraction or exponent ("quantity": 1.0, 1e2) → 400 '
        "(default: accepted as the integer it equals, as JSON Schema does).",
    ),
    Reading(
        "big-integers-rejected",
        "integer-past-64-bits",
        "page and product ids past 2**63 − 1, and quantities past 2**53, → 400 "
        "(default: any size is served).",
    ),
    Reading(
        "lenient-integers-accepted",
        "lenient-integer-text",
        "page, limit and ids are read leniently: ' 5', '+5', '1e1', '5.0', '1_0', non-ASCII "
        "digits → the integer (default: ASCII digits only; '05' is 5).",
    ),
    Reading(
        "leading-zeros-rejected",
        "lenient-integer-text",
        "page, limit and ids with a leading zero ('05') → 400 (default: 5).",
    ),
    Reading(
        "exact-decimals",
        "decimal-past-double",
        "denominations are compared as written, in decimal: 0.00999999999999999999999 → 400 "
        "(default: read as a double, 0.01).",
    ),
    Reading(
        "extra-fields-rejected",
        "extra-body-fields",
        "login and availability bodies with fields besides the documented ones → 400 "
        "(default: extra fields are ignored).",
    ),
    Reading(
        "duplicate-keys-rejected",
        "duplicate-keys",
        "a JSON body or sort object naming a key twice → 400 (default: the last one wins).",
    ),
    Reading(
        "empty-credentials-rejected",
        "empty-credentials",
        "an empty username or password → 400 (default: 401, wrong credentials).",
    ),
    Reading(
        "partial-sort-rejected",
        "partial-sort",
        'a sort object without "field" or "direction" → 400 (default: the missing key is '
        "id / DESC).",
    ),
    Reading(
        "sort-extra-keys-ignored",
        "sort-extra-key",
        "a sort object's keys besides field/direction are ignored (default: 400).",
    ),
    Reading(
        "sort-field-case-sensitive",
        "sort-field-case",
        'sort field values must be written "id" / "name": "ID" → 400 (default: any case).',
    ),
    Reading(
        "sort-id-and-name-only",
        "sort-other-field",
        "only id and name are sortable: category, country_code, currency_code → 400 "
        "(default: those sort too).",
    ),
)

READINGS: Mapping[str, Reading] = MappingProxyType({r.name: r for r in _CATALOGUE})


def unknown_readings(names: Iterable[str]) -> list[str]:
    """The names that are not in the catalogue, in the order given."""
    return [name for name in names if name not in READINGS]

"""Dates in bodies are RFC 3339 (getting-started.txt § Date Format)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .catalogue import Rule, RuleViolation, judges
from .evidence import applies
from .exchange import Exchange

# --- The rule of dates -------------------------------------------------------------------------

DATES_ARE_RFC3339 = Rule(
    "dates-are-rfc3339",
    title="Every date-time a response carries is RFC 3339 (date, 'T', time, 'Z' or an offset)",
    basis="documented",
    source="getting-started.txt § Date Format",
    quote=(
        "All date and time fields in requests and responses use RFC 3339 (ISO 8601 with timezone)"
    ),
    assumption=("A1",),
)

# --- Dates -------------------------------------------------------------------------------------

#: RFC 3339 § 5.6 `date-time`: full-date "T" full-time, the offset required ("Z" or ±hh:mm).
#: ISO 8601 allows more (no offset, a space, week dates, "+0530"): getting-started.txt §
#: Date Format says RFC 3339, so those are not enough, however well they parse.
_RFC3339 = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.\d+)?"
    r"(?:[Zz]|[+-](?P<off_hour>\d{2}):(?P<off_minute>\d{2}))",
    re.ASCII,
)
#: Fields that carry a date-time: every `*_at` (tests/test_spec.py holds the spec to
#: `format: date-time` on each).
_DATE_SUFFIX = "_at"


def is_rfc3339(text: str) -> bool:
    """True for an RFC 3339 date-time whose fields are in range (a leap second 60 allowed)."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return False
    parts = {name: int(value) for name, value in match.groupdict(default="0").items()}
    try:
        datetime(parts["year"], parts["month"], parts["day"])
    except ValueError:
        return False
    return (
        parts["hour"] <= 23
        and parts["minute"] <= 59
        and parts["second"] <= 60
        and parts["off_hour"] <= 23
        and parts["off_minute"] <= 59
    )


def _date_fields(value: Any, where: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and key.endswith(_DATE_SUFFIX):
                yield name, item
            if isinstance(item, dict | list):
                yield from _date_fields(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _date_fields(item, f"{where}[{index}]")


@judges(DATES_ARE_RFC3339)
def dates_are_rfc3339(exchange: Exchange) -> None:
    """Every date-time field of a JSON body is an RFC 3339 date-time (getting-started.txt §
    Date Format), not merely something a lenient parser reads as a date."""
    if exchange.status >= 400 or not exchange.body:
        return
    for name, value in _date_fields(exchange.json):
        applies(DATES_ARE_RFC3339, exchange)
        if not isinstance(value, str) or not is_rfc3339(value):
            raise RuleViolation(
                DATES_ARE_RFC3339,
                f"{exchange.method} {exchange.path}: {name} is {value!r}, not RFC 3339",
            )


def _auth_dates_are_rfc3339(exchange: Exchange) -> None:
    """Under load, dates are judged where they are (token bodies), not by walking every page."""
    if exchange.path.startswith("/auth/"):
        dates_are_rfc3339(exchange)

"""Durations as people write them: "20ms", "90s", "15m", "1h".

One reader for every option and setting that takes a duration (the sandbox's delays and
freezes, the load run's --run-time, the capacity search's --max-time), so they all spell units
the same way.
"""

from __future__ import annotations

import re

_DURATION = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h)?")
UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, *, bare_unit: str | None = None) -> float:
    """Seconds from `text`. A number without a unit is read in `bare_unit` ("s" for --run-time
    90), or refused when there is none (a sandbox delay of "20": 20 what?)."""
    match = _DURATION.fullmatch(text.strip())
    unit = match["unit"] or bare_unit if match else None
    if match is None or unit is None:
        example = "90, 90s, 15m or 1h" if bare_unit else "20ms, 2s or 15m"
        raise ValueError(f"{text!r} is not a duration like {example}")
    return float(match["number"]) * UNIT_SECONDS[unit]

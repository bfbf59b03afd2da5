"""KSUIDs as the documents use them for X-Request-Id (ASSUMPTIONS H2).

A KSUID is 27 base62 characters (0-9A-Za-z) whose decoded value fits in 160 bits. Generation is
left to the maintained `svix-ksuid` package; recognition is a pure function because every
response of a load run goes through it.
"""

from __future__ import annotations

import re

from ksuid import Ksuid

_BASE62 = re.compile(r"[0-9A-Za-z]{27}")
#: The largest 160-bit value, base62-encoded: every valid KSUID sorts at or below it.
MAX_KSUID = "aWgEPTl1tmebfsQzFP4bxwgy80V"


def new_ksuid() -> str:
    """A fresh KSUID string."""
    return str(Ksuid())


def is_ksuid(value: str) -> bool:
    """True when `value` is a well-formed KSUID (27 base62 characters, at most 160 bits)."""
    # Fixed-width base62 with digits < uppercase < lowercase compares like the number it encodes.
    return _BASE62.fullmatch(value) is not None and value <= MAX_KSUID

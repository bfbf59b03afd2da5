"""Which API a run talks to: a URL the user names, or the embedded local sandbox.

`--target URL` wins over `OCTOPUS_BASE_URL` (ASSUMPTIONS A5); with neither, or with the word
`embedded`, the run starts the local sandbox on a free loopback port and stops it afterwards
(octopus_qa.plan.preflight does that: the target part sits below the sandbox, which reads its
credentials and ports).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from ..errors import UsageError
from .ports import free_port

__all__ = ["EMBEDDED", "free_port", "is_loopback", "resolve_target"]

EMBEDDED = "embedded"


def resolve_target(option: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The target URL (without a trailing slash) or EMBEDDED; a malformed URL is a UsageError."""
    environ = os.environ if environ is None else environ
    value = (option or environ.get("OCTOPUS_BASE_URL") or EMBEDDED).strip()
    if value == EMBEDDED:
        return EMBEDDED
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"target {value!r} is not an http(s) URL (or 'embedded')")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise UsageError(f"target {value!r} has an invalid port") from None
    return value.rstrip("/")


def is_loopback(url: str) -> bool:
    """True when the URL's host is on this machine (127.0.0.0/8, ::1 or localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

"""The sandbox's numbers, read from `sandbox.toml` once per process.

Documented bounds (page, limit, denomination, quantity) sit beside the sandbox's own safety
limits so a reader can see in one file what the sandbox accepts and why.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Settings:
    default_page: int
    default_limit: int
    max_limit: int
    default_sort_field: str
    default_sort_descending: bool
    min_denomination: float
    max_denomination: float
    min_quantity: int
    refresh_ttl_seconds: float
    verified_cache_entries: int
    max_sessions: int
    max_body_bytes: int
    max_query_bytes: int


@cache
def settings() -> Settings:
    """sandbox.toml, typed."""
    text = resources.files(__package__).joinpath("sandbox.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    paging, sort, availability = raw["paging"], raw["sort"], raw["availability"]
    tokens, limits = raw["tokens"], raw["limits"]
    return Settings(
        default_page=int(paging["default_page"]),
        default_limit=int(paging["default_limit"]),
        max_limit=int(paging["max_limit"]),
        default_sort_field=str(sort["default_field"]),
        default_sort_descending=str(sort["default_direction"]).upper() == "DESC",
        min_denomination=float(availability["min_denomination"]),
        max_denomination=float(availability["max_denomination"]),
        min_quantity=int(availability["min_quantity"]),
        refresh_ttl_seconds=float(tokens["refresh_ttl_seconds"]),
        verified_cache_entries=int(tokens["verified_cache_entries"]),
        max_sessions=int(tokens["max_sessions"]),
        max_body_bytes=int(limits["max_body_bytes"]),
        max_query_bytes=int(limits["max_query_bytes"]),
    )

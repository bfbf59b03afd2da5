"""The limits the load generator itself must keep (generator.toml), or its run is invalid.

A generator past them measured itself, not the API: the load part judges its health against
these (loadtest/generator.py) and calls such a run invalid (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from .. import config

GENERATOR_FILE = "generator.toml"


@dataclass(frozen=True)
class GeneratorLimits:
    max_cpu_percent: float
    max_loop_lag_p99_ms: float
    late_after_ms: float
    max_late_wakeup_share: float
    min_starts: int


Share = Annotated[float, Meta(ge=0, le=1)]
Finite = Annotated[float, Meta(ge=0, le=1e9)]


class _Limits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`[generator]` of generator.toml (a new key: one line here and one in GeneratorLimits)."""

    max_cpu_percent: Finite
    max_loop_lag_p99_ms: Finite
    late_after_ms: Finite
    max_late_wakeup_share: Share
    min_starts: Annotated[int, Meta(ge=0)]


class _GeneratorFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    generator: _Limits


def load_generator_limits(path: Path) -> GeneratorLimits:
    """The limits in `path`; a broken file is one ConfigError line (file, key, problem)."""
    data = config.read(path, _GeneratorFile)
    return GeneratorLimits(**msgspec.structs.asdict(data.generator))

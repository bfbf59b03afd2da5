"""`pipeline.toml`, parsed: the pipeline profiles, the stage command lines and report settings.

Data, not code: a profile names a contract profile and a load profile with a time limit for
each stage, and `[commands]` is the command line of each stage that runs in its own process.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import UsageError
from ..rundir import REPORTS_ROOT


@dataclass(frozen=True)
class Profile:
    name: str
    contract: str
    load: str
    contract_timeout_s: float
    load_timeout_s: float


@dataclass(frozen=True)
class PipelineConfig:
    """`pipeline.toml`, parsed: the profiles, the stage command lines, and report settings."""

    profiles: Mapping[str, Profile]
    commands: Mapping[str, Sequence[str]]
    default_profile: str = "pr"
    lint_timeout_s: float = 120.0
    trend_runs: int = 10

    @classmethod
    def from_toml(cls, text: str) -> PipelineConfig:
        data = tomllib.loads(text)
        profiles = {name: Profile(name=name, **values) for name, values in data["profile"].items()}
        return cls(
            profiles=profiles,
            commands={stage: tuple(argv) for stage, argv in data["commands"].items()},
            default_profile=data.get("default_profile", "pr"),
            lint_timeout_s=float(data.get("spec", {}).get("lint_timeout_s", 120)),
            trend_runs=int(data.get("report", {}).get("trend_runs", 10)),
        )

    @classmethod
    def default(cls) -> PipelineConfig:
        text = resources.files("octopus_qa").joinpath("pipeline.toml").read_text(encoding="utf-8")
        return cls.from_toml(text)

    def profile(self, name: str | None) -> Profile:
        chosen = name or self.default_profile
        if chosen not in self.profiles:
            known = ", ".join(sorted(self.profiles))
            raise UsageError(f"unknown profile {chosen!r} (known: {known})")
        return self.profiles[chosen]


@dataclass(frozen=True)
class RunOptions:
    target: str | None = None
    profile: str | None = None
    seed: int = 0
    report_dir: Path | None = None
    reports_root: Path = REPORTS_ROOT

"""`pipeline.toml`, parsed: the pipeline profiles, the stage command lines and report settings.

Data, not code: a profile names a contract profile and a load profile with a time limit for
each stage, and `[commands]` is the command line of each stage that runs in its own process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from .. import config as user_config
from ..errors import UsageError
from ..plan.contract_profiles import PROFILE_NAMES as CONTRACT_PROFILES
from ..plan.contract_profiles import load_profile as load_contract_profile
from ..plan.hosts import load_allowed_hosts
from ..plan.load_profiles import load_profiles
from ..plan.slo import load_slo
from ..rundir import REPORTS_ROOT

Seconds = Annotated[float, Meta(gt=0, le=86_400 * 7)]
Argv = Annotated[list[str], Meta(min_length=1)]


class _ProfileEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`[profile.NAME]` of pipeline.toml (a new key: one line here and one in Profile)."""

    contract: str
    load: str
    contract_timeout_s: Seconds
    load_timeout_s: Seconds
    seed: Annotated[int, Meta(ge=0)] | None = None


class _Spec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lint_timeout_s: Seconds = 120.0


class _Report(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    trend_runs: Annotated[int, Meta(ge=1, le=1000)] = 10


class _Commands(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    contract: Argv
    load: Argv


class _PipelineFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    profile: dict[str, _ProfileEntry]
    commands: _Commands
    default_profile: str = "pr"
    spec: _Spec = _Spec()
    report: _Report = _Report()


@dataclass(frozen=True)
class Profile:
    name: str
    contract: str
    load: str
    contract_timeout_s: float
    load_timeout_s: float
    #: A fixed seed (pull requests: stable), or None: a fresh one every run (explore).
    seed: int | None = None


@dataclass(frozen=True)
class PipelineConfig:
    """`pipeline.toml`, parsed: the profiles, the stage command lines, and report settings."""

    profiles: Mapping[str, Profile]
    commands: Mapping[str, Sequence[str]]
    default_profile: str = "pr"
    lint_timeout_s: float = 120.0
    trend_runs: int = 10
    #: The file it was read from, for messages about it.
    source: Path = Path("pipeline.toml")

    @classmethod
    def read(cls, path: Path) -> PipelineConfig:
        """Parse and check a pipeline.toml; a problem is one ConfigError (file, key, problem)."""
        data = user_config.read(path, _PipelineFile)
        if data.default_profile not in data.profile:
            known = ", ".join(data.profile)
            problem = f"no such [profile.{data.default_profile}] (known: {known})"
            raise user_config.ConfigError(path, "default_profile", problem)
        for name, entry in data.profile.items():
            if entry.contract not in CONTRACT_PROFILES:
                raise user_config.ConfigError(
                    path,
                    f"profile.{name}.contract",
                    f"no such contract profile {entry.contract!r} "
                    f"(known: {', '.join(CONTRACT_PROFILES)})",
                )
        return cls(
            profiles={
                name: Profile(name=name, **msgspec.structs.asdict(entry))
                for name, entry in data.profile.items()
            },
            commands={"contract": tuple(data.commands.contract), "load": tuple(data.commands.load)},
            default_profile=data.default_profile,
            lint_timeout_s=data.spec.lint_timeout_s,
            trend_runs=data.report.trend_runs,
            source=path,
        )

    @classmethod
    def default(cls) -> PipelineConfig:
        """The pipeline.toml in force: the user's (octopus_qa.config), else the shipped one."""
        return cls.read(user_config.path("pipeline.toml"))

    def profile(self, name: str | None) -> Profile:
        chosen = name or self.default_profile
        if chosen not in self.profiles:
            known = ", ".join(sorted(self.profiles))
            raise UsageError(f"unknown profile {chosen!r} (known: {known})")
        return self.profiles[chosen]


def check_stage_configuration(pipeline: PipelineConfig, profile: Profile) -> None:
    """Read every file the contract and load stages of `profile` will read, before anything runs.

    The stages would refuse a broken file too, but only when their turn comes: a typo in slo.toml
    must not cost a contract run first. The same readers the stages use; a problem is one line.
    """
    load_contract_profile(profile.contract)
    profiles_file = user_config.path("load-profiles.toml")
    book = load_profiles(profiles_file)
    if profile.load not in book.profiles:
        raise user_config.ConfigError(
            pipeline.source,
            f"profile.{profile.name}.load",
            f"no such load profile {profile.load!r} in {user_config.display(profiles_file)} "
            f"(known: {', '.join(book.profiles)})",
        )
    load_slo(user_config.path("slo.toml"), profile.load, book.profiles)
    load_allowed_hosts(user_config.path("allowed-hosts.toml"))


@dataclass(frozen=True)
class RunOptions:
    target: str | None = None
    profile: str | None = None
    #: `--seed`: None takes the profile's seed, or a fresh one (seeds.choose_seed).
    seed: int | None = None
    report_dir: Path | None = None
    reports_root: Path = REPORTS_ROOT
    #: Known deviations for the contract stage (`octoqa contract --deviations`).
    deviations: Path | None = None

"""`pipeline.toml`, parsed: the pipeline profiles, the stage command lines and report settings.

Data, not code: a profile names a contract profile and a load profile with a time limit for
each stage (and, when it asks for one, a capacity gate after the load stage), and `[commands]`
is the command line of each stage that runs in its own process.
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
from ..plan import PlanOptions, RunPlan, build_plan
from ..plan.contract_profiles import PROFILE_NAMES as CONTRACT_PROFILES
from ..plan.load_profiles import UnknownLoadProfile
from ..rundir import REPORTS_ROOT

Seconds = Annotated[float, Meta(gt=0, le=86_400 * 7)]
Argv = Annotated[list[str], Meta(min_length=1)]
#: `capacity.baseline = "latest"`: the newest earlier passing capacity run of the same target.
LATEST = "latest"
#: The capacity stage's command when pipeline.toml's [commands] names none (files written
#: before the stage existed). `octoqa run` adds `--baseline FILE` when there is a baseline.
CAPACITY_COMMAND = (
    "{octoqa}", "capacity", "--plan", "{capacity_plan}", "--max-time", "{capacity_max_time}",
)  # fmt: skip


class CapacityStage(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`capacity = { ... }` in a profile: the capacity gate (`octoqa capacity --baseline`) as a
    stage after the load stage. Absent: no capacity stage (a search takes minutes)."""

    #: LATEST, or a path (a capacity summary.json or a run folder), relative to where
    #: `octoqa run` is started, like --baseline.
    baseline: str = LATEST
    #: The stage's time limit; the search's own budget ends a minute before it.
    timeout_s: Annotated[float, Meta(ge=120, le=86_400)] = 660.0


class _ProfileEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`[profile.NAME]` of pipeline.toml (a new key: one line here and one in Profile)."""

    contract: str
    load: str
    contract_timeout_s: Seconds
    load_timeout_s: Seconds
    seed: Annotated[int, Meta(ge=0)] | None = None
    capacity: CapacityStage | None = None


class _Spec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lint_timeout_s: Seconds = 120.0


class _Report(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    trend_runs: Annotated[int, Meta(ge=1, le=1000)] = 10


class _Commands(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    contract: Argv
    load: Argv
    capacity: Argv = msgspec.field(default_factory=lambda: list(CAPACITY_COMMAND))


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
    #: The capacity gate after the load stage, or None: no capacity stage.
    capacity: CapacityStage | None = None

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages this profile runs, in order."""
        capacity = ("capacity",) if self.capacity is not None else ()
        return ("spec", "contract", "load", *capacity, "report")


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
            commands={
                "contract": tuple(data.commands.contract),
                "load": tuple(data.commands.load),
                "capacity": tuple(data.commands.capacity),
            },
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
    #: The load stage serves its figures live to Prometheus on this port (`--metrics-port`).
    metrics_port: int | None = None


def plan_run(pipeline: PipelineConfig, profile: Profile, options: RunOptions) -> RunPlan:
    """The run a pipeline profile describes, decided once: every file its stages will read is
    read here, before anything runs (a typo in slo.toml must not cost a contract run first), and
    the stages get the result as the run's plan.json instead of reading them again."""
    try:
        return build_plan(
            PlanOptions(
                target=options.target,
                seed=options.seed,
                run_dir=options.report_dir,
                new_run_dir=True,
                reports_root=options.reports_root,
                contract_profile=profile.contract,
                deviations=options.deviations,
                load=True,
                load_profile=profile.load,
                metrics_port=options.metrics_port,
            )
        )
    except UnknownLoadProfile as exc:
        profiles_file = user_config.path("load-profiles.toml")
        raise user_config.ConfigError(
            pipeline.source,
            f"profile.{profile.name}.load",
            f"no such load profile {exc.name!r} in {user_config.display(profiles_file)} "
            f"(known: {', '.join(exc.known)})",
        ) from None

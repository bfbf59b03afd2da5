"""The run plan: everything a run decided before it sent anything, as one typed object.

Built once at the edge (`build.py`, from a command's options and the configuration files), opened
once (`preflight.py`: the sandbox started, the allow-list checked, one login), written as
`reports/<run-id>/plan.json`, and read by every process the run starts: `octoqa run`'s stages,
pytest's plugin and Locust's. None of them parses a configuration file or resolves the target
again. No secret is ever part of it: it says where the credentials come from, not what they are.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import msgspec

from ..errors import UsageError
from .contract_profiles import Profile as ContractProfile
from .generator import GeneratorLimits
from .load_profiles import Limits
from .load_profiles import Profile as LoadProfile
from .slo import ServiceLevels

__all__ = [
    "PLAN_ENV",
    "PLAN_FILE",
    "ContractPlan",
    "CredentialsSource",
    "LoadPlan",
    "RunPlan",
    "TargetPlan",
    "read_plan",
    "write_plan",
]

#: The file name of a written plan, in its run directory.
PLAN_FILE = "plan.json"
#: How a plan reaches a process that has no command line of ours (Locust's workers, pytest's
#: plugin under a plain `pytest`): the path of its plan.json.
PLAN_ENV = "OCTOQA_PLAN"


class TargetPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which API the run talks to, and how that was decided."""

    #: "embedded": a local sandbox started for the run; "url": a target the user named.
    kind: Literal["embedded", "url"]
    #: Where the choice came from: "--target", "$OCTOPUS_BASE_URL" or "default".
    chosen_by: str
    #: The base URL; for an embedded sandbox, None until the preflight has started it.
    url: str | None = None

    @property
    def label(self) -> str:
        """How the target is named to a person: `embedded` or its URL."""
        return "embedded" if self.kind == "embedded" else str(self.url)


class CredentialsSource(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the account comes from (ASSUMPTIONS A5); the secrets themselves never travel here."""

    #: "environment" (OCTOPUS_USERNAME / OCTOPUS_PASSWORD) or "demo account" (the sandbox's).
    source: Literal["environment", "demo account"]


class ContractPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the contract suite runs, and how hard it tries."""

    profile: ContractProfile
    documented_only: bool = False
    #: A checked deviations.toml, or None: the suite reports every breach as a failure.
    deviations: str | None = None


class LoadPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the load run plays, for how long, held to which limits and judged by which gates."""

    #: The profile it plays; None: plain Locust's own -u/-r/-t (or its web UI) decide.
    profile: LoadProfile | None
    #: How long it runs at most; None: as long as Locust's own options say.
    run_time_s: float | None
    #: The gates that judge it; None: no gates (Locust's own exit code), `--slo-file ""`.
    slo: ServiceLevels | None
    generator: GeneratorLimits
    limits: Limits
    allowed_hosts: frozenset[str]
    allow_any_host: bool = False
    #: Locust workers: processes on this machine (`--processes`), or on other machines when
    #: `master_bind_host` is set.
    workers: int = 0
    #: Where Locust's master listens for `workers` that run on other machines (`--master
    #: --master-bind-host`, "*": every address); None: the workers are local processes.
    master_bind_host: str | None = None
    #: An earlier load summary.json whose figures this run must not fall behind.
    baseline: str | None = None
    #: Judge only what follows the ramp (Locust's --reset-stats; the recorder resets too).
    reset_after_ramp: bool = False
    #: `--metrics-port`: the process that sees every worker's figures serves them live in
    #: Prometheus' text format at `/metrics` on this port (`loadtest/metrics.py`); None: no.
    metrics_port: int | None = None
    #: A capacity search's step: the rate it offers (`octoqa capacity`), shown live.
    capacity_step_rps: float | None = None


class RunPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One run, decided: read by every stage and process it starts."""

    seed: int
    target: TargetPlan
    credentials: CredentialsSource
    #: Where the run writes its reports; None for a run that writes none of its own (a plain
    #: pytest or Locust run, whose own options name its outputs).
    run_dir: str | None = None
    #: The user's configuration directory in force (`--config`, $OCTOQA_CONFIG, `.octoqa/`).
    config_dir: str | None = None
    contract: ContractPlan | None = None
    load: LoadPlan | None = None

    @property
    def url(self) -> str:
        """The target's base URL; only an opened plan (preflight.py) has one."""
        if self.target.url is None:
            raise RuntimeError("the run's target is not open yet (plan.preflight opens it)")
        return self.target.url

    @property
    def reports(self) -> Path:
        """The run directory; only a run that writes reports has one."""
        if self.run_dir is None:
            raise RuntimeError("this run writes no reports of its own (no run directory)")
        return Path(self.run_dir)

    @property
    def path(self) -> Path:
        return self.reports / PLAN_FILE


def write_plan(plan: RunPlan, path: Path | None = None) -> Path:
    """Write the plan beside the run's reports (or at `path`: a capacity step's own); returns
    where."""
    path = path or plan.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.format(msgspec.json.encode(plan), indent=2) + b"\n")
    return path


def read_plan(path: Path | str | None = None) -> RunPlan:
    """A written plan (by default the one $OCTOQA_PLAN names); a bad one is a UsageError."""
    chosen = Path(path if path is not None else os.environ.get(PLAN_ENV, ""))
    try:
        return msgspec.json.decode(chosen.read_bytes(), type=RunPlan)
    except OSError as exc:
        raise UsageError(f"cannot read the run plan {chosen}: {exc.strerror}") from None
    except msgspec.ValidationError as exc:
        raise UsageError(f"{chosen}: not a run plan of this octoqa ({exc})") from None

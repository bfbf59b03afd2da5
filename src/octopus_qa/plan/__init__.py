"""The run, decided once: the plan every stage and process reads, and the preflight that opens it.

`build_plan` turns a command's options and the configuration files into a `RunPlan`;
`preflight` opens it (the sandbox, the allow-list, one login); `write_plan` / `read_plan` carry it
to the processes the run starts as `reports/<run-id>/plan.json`.
"""

from .build import PlanOptions, build_plan, duration_option, port_option
from .preflight import OpenRun, preflight
from .run_plan import (
    PLAN_ENV,
    PLAN_FILE,
    ContractPlan,
    CredentialsSource,
    LoadPlan,
    RunPlan,
    TargetPlan,
    read_plan,
    write_plan,
)

__all__ = [
    "PLAN_ENV",
    "PLAN_FILE",
    "ContractPlan",
    "CredentialsSource",
    "LoadPlan",
    "OpenRun",
    "PlanOptions",
    "RunPlan",
    "TargetPlan",
    "build_plan",
    "duration_option",
    "port_option",
    "preflight",
    "read_plan",
    "write_plan",
]

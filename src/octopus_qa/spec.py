"""Where the hand-written contract lives, and its parsed form.

octoqa runs from a checkout of this repository (installed editable), so the spec is read from
`openapi/` at the repository's top rather than copied into the package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT / "openapi" / "octopus-cards.yaml"


@cache
def load_spec() -> dict[str, Any]:
    """The parsed OpenAPI document (cached: it does not change while octoqa runs)."""
    with SPEC_PATH.open(encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle))


def spec_version() -> str:
    """The `info.version` of the contract, recorded in every report."""
    return str(load_spec()["info"]["version"])

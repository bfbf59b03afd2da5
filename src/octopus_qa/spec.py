"""The hand-written contract, `openapi/octopus-cards.yaml`, and its parsed form.

The file ships inside the package (`octopus_qa.bundled`), so an installed octoqa reads the same
contract as a checkout.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from .bundled import spec_path

SPEC_PATH = spec_path()


@cache
def load_spec() -> dict[str, Any]:
    """The parsed OpenAPI document (cached: it does not change while octoqa runs)."""
    with SPEC_PATH.open(encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle))


def spec_version() -> str:
    """The `info.version` of the contract, recorded in every report."""
    return str(load_spec()["info"]["version"])

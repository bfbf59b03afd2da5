"""The files the commands read at run time, shipped inside the package.

The contract (`openapi/`), the contract suite (`contract_tests/`) and the load scenario (`load/`)
stay at the top of the repository, where a reader looks for them. pyproject.toml maps each of
those directories onto a subpackage of this one (`[tool.setuptools.package-dir]`), so a wheel
carries them as `octopus_qa/bundled/<name>/` and an editable install resolves the same names to
the checkout's directories. Code finds them here, through `importlib.resources`, and never by
walking up from `__file__` to a checkout that an installed package does not have.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["contract_tests_dir", "load_dir", "openapi_dir", "spec_path"]


def _directory(name: str) -> Path:
    # Installed from a wheel or editable, each bundled directory is a plain folder on disk:
    # pytest and Locust are handed paths, so a zipped install is not supported.
    return Path(str(resources.files(f"{__name__}.{name}")))


def openapi_dir() -> Path:
    """`openapi/`: the contract and the linter's configuration."""
    return _directory("openapi")


def spec_path() -> Path:
    """The hand-written OpenAPI contract, `openapi/octopus-cards.yaml`."""
    return openapi_dir() / "octopus-cards.yaml"


def contract_tests_dir() -> Path:
    """`contract_tests/`: the contract suite pytest runs, with its profiles and pytest.ini."""
    return _directory("contract_tests")


def load_dir() -> Path:
    """`load/`: the locustfile, its helpers and its data files (profiles, SLOs, allow-list)."""
    return _directory("load")

"""The package's parts import one way: the layers declared in pyproject.toml hold.

`lint-imports` (import-linter) reads every import of the installed package, those inside
functions included, against `[tool.importlinter]`: cli → pipeline → contract | loadtest → plan →
report → rules | sandbox → target → the base modules. Run here so CI holds the architecture.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", **({"PYTHONPATH": str(pythonpath)} if pythonpath else {})}
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def declared_modules() -> list[str]:
    """The parts the layers contract names, without the package prefix."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (contract,) = [each for each in contracts if each["type"] == "layers"]
    return [
        name.strip().removeprefix("octopus_qa.")
        for layer in contract["layers"]
        for name in layer.replace("|", ":").split(":")
    ]


def test_the_declared_layers_hold() -> None:
    result = lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 kept, 0 broken" in result.stdout


def test_the_sandbox_importing_the_rules_breaks_the_contract(tmp_path: Path) -> None:
    """The contract can fail: a package laid out like ours whose sandbox imports the rules."""
    (tmp_path / "pyproject.toml").write_text(
        (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    package = tmp_path / "octopus_qa"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    for module in declared_modules():
        body = "from .rules import checks\n" if module == "sandbox" else "checks = 1\n"
        (package / f"{module}.py").write_text(body, encoding="utf-8")
    result = lint_imports(tmp_path, pythonpath=tmp_path)
    assert result.returncode != 0, result.stdout[-3000:]
    assert "octopus_qa.sandbox -> octopus_qa.rules" in result.stdout, result.stdout[-3000:]
    assert "0 kept, 2 broken" in result.stdout  # the layers and the sandbox's independence

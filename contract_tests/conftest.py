"""The suite's options under the short names typed after `pytest contract_tests` (`--target`,
`--profile`, `--seed`, ...): declared here, so they exist only in a run of this suite.

Everything else (the preflight, fixtures, rule marks, reports) is octoqa's pytest plugin,
`octopus_qa.contract.plugin`, which the package's pytest11 entry point loads when pytest.ini
beside this file marks the run as the contract suite.
"""

from octopus_qa.contract.pytest_entry import add_suite_options as pytest_addoption

__all__ = ["pytest_addoption"]

"""The package's pytest11 entry point: inert in every pytest run but the contract suite's.

Installing octoqa puts this module into every pytest run of the environment (this project's own
tests, a user's unrelated suites). It adds one ini key and nothing else, until a run marks itself
as the contract suite (`octoqa_contract_suite = true`, as contract_tests/pytest.ini does) or
`octoqa contract` hands its open Suite in; only then it loads the suite's plugin and fixtures,
the way hypothesis's own plugin loads the library lazily. `-p no:octoqa` opts out.
"""

from __future__ import annotations

import sys

import pytest

#: The ini key that marks a pytest run as the contract suite.
SUITE_INI = "octoqa_contract_suite"
PLUGIN_MODULES = ("octopus_qa.contract.plugin", "octopus_qa.contract.fixtures")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        SUITE_INI,
        type="bool",
        default=False,
        help="this run is the Octopus Cards contract suite (loads octoqa's plugin)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Before hypothesis's own configure: the suite's plugin sets the run's seed for it."""
    if not (config.getini(SUITE_INI) or _suite_handed_in(config)):
        return
    for module in PLUGIN_MODULES:
        config.pluginmanager.import_plugin(module)


def _suite_handed_in(config: pytest.Config) -> bool:
    """`octoqa contract` passes its open Suite to pytest.main(plugins=[...])."""
    suite_module = sys.modules.get("octopus_qa.contract.suite")  # not imported: none was
    return suite_module is not None and any(
        isinstance(plugin, suite_module.Suite) for plugin in config.pluginmanager.get_plugins()
    )

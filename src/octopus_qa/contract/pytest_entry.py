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

from ..plan.contract_profiles import DEFAULT_PROFILE, PROFILE_NAMES

#: The ini key that marks a pytest run as the contract suite.
SUITE_INI = "octoqa_contract_suite"
#: Fixtures first: the plugin imports them, and pytest rewrites a plugin only if it imports it.
PLUGIN_MODULES = ("octopus_qa.contract.fixtures", "octopus_qa.contract.plugin")


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


def add_suite_options(parser: pytest.Parser) -> None:
    """The suite's options; contract_tests/conftest.py adds them as its `pytest_addoption`, so
    they exist only in a run of the suite (no clash with another plugin's `--profile`)."""
    group = parser.getgroup("octoqa", "Octopus Cards contract suite")
    group.addoption(
        "--target",
        default=None,
        help="base URL of the API under test, or 'embedded' (default: $OCTOPUS_BASE_URL, "
        "else a local sandbox started for the run)",
    )
    group.addoption(
        "--profile",
        default=None,
        choices=PROFILE_NAMES,
        help=f"how hard to try, from contract_tests/profiles.toml (default: {DEFAULT_PROFILE})",
    )
    group.addoption("--seed", type=int, default=None, help="reproduce a run exactly")
    group.addoption(
        "--plan",
        default=None,
        metavar="FILE",
        help="a run plan (plan.json) written by octoqa: the run as it was decided (the options "
        "above are then not read)",
    )
    group.addoption("--summary-json", default=None, help="write the run's summary.json here")
    group.addoption(
        "--schemathesis-report",
        default=None,
        metavar="DIR",
        help="write schemathesis's own HTML report of the property tests into DIR",
    )
    group.addoption(
        "--deviations",
        default=None,
        metavar="FILE",
        help="known deviations (deviations.toml): failures it covers are reported as known "
        "deviations until their expiry date",
    )
    group.addoption(
        "--documented-only",
        action="store_true",
        help="check only rules the provider's documents state (deselect ASSUMPTIONS.md readings)",
    )

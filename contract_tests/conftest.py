"""Thin on purpose: the suite's options, preflight, fixtures and reporting live in plugin.py,
the schemathesis checks (one thin adapter per rule) in checks.py."""

pytest_plugins = [
    "contract_tests.plugin",
    "contract_tests.fixtures",
    "contract_tests.checks",
]

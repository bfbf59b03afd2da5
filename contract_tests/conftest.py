"""Thin on purpose: the suite's options, preflight, fixtures and reporting live in plugin.py,
the schemathesis checks (one thin adapter per rule) in checks.py.

The plugins are named from this package's own name: `contract_tests` in a checkout,
`octopus_qa.bundled.contract_tests` when the suite runs from an installed wheel.
"""

pytest_plugins = [f"{__package__}.{name}" for name in ("plugin", "fixtures", "checks")]

"""The contract suite's machinery: profiles, the shared login, the checked HTTP client, coverage,
the run summary and the runner behind `octoqa contract`.

The tests themselves live in `contract_tests/` at the top of the repository; this package holds
what they and `octoqa contract` share, so neither keeps a second copy.
"""

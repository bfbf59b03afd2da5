"""The Octopus Cards contract suite (run with `octoqa contract` or `pytest contract_tests`)."""

"""The load suite's machinery outside Locust: profiles, SLOs, the host allow-list, the run.

`octoqa load` (see `runner.py`) checks the target and the configuration, logs in once as a
preflight, runs `load/locustfile.py` in a Locust subprocess, then judges Locust's CSV against
`load/slo.toml` (and an optional baseline) and writes `summary.json`. The pure modules here
(`endpoints`, `profiles`, `allowlist`) are also imported by the locustfile itself, so the Locust
process and the runner read the same data the same way.
"""

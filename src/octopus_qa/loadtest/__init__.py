"""The load suite's machinery outside Locust: profiles, SLOs, the host allow-list, the run.

`octoqa load` (see `runner.py`) checks the target and the configuration, logs in once as a
preflight, runs `load/locustfile.py` in a Locust subprocess, reads back the verdict Locust
reached as it quit (`verdict.py`: the SLO gates of `load/slo.toml` and an optional baseline, on
Locust's statistics in memory) and writes `summary.json`. The modules here that do not import
Locust (`endpoints`, `profiles`, `allowlist`, `slo`, `gates`, `results`, `verdict`) are also
imported by the locustfile itself, so the Locust process and the runner read the same data the
same way, and a plain Locust run is judged as an `octoqa load` run is.
"""

"""The load profile a run plays, as a Locust `LoadTestShape`, chosen with `--profile NAME`.

Profiles are data in `profiles.toml` beside this file (ramp, step, spike, soak, smoke, and the
open-model arrival profiles); `octopus_qa.loadtest.profiles` compiles each into stages and checks
that it is bounded. This shape plays the stages of the profile named on the command line and
ends the run when they are over, so every run stops by itself. Locust's own `--profile` option
("a profile to group test runs together") names it: one option, one meaning for us.

`pacing(user)` gives each user its wait time: think time in the closed-model profiles, and
Locust's `constant_throughput` in the open-model ones, where each user runs its tasks at a fixed
rate whatever the response time and the user count is computed from the target rate.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from locust import LoadTestShape, User, between, constant_throughput

from octopus_qa.loadtest.profiles import Profile, load_profiles

HERE = Path(__file__).resolve().parent
DEFAULT_PROFILE = "smoke"
DEFAULT_PROFILES_FILE = HERE / "profiles.toml"
#: Think time between a closed-model user's tasks (seconds).
THINK_TIME = between(0.5, 2.0)


@cache
def _profile(profiles_file: str, name: str) -> Profile:
    return load_profiles(Path(profiles_file)).get(name)


def selected_profile(options: Any) -> Profile:
    """The profile named by `--profile` (default smoke) in `--profiles-file`."""
    name = getattr(options, "profile", None) or DEFAULT_PROFILE
    profiles_file = getattr(options, "profiles_file", None) or str(DEFAULT_PROFILES_FILE)
    return _profile(profiles_file, name)


@cache
def _open_model_pacing(per_user_rps: float) -> Any:
    return constant_throughput(per_user_rps)


def pacing(user: User) -> float:
    """The wait before this user's next task, by the model of the selected profile."""
    profile = selected_profile(user.environment.parsed_options)
    if profile.per_user_rps is None:
        return float(user.think_time())  # bound like Locust's own wait_time functions
    return float(_open_model_pacing(profile.per_user_rps)(user))


class ProfileShape(LoadTestShape):
    """Users over time as the selected profile's stages say; the run ends with the last stage.

    The profile decides users and spawn rates (`-u`/`-r` are not read). `--run-time` is read
    here: in headless mode Locust arms its own run-time timer only after a shape has finished,
    so the cap must be the shape's (`use_common_options` declares that it reads the option).
    """

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        options = self.runner.environment.parsed_options
        elapsed = self.get_run_time()
        run_time = getattr(options, "run_time", None)
        if run_time and elapsed >= run_time:
            return None
        return selected_profile(options).tick(elapsed)

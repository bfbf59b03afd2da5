"""The load profile a run plays, as a Locust `LoadTestShape`, chosen with `--load-profile NAME`.

Profiles are data in `load/profiles.toml` or the user's `load-profiles.toml` (ramp, step, spike,
soak, smoke, and the open-model arrival profiles); `octopus_qa.plan.load_profiles` compiles each
into stages and checks that it is bounded. This shape plays the stages of the run plan's profile
and ends the run when they are over, so every run stops by itself.

Without `--load-profile` the run is Locust's own: the shape steps aside (`use_shape_if_chosen`)
and `-u`, `-r` and `-t`, or the web UI's form, decide users, spawn rate and run time. The option
is not called `--profile`: Locust has its own `--profile` ("a profile to group test runs
together"), and a locustfile must not change what a Locust user means by it.

`pacing(user)` gives each user its wait time: think time in the closed-model profiles (and
without a profile), and Locust's `constant_throughput` in the open-model ones, where each user
runs its tasks at a fixed rate whatever the response time and the user count is computed from
the target rate.
"""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from locust import LoadTestShape, User, between, constant_throughput
from locust.env import Environment

from .. import config
from ..plan.load_profiles import Profile, load_profiles
from .locust_run import profile_of

#: The profile the shape plays when it is picked in the web UI's class picker without a name.
DEFAULT_PROFILE = "smoke"
#: Think time between a closed-model user's tasks (seconds).
THINK_TIME = between(0.5, 2.0)


def use_shape_if_chosen(environment: Environment, profile: Profile | None) -> None:
    """Without a profile, take the shape out of the run: Locust's -u/-r/-t then apply,
    in headless mode and in the web UI, exactly as for a locustfile without a shape."""
    if profile is None:
        environment.shape_class = None


@cache
def _open_model_pacing(per_user_rps: float) -> Any:
    return constant_throughput(per_user_rps)


def pacing(user: User, profile: Profile | None) -> float:
    """The wait before this user's next task, by the model of the run's profile."""
    if profile is None or profile.per_user_rps is None:
        return float(cast(Any, user).think_time())  # bound like Locust's wait_time functions
    return float(_open_model_pacing(profile.per_user_rps)(user))


@cache
def _default_profile() -> Profile:
    return load_profiles(config.path("load-profiles.toml")).get(DEFAULT_PROFILE)


class ProfileShape(LoadTestShape):
    """Users over time as the run's profile's stages say; the run ends with the last stage.

    The profile decides users and spawn rates (`-u`/`-r` are not read). `--run-time` is read
    here: in headless mode Locust arms its own run-time timer only after a shape has finished,
    so the cap must be the shape's (`use_common_options` declares that it reads the option).
    """

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        environment = self.runner.environment
        elapsed = float(self.get_run_time())  # type: ignore[no-untyped-call]
        run_time = getattr(environment.parsed_options, "run_time", None)
        if run_time and elapsed >= run_time:
            return None
        return (profile_of(environment) or _default_profile()).tick(elapsed)

"""The base of every simulated client: its login, its pacing, its place on the schedule.

The scenario's user classes (`load/locustfile.py`) say what a kind of client does; this says
what every client is: a FastHttpUser with its own login (renewed before `exp` and after a 401,
`tokens.py`), paced by the run's model (the recorder's open-model schedule, or think time,
`shapes.py`), each request carrying its lag behind schedule for the latency recorder.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gevent
from locust.contrib.fasthttp import FastHttpUser

from ..target.credentials import Credentials
from .locust_run import profile_of
from .recorder import RECORDER
from .shapes import THINK_TIME, pacing
from .tokens import TokenKeeper

__all__ = ["ApiUser"]


def paced(user: ApiUser) -> float:
    """Open model: until the user's next slot on the schedule (`RECORDER`); closed: think time."""
    wait = RECORDER.wait_s(user)
    return pacing(user, profile_of(user.environment)) if wait is None else wait


class ApiUser(FastHttpUser):
    """A client of the API: its own login, its pacing from the profile."""

    abstract = True
    #: The endpoints (`plan.endpoints` keys) every client of this kind calls: a gate of an
    #: endpoint no running user calls is not judged (a plain `-u 5` may leave a kind without
    #: users).
    endpoints: ClassVar[tuple[str, ...]] = ()
    wait_time = paced
    think_time = THINK_TIME  # closed-model pause between tasks; the open model ignores it

    def on_start(self) -> None:
        gevent.sleep(RECORDER.start_delay_s())  # open model: its own place on the grid
        self.tokens = TokenKeeper(self.client, Credentials.from_env())

    def on_stop(self) -> None:
        RECORDER.user_stopped(self)

    def context(self) -> dict[str, Any]:
        """Each request carries its task's lag behind schedule, for the latency recorder."""
        return RECORDER.request_context(self)

    def authorized(self) -> dict[str, str] | None:
        return self.tokens.authorization()

    def after(self, status: int) -> None:
        if status == 401:
            self.tokens.unauthorized()

"""The one account the suites log in with, and the sandbox serves (ASSUMPTIONS A5).

`OCTOPUS_USERNAME` / `OCTOPUS_PASSWORD` configure both sides; without them the sandbox's demo
account is used, so everything runs offline with no setup.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEMO_USERNAME = "demo@octopus.example"
DEMO_PASSWORD = "octopus-demo-password"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        environ = os.environ if environ is None else environ
        return cls(
            environ.get("OCTOPUS_USERNAME") or DEMO_USERNAME,
            environ.get("OCTOPUS_PASSWORD") or DEMO_PASSWORD,
        )

    def as_login_body(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}

    def secrets(self) -> tuple[str, ...]:
        """The strings that must never appear in output or reports: the password, and the
        username too (an account name is half a credential, and reports travel)."""
        return (self.password, self.username)

"""What one run of the contract suite shares: the target, the profile, the seed, the login.

Built once, before any test (the preflight): either by `octoqa contract` (which then hands it to
pytest as a plugin object, so the run logs in once) or by the pytest plugin itself when a user
runs `pytest contract_tests`. Closing it stops an embedded sandbox.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..plan.contract_profiles import Profile, load_profile
from ..plan.preflight import target_url
from ..rules import TokenLedger
from ..seeds import new_seed
from ..spec import load_spec
from ..target import resolve_target
from ..target.credentials import Credentials
from ..target.retry_later import RetryLaterPolicy
from .client import ApiClient
from .coverage import Coverage
from .deviations import Deviations
from .ledger import RuleLedger
from .tokens import Secrets, SharedLogin
from .watch import TargetWatch


@dataclass(eq=False)  # hashable by identity: pytest registers it as a plugin object
class Suite:
    base_url: str
    target_label: str
    profile: Profile
    seed: int
    credentials: Credentials
    secrets: Secrets
    shared_login: SharedLogin
    coverage: Coverage
    ledger: RuleLedger = field(default_factory=RuleLedger)
    #: Whether (and where) the target went away after the preflight.
    watch: TargetWatch = field(default_factory=TargetWatch)
    #: Check only documented rules (ASSUMPTIONS.md readings are deselected or not judged).
    documented_only: bool = False
    #: Known deviations (deviations.toml), None when the run has none.
    deviations: Deviations | None = None
    #: Logins, refreshes and logouts seen so far, judged as sequences (A2, A3) by the client and
    #: the schemathesis checks alike.
    tokens: TokenLedger = field(default_factory=TokenLedger)
    #: Where schemathesis writes its own HTML report of the property tests (None: no report).
    schemathesis_report: Path | None = None
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)

    @classmethod
    def open(
        cls,
        target_option: str | None,
        profile_name: str,
        seed: int | None,
        credentials: Credentials | None = None,
    ) -> Suite:
        """Resolve the target (starting the embedded sandbox if asked) and log in once.

        Raises the OctoqaError subclasses (UsageError, TargetUnreachable, LoginFailed,
        TargetMisbehaving) with one clear line; nothing is left running when it does.
        """
        profile = load_profile(profile_name)
        credentials = credentials or Credentials.from_env()
        secrets = Secrets(credentials.secrets())
        label = resolve_target(target_option)  # a malformed URL fails here, before anything runs
        stack = ExitStack()
        try:
            base_url = stack.enter_context(target_url(target_option))
            watch = TargetWatch(profile.slow_answer_s)
            shared_login = SharedLogin(
                base_url, credentials, secrets, watch, timeout=profile.request_timeout_s
            )
            shared_login.start()
        except BaseException:
            stack.close()
            raise
        return cls(
            base_url=base_url,
            target_label=label,
            profile=profile,
            seed=new_seed() if seed is None else seed,
            credentials=credentials,
            secrets=secrets,
            shared_login=shared_login,
            coverage=Coverage(load_spec()),
            watch=watch,
            _stack=stack,
        )

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()
        self._stack.close()

    @cached_property
    def client(self) -> ApiClient:
        """The run's one checked client (client.py: every exchange judged), made on first use by
        a test or a schemathesis check."""
        return ApiClient(
            self.base_url,
            self.shared_login,
            self.coverage,
            self.secrets,
            retry_later=self.retry_later,
            timeout_s=self.profile.request_timeout_s,
            tokens=self.tokens,
        )

    @property
    def retry_later(self) -> RetryLaterPolicy:
        """The run's one 429 policy (retry_later.py), bounded by the profile."""
        return RetryLaterPolicy(max_wait_s=self.profile.retry_after_max_s)

    def repro_hint(self) -> str:
        """How to reproduce a failure without any secret in the text."""
        return (
            f"reproduce with --seed {self.seed} --profile {self.profile.name}; curl lines use "
            "$OCTOPUS_TOKEN: export OCTOPUS_TOKEN=$(curl -s -X POST "
            f"{self.base_url}/auth/login -H 'Content-Type: application/json' "
            '-d \'{"username":"\'$OCTOPUS_USERNAME\'","password":"\'$OCTOPUS_PASSWORD\'"}\' '
            "| python -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
        )

    def describe(self) -> dict[str, Any]:
        return {"target": self.target_label, "profile": self.profile.name, "seed": self.seed}

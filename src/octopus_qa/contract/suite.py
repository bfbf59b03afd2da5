"""What one run of the contract suite shares: its plan, the opened target, the login, the ledgers.

Opened once, before any test, from the run's plan (`octopus_qa.plan`) by the one preflight:
either by `octoqa contract` (which then hands it to pytest as a plugin object) or by the pytest
plugin itself when a user runs `pytest contract_tests`. The preflight's login is the suite's
first shared login, so a run logs in once. Closing it stops an embedded sandbox.
"""

from __future__ import annotations

import shlex
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import UsageError
from ..plan import RunPlan, preflight
from ..plan.contract_profiles import Profile
from ..rules import TokenLedger
from ..spec import load_spec
from ..target.credentials import Credentials
from ..target.retry_later import RetryLaterPolicy
from ..target.session import Tokens
from .client import ApiClient, token_line
from .coverage import Coverage
from .deviations import Deviations, load_deviations
from .ledger import RuleLedger
from .tokens import Secrets, SharedLogin
from .watch import TargetWatch


@dataclass(eq=False, repr=False)  # hashable by identity: pytest registers it as a plugin object
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
    #: The run as it was decided, its target opened (written as the run's plan.json).
    plan: RunPlan | None = None
    #: The preflight's tokens, the run's earliest: presented again once the run has outlived
    #: their `exp` (test_auth.py, expiry), the one way a run shows that expiry is checked.
    first_tokens: Tokens | None = None
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)

    @classmethod
    def open(cls, plan: RunPlan, credentials: Credentials | None = None) -> Suite:
        """Open the plan's target (the preflight: sandbox, one login) for the suite.

        Raises the OctoqaError subclasses (UsageError, TargetUnreachable, LoginFailed,
        TargetMisbehaving) with one clear line; nothing is left running when it does.
        """
        if plan.contract is None:
            raise UsageError("the run plan has no contract part")
        profile = plan.contract.profile
        stack = ExitStack()
        try:
            opened = stack.enter_context(preflight(plan, credentials))
            secrets = Secrets(opened.credentials.secrets())
            watch = TargetWatch(profile.slow_answer_s)
            shared_login = SharedLogin(
                opened.url, opened.credentials, secrets, watch, timeout=profile.request_timeout_s
            )
            shared_login.adopt(opened.tokens)
            deviations = plan.contract.deviations
        except BaseException:
            stack.close()
            raise
        return cls(
            base_url=opened.url,
            target_label=plan.target.label,
            profile=profile,
            seed=plan.seed,
            credentials=opened.credentials,
            secrets=secrets,
            shared_login=shared_login,
            coverage=Coverage(load_spec()),
            watch=watch,
            documented_only=plan.contract.documented_only,
            deviations=load_deviations(Path(deviations)) if deviations else None,
            plan=opened.plan,
            first_tokens=opened.tokens,
            _stack=stack,
        )

    def __post_init__(self) -> None:
        if self.first_tokens is not None:
            self.tokens.issued(self.first_tokens.access_token, self.first_tokens.refresh_token)

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
        """How to reproduce a failure, with no secret in the text: the seed and profile, then
        the shell line that sets the token the curl lines read (client.token_line), each line
        as it is pasted into a shell."""
        lines = [
            f"reproduce with --seed {self.seed} --profile {self.profile.name}; the curl lines "
            "read the token from $OCTOPUS_TOKEN, set by this line:"
        ]
        if self.target_label == "embedded":
            port = urlsplit(self.base_url).port
            lines[0] += (
                f" (the embedded sandbox stopped with the run: serve it again first, from "
                f"another shell: octoqa sandbox --port {port})"
            )
        lines.append(token_line(self.base_url))
        return "\n".join(lines)

    def rerun_command(self, nodeid: str) -> str:
        """The command that runs one test of this run again, against the same target: the
        seed and profile replay its examples (the embedded sandbox is started afresh)."""
        target = "" if self.target_label == "embedded" else f" --target {self.base_url}"
        test = nodeid.split("::", 1)[-1].split("[", 1)[0]
        return (
            f"octoqa contract{target} --profile {self.profile.name} --seed {self.seed} "
            f"-- -k {shlex.quote(test)}"
        )

    def __repr__(self) -> str:
        """Short: hypothesis prints a failing example's arguments, this Suite among them, and
        the whole dataclass (its ledgers grow with the run) passed 90 kB, which hypothesis warns
        about; under the suite's `filterwarnings = error` that warning replaced the failure."""
        return (
            f"Suite(target={self.target_label!r}, url={self.base_url!r}, "
            f"profile={self.profile.name!r}, seed={self.seed})"
        )

    def describe(self) -> dict[str, Any]:
        return {"target": self.target_label, "profile": self.profile.name, "seed": self.seed}

"""One login per run, shared by every test and by schemathesis's auth (renewed before `exp`).

Tests that need tokens of their own (logout, refresh reuse) log in separately through
`ApiClient.login`; every token either way is remembered so reports can be scrubbed of it.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from ..errors import LoginFailed, TargetUnreachable
from ..report.redact import redact_text
from ..target.credentials import Credentials
from ..target.session import LOGIN_PATH, Tokens, login
from .watch import TargetWatch

TOKEN_FIELDS = ("access_token", "refresh_token")


class Secrets:
    """Every string that must never reach output or reports: the password and all tokens seen."""

    def __init__(self, initial: tuple[str, ...] = ()) -> None:
        self._values: set[str] = {value for value in initial if value}
        self._lock = threading.Lock()

    def add(self, *values: str) -> None:
        with self._lock:
            self._values.update(value for value in values if value)

    def __contains__(self, value: object) -> bool:
        with self._lock:
            return value in self._values

    def add_from_body(self, body: bytes | str | None) -> None:
        """Remember the tokens a login or refresh response body carries, if it carries any."""
        try:
            parsed: Any = json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError):
            return
        if isinstance(parsed, dict):
            self.add(*(str(parsed[key]) for key in TOKEN_FIELDS if parsed.get(key)))

    def scrub(self, text: str) -> str:
        """`text` with every secret, in every form it takes once written (JSON, HTML, URL,
        Python repr), and any JWT left, replaced: the run's one scrubber, report/redact.py."""
        with self._lock:
            values = tuple(self._values)
        return redact_text(text, values)


class SharedLogin:
    """The run's login: an access token that is fresh whenever a test asks for it."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        secrets: Secrets,
        watch: TargetWatch | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url
        self.credentials = credentials
        self.secrets = secrets
        self.watch = watch or TargetWatch()
        self.timeout = timeout
        self._lock = threading.Lock()
        self._tokens: Tokens | None = None

    def start(self) -> Tokens:
        """Log in now (the preflight); raises the session module's one-line errors."""
        with self._lock:
            tokens = login(self.base_url, self.credentials, timeout=self.timeout)
            return self._keep(tokens)

    def _login(self) -> Tokens:
        """Log in again mid-run: a target that no longer answers, or no longer takes the
        credentials it took at the preflight, leaves the run unable to judge (TargetLost). An
        answer that is not a login (an HTML 502 page) stays the test's failure, named."""
        self.watch.before_request()
        try:
            tokens = login(self.base_url, self.credentials, timeout=self.timeout)
        except TargetUnreachable as exc:
            raise self.watch.lost(f"POST {LOGIN_PATH}", str(exc)) from None
        except LoginFailed as exc:
            raise self.watch.lost(
                f"POST {LOGIN_PATH}", str(exc), what="refused the credentials it took before"
            ) from None
        return self._keep(tokens)

    def adopt(self, tokens: Tokens) -> None:
        """Start from the preflight's login rather than logging in again."""
        with self._lock:
            self._keep(tokens)

    def _keep(self, tokens: Tokens) -> Tokens:
        self.secrets.add(*tokens.secrets())
        self._tokens = tokens
        return tokens

    def access_token(self) -> str:
        """A token that will not expire in the next few seconds (A4: read from its `exp`)."""
        with self._lock:
            if self._tokens is None or not self._tokens.fresh():
                self._login()
            assert self._tokens is not None
            return self._tokens.access_token

    def renew(self) -> str:
        """Log in again, after the target refused the current token (401)."""
        with self._lock:
            return self._login().access_token

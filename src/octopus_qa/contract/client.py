"""The one HTTP client every hand-written contract test goes through.

Each response is turned into a `rules.Exchange` and, unless a test opts out, judged by
`rules.cheap_response_checks` (documented status, X-Request-Id, JSON Content-Type, error
envelope, pagination arithmetic), `rules.request_checks` (what the request asked decides the
answer: authentication first, bounds of ids and bodies, unknown paths, product fields) and the
run's `rules.TokenLedger` (refresh and logout as sequences), so every test checks those rules on
every response for free.
A 429 is "retry later" (ASSUMPTIONS E4): waited for and retried by the one policy of
retry_later.py, never judged; the exchange is the final answer, judged once. A request that gets
no HTTP answer (refused, reset, past the profile's request timeout) is no rule's failure:
watch.py records that the target went away and the run stops as not judged. A second 401 right
after logging in again stops it the same way.
"""

from __future__ import annotations

import re
import shlex
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from ..rules import (
    RETRY_LATER,
    Exchange,
    RuleViolation,
    TokenLedger,
    cheap_response_checks,
    login_rejects_bad_credentials,
    request_checks,
)
from ..rules.http_layer import NO_ANSWER
from ..target.retry_later import RetryLaterPolicy
from ..target.session import LOGIN_PATH, Tokens
from .coverage import Coverage
from .exchanges import from_httpx, unanswered_httpx
from .tokens import Secrets, SharedLogin
from .watch import TargetLost, TargetWatch

#: Sentinel: use the run's shared access token.
SHARED = object()


class RetryLater(Exception):
    """The target kept answering 429; the test cannot judge anything (E4)."""


class OwnTokenRefused(Exception):
    """A test's own access token got 401 where it must work: revoked or expired early by
    someone else, which says nothing of the rule under test (ApiClient.with_own_login)."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"{operation}: 401 for the test's own access token")
        self.operation = operation


T = TypeVar("T")


class ApiClient:
    def __init__(
        self,
        base_url: str,
        shared_login: SharedLogin,
        coverage: Coverage,
        secrets: Secrets,
        retry_later: RetryLaterPolicy | None = None,
        on_exchange: Callable[[Exchange], None] | None = None,
        timeout_s: float = 10.0,
        tokens: TokenLedger | None = None,
    ) -> None:
        self.base_url = base_url
        #: The run's token lifecycle, shared with the schemathesis checks (Suite.tokens).
        self.tokens = tokens or TokenLedger()
        self.shared_login = shared_login
        self.coverage = coverage
        self.secrets = secrets
        self.retry_later = retry_later or RetryLaterPolicy()
        self.on_exchange = on_exchange
        self.watch: TargetWatch = shared_login.watch
        self.timeout_s = timeout_s
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s)
        #: The last requests sent, for the curl lines a failure report prints, and the last
        #: exchanges, for its HAR (report/har.py).
        self.recent: deque[httpx.Request] = deque(maxlen=3)
        self.answered: deque[Exchange] = deque(maxlen=3)

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        token: object = SHARED,
        authorization: str | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        check: bool = True,
        raw_target: str | None = None,
    ) -> Exchange:
        """Send one request and return the judged exchange.

        `token`: SHARED (the run's login), None (no Authorization) or an access token string;
        `authorization` sends that header value verbatim (malformed headers); `raw_target` is
        the request line's path as written (`/a//b`, `/a/../b`, `%70`), which httpx would
        otherwise normalise.
        """
        sent_headers = dict(headers or {})
        if authorization is not None:
            sent_headers["Authorization"] = authorization
        elif token is SHARED:
            sent_headers["Authorization"] = f"Bearer {self.shared_login.access_token()}"
        elif isinstance(token, str):
            sent_headers["Authorization"] = f"Bearer {token}"
        extensions = {"target": raw_target.encode()} if raw_target is not None else None
        exchange = self._send(method, path, sent_headers, params, json, content, extensions)
        if exchange.status == 401 and token is SHARED and authorization is None:
            # The shared token may have been revoked or expired early: renew once, then judge.
            sent_headers["Authorization"] = f"Bearer {self.shared_login.renew()}"
            exchange = self._send(method, path, sent_headers, params, json, content, extensions)
            if exchange.status == 401 and path.startswith("/api/"):
                raise self._fresh_token_refused(f"{method} {path}")
        self._judge(exchange, check)
        return exchange

    def _fresh_token_refused(self, operation: str) -> TargetLost:
        return self.watch.lost(
            operation,
            "401 for an access token issued a moment before; the run cannot go on",
            what="refused a freshly issued token",
        )

    def _judge(self, exchange: Exchange, check: bool) -> None:
        """The checks every exchange gets; with `check` off (a test that judges the answer
        itself) only the token ledger hears of it, so the lifecycle it tracks stays whole."""
        try:
            if check:
                cheap_response_checks(exchange)
                request_checks(exchange)
                account = self.shared_login.credentials
                login_rejects_bad_credentials(exchange, account.username, account.password)
            self.tokens.judge(exchange)
        except RuleViolation as violation:
            if not check:
                return
            violation.exchange = violation.exchange or exchange
            raise

    def _send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None,
        json: Any,
        content: bytes | str | None,
        extensions: dict[str, Any] | None = None,
    ) -> Exchange:
        def send() -> httpx.Response:
            return self._http.request(
                method,
                path,
                headers=headers,
                params=params,
                json=json,
                content=content,
                extensions=extensions,
            )

        #: An oversized request the HTTP layer closed without an answer: not the API's, not judged.
        refused_unanswered: list[Exchange] = []

        def once() -> httpx.Response:
            self.watch.before_request()
            try:
                response = send()
            except httpx.TransportError as exc:
                # Gone (TargetLost), a broken exchange (RuleViolation) or a dropped connection
                # the resend got past (watch.py).
                unanswered = unanswered_httpx(exc.request)
                answer = self.watch.no_answer(unanswered, exc, self.timeout_s, send, self.base_url)
                if answer is None:
                    refused_unanswered.append(unanswered)
                    return httpx.Response(NO_ANSWER, request=exc.request)  # no retry: not a 429
                response = answer
            self.watch.answered(f"{method} {path}", response.elapsed.total_seconds())
            return response

        # The 429s waited out are attempts, not exchanges: only the final answer is recorded
        # (coverage, the curl lines) and judged.
        response = self.retry_later.call(
            once, lambda r: r.status_code, lambda r: r.headers.get("retry-after")
        )
        if refused_unanswered:
            return refused_unanswered[-1]
        self.recent.append(response.request)
        exchange = from_httpx(response)
        self.answered.append(exchange)
        if exchange.path.startswith("/auth/"):
            self.secrets.add_from_body(exchange.body)  # login/refresh bodies carry tokens
        self.coverage.record(exchange.method, exchange.path, exchange.status)
        if self.on_exchange is not None:
            self.on_exchange(exchange)
        if exchange.status == RETRY_LATER:
            raise RetryLater(
                f"{method} {path} kept answering 429 for "
                f"{self.retry_later.total_bound_s:g} s of retries"
            )
        return exchange

    def get(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("POST", path, **kwargs)

    def login(self, body: Any = None, **kwargs: Any) -> Exchange:
        """POST /auth/login without Authorization; tokens it returns are registered as secrets."""
        if body is None:
            body = self.shared_login.credentials.as_login_body()
        kwargs.setdefault("json", body)
        exchange = self.request("POST", LOGIN_PATH, token=None, **kwargs)
        self._remember_tokens(exchange)
        return exchange

    def own_tokens(self) -> Tokens:
        """A separate login, for tests that spend or revoke their tokens."""
        exchange = self.login()
        assert exchange.status == 200, f"login for a test of its own answered {exchange.status}"
        return Tokens.from_login_body(exchange.json)

    def with_own_login(self, test: Callable[[Tokens], T], tokens: Tokens | None = None) -> T:
        """`test`, run with a login of its own (`tokens`, else a new one) under the run's one
        re-login policy, the one `request` applies to the shared token: when `test` finds its
        access token refused (`own_token_works`), revoked or expired early by someone else, it
        runs once more from a new login; refused again, a moment after that login, the target
        refuses fresh tokens and the run cannot go on (TargetLost, not judged)."""
        try:
            return test(tokens or self.own_tokens())
        except OwnTokenRefused:
            pass
        try:
            return test(self.own_tokens())
        except OwnTokenRefused as refused:
            raise self._fresh_token_refused(refused.operation) from None

    def own_token_works(self, exchange: Exchange) -> Exchange:
        """`exchange`, a request to /api/ with a test's own access token that must work, unless
        the token was refused (401): then OwnTokenRefused, for `with_own_login` to log in again.
        Any other answer is the test's to judge."""
        if exchange.status == 401 and exchange.path.startswith("/api/"):
            raise OwnTokenRefused(f"{exchange.method} {exchange.path}")
        return exchange

    def _remember_tokens(self, exchange: Exchange) -> None:
        self.secrets.add_from_body(exchange.body)

    def remember(self, exchange: Exchange) -> Exchange:
        """Register the tokens an exchange (refresh) returned, then hand it back."""
        self._remember_tokens(exchange)
        return exchange


def curl_for(request: httpx.Request, scrub: Callable[[str], str] = str) -> str:
    """A curl line repeating `request`, its bearer token read from the shell (never its value:
    `bearer_header`); `scrub` runs over every other header value and the body before they are
    shell-quoted (quoting changes how a secret is spelt, so scrubbing the finished line could
    miss it)."""
    parts = ["curl", "-i", "-X", request.method, shlex.quote(str(request.url))]
    for name, value in request.headers.multi_items():
        lowered = name.lower()
        if lowered in ("host", "accept-encoding", "connection", "user-agent", "content-length"):
            continue
        if lowered == "authorization":
            if value.startswith("Bearer "):
                parts += ["-H", bearer_header(str(request.url))]
            else:
                parts += ["-H", shlex.quote("Authorization: <malformed, as the test sent it>")]
            continue
        parts += ["-H", shlex.quote(scrub(f"{name}: {value}"))]
    body = request.content
    if body:
        parts += ["--data-binary", shlex.quote(scrub(body.decode("utf-8", "replace")))]
    return " ".join(parts)


def token_line(base_url: str) -> str:
    """The shell line that sets $OCTOPUS_TOKEN for the curl lines: `octoqa token` logs in with
    the account the suite resolved (OCTOPUS_USERNAME / OCTOPUS_PASSWORD, else the sandbox's
    demo account), so no password is written here. The assignment, not `export VAR=$(...)`,
    carries the command's exit status: a refused login stops the line with its error, non-zero."""
    return f"OCTOPUS_TOKEN=$({_token_command(base_url)}) && export OCTOPUS_TOKEN"


def bearer_header(url: str) -> str:
    """`-H` value for a pasted request to `url`, in double quotes so the shell expands it:
    $OCTOPUS_TOKEN (token_line); a refresh spends a refresh token, so it reads
    $OCTOPUS_REFRESH_TOKEN, logging in for one the first time (later lines reuse it, as a
    sequence of refreshes did); a logout revokes the token it is sent, so it logs in for its own
    rather than spend $OCTOPUS_TOKEN, which the lines after it still need."""
    path = urlsplit(url).path
    base = _base_url(url)
    if "/auth/refresh" in path:
        token = f"${{OCTOPUS_REFRESH_TOKEN:=$({_token_command(base, refresh=True)})}}"
    elif "/auth/logout" in path:
        token = f"$({_token_command(base)})"
    else:
        token = "$OCTOPUS_TOKEN"
    return f'"Authorization: Bearer {token}"'


#: How schemathesis writes the masked header in its "Reproduce with" curl line (shlex-quoted, so a
#: variable put in its place would never be expanded).
MASKED_AUTHORIZATION = "'Authorization: [Filtered]'"
_URL = re.compile(r"https?://[^\s'\"]+")


def unmask_authorization(text: str) -> str:
    """`text` with schemathesis's masked Authorization header turned into the token variables of
    `bearer_header`: in a curl line, the whole shell word is replaced (its URL, written last,
    says which token); anywhere else, the words read `Bearer $OCTOPUS_TOKEN`."""
    if MASKED_AUTHORIZATION in text:
        lines = text.splitlines(keepends=True)
        for index, line in enumerate(lines):
            urls = _URL.findall(line) if MASKED_AUTHORIZATION in line else []
            if urls:
                lines[index] = line.replace(MASKED_AUTHORIZATION, bearer_header(urls[-1]))
        text = "".join(lines)
    return text.replace("Authorization: [Filtered]", "Authorization: Bearer $OCTOPUS_TOKEN")


def _base_url(url: str) -> str:
    """The API's base URL from one of its operations' URLs (what precedes /auth/ or /api/)."""
    parts = urlsplit(url)
    prefix = re.split(r"/(?:auth|api)/", parts.path, maxsplit=1)[0]
    return f"{parts.scheme}://{parts.netloc}{prefix}"


def _token_command(base_url: str, *, refresh: bool = False) -> str:
    kind = " --refresh" if refresh else ""
    return f"octoqa token{kind} --target {shlex.quote(base_url)}"

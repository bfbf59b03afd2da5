"""The requests session schemathesis sends the property tests' cases (and its checks' probes)
through: the run's one 429 policy (retry_later.py) and its target watch (watch.py) apply there
as they do to the hand-written tests' httpx client.

Without it, schemathesis's `ignored_auth` check re-sends a case without credentials and counts a
429 to that probe as "unexpected response to a request without authentication" (issue 10).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from ..target.retry_later import RetryLaterPolicy
from .exchanges import unanswered_requests
from .watch import TargetWatch


class SuiteSession(requests.Session):
    """A requests.Session that honours 429 Retry-After and notices a target gone away."""

    def __init__(self, retry_later: RetryLaterPolicy, watch: TargetWatch, timeout_s: float):
        super().__init__()
        self.retry_later = retry_later
        self.watch = watch
        self.timeout_s = timeout_s

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        operation = f"{request.method} {urlsplit(request.url or '').path}"
        url = urlsplit(request.url or "")

        def send() -> requests.Response:
            response = super(SuiteSession, self).send(request, **kwargs)
            _ = response.content  # read it here, so a cut-off body is met here too
            return response

        def once() -> requests.Response:
            self.watch.before_request()
            try:
                response = send()
            except requests.RequestException as exc:
                # Gone (TargetLost), a broken exchange (RuleViolation) or a dropped connection
                # the resend got past (watch.py).
                answer = self.watch.no_answer(
                    unanswered_requests(request),
                    exc,
                    self.timeout_s,
                    send,
                    f"{url.scheme}://{url.netloc}",
                )
                if answer is None:  # generated requests are never oversized (http_layer.py)
                    pytest.skip(f"{operation}: the HTTP layer refused an oversized request")
                response = answer
            self.watch.answered(operation, response.elapsed.total_seconds())
            return response

        return self.retry_later.call(
            once, lambda r: r.status_code, lambda r: r.headers.get("retry-after")
        )

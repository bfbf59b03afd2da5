"""The one policy for 429 "retry later" (ASSUMPTIONS E4), for every client octoqa has.

The contract client (httpx), the property tests (schemathesis's requests transport, its probes
included) and the load users (Locust) all ask this module how long to wait and whether to try
again, so a rate-limited target gets the same answer from each: the wait its `Retry-After` asks
for, in either form RFC 9110 § 10.2.3 allows (delay-seconds or an HTTP-date), capped per wait and
bounded in total; when the bound is spent the caller gets the 429 back and says "not judged".

Written here rather than taken from tenacity or stamina: both decide *when* to retry from
exceptions and their own backoff, neither reads Retry-After, and the load users must sleep
through gevent and count the 429 apart rather than loop inside one request; what is left to
share is the parse and the bounds, which are these few lines.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

#: The status that means "retry later" (ASSUMPTIONS E4): never judged, waited for.
RETRY_LATER = 429
#: Without a usable Retry-After, back off this long.
DEFAULT_WAIT_S = 1.0

Response = TypeVar("Response")


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After value asks for (delay-seconds or HTTP-date); None if unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit() or text.replace(".", "", 1).isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is GMT; a zone-less date is read as such
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryLaterPolicy:
    """How long to honour 429s: `max_wait_s` per wait, `retries` times, `max_total_s` in all."""

    max_wait_s: float = 5.0
    retries: int = 3
    max_total_s: float | None = None

    @property
    def total_bound_s(self) -> float:
        return self.max_total_s if self.max_total_s is not None else self.max_wait_s * self.retries

    def wait_for(self, retry_after: str | None) -> float:
        """The wait for one 429: what it asks (1 s if it asks nothing readable), capped."""
        asked = retry_after_seconds(retry_after)
        return min(max(DEFAULT_WAIT_S if asked is None else asked, 0.0), self.max_wait_s)

    def call(
        self,
        send: Callable[[], Response],
        status_of: Callable[[Response], int],
        retry_after_of: Callable[[Response], str | None],
        sleep: Callable[[float], None] = time.sleep,
    ) -> Response:
        """`send()` until it answers something other than 429 or the bounds are spent; the last
        response either way (a 429 then means: could not judge)."""
        response = send()
        waited = 0.0
        for _ in range(self.retries):
            if status_of(response) != RETRY_LATER:
                return response
            remaining = self.total_bound_s - waited
            if remaining <= 0:
                break
            wait = min(self.wait_for(retry_after_of(response)), remaining)
            sleep(wait)
            waited += wait
            response = send()
        return response

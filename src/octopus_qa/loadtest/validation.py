"""Every response under load, judged by the same rule checks as the contract suite.

`send()` makes one request through a FastHttpUser's client, turns the response into an
`octopus_qa.rules.Exchange` and runs `cheap_checks` on it: `cheap_response_checks` (status,
envelope, pagination arithmetic, request id) and `cheap_request_checks` (the id and body bounds),
an answer like one that held judged by its fresh request id alone; then the scenario's
own check where it knows more (the product's denomination ranges, the list entry a detail must
match). A broken rule becomes a Locust
failure whose message starts with the rule id, so the failures table and CSV name the rule, and
the recorder counts it by the rule object itself (`RECORDER.rule_broken`): nothing parses the
message back. There is no second copy of any rule here.

A 429 is "retry later" (ASSUMPTIONS E4): it is reported under a separate request name (so it
neither counts as a failure nor bends the endpoint's percentiles) and the user sleeps for its
Retry-After before the next request.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlencode

import gevent
from locust.contrib.fasthttp import FastHttpSession

from octopus_qa.ksuids import new_ksuid
from octopus_qa.loadtest.concurrency import IN_FLIGHT
from octopus_qa.loadtest.headers import lower_headers
from octopus_qa.loadtest.recorder import RECORDER
from octopus_qa.plan.endpoints import Endpoint, rate_limited_name
from octopus_qa.rules import (
    RETRY_LATER,
    Exchange,
    RuleViolation,
    cheap_checks,
)
from octopus_qa.target.retry_later import RetryLaterPolicy

#: The suite's one 429 policy (octopus_qa/retry_later.py): a user sleeps what Retry-After asks
#: (seconds or HTTP-date), at most 30 s; the run's own time limit bounds the rest.
RETRY_POLICY = RetryLaterPolicy(max_wait_s=30.0)

#: Share of requests that carry a client trace id: those check the echo (H2), the others the
#: server's own KSUID (H3). Both branches are judged, and a KSUID is not drawn for every request.
CLIENT_TRACE_SHARE = 0.25

Judge = Callable[[Exchange], None]


class Reply(NamedTuple):
    """What a scenario learns from one request: the exchange when it was usable."""

    status: int  # 0 when no HTTP response came back (connection error, timeout)
    exchange: Exchange | None
    ok: bool  # the expected status came back and every rule held

    @property
    def json(self) -> Any:
        return self.exchange.json if self.exchange is not None else None


def send(
    client: FastHttpSession,
    endpoint: Endpoint,
    path: str,
    *,
    query: Mapping[str, str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    expect: int = 200,
    judge: Judge | None = None,
    judge_any_status: bool = False,
) -> Reply:
    """Send one request under `endpoint`'s name and judge the response by the rules.

    `judge` (the scenario's own check) runs when the expected status came back, or on every
    answer with `judge_any_status` (a check that names the rule an unexpected status breaks)."""
    request_id = new_ksuid() if random.random() < CLIENT_TRACE_SHARE else None
    if request_id is not None:
        headers = {**(headers or {}), "X-Request-Id": request_id}
    url = _url(path, tuple(query.items())) if query else path
    retry_after = None
    with (
        IN_FLIGHT.sending(endpoint.key) as in_flight,
        client.request(
            endpoint.method,
            url,
            name=endpoint.name,
            headers=headers,
            json=body,
            catch_response=True,
        ) as response,
    ):
        status = response.status_code
        if not status:
            response.failure(f"no HTTP response: {type(response.error).__name__}")
            in_flight.answered(response.request_meta["response_time"], failed=True)
            return Reply(0, None, False)
        # Positional, in the field order (method, path, status, headers, body, query, request
        # headers, request JSON): the keyword call took 0.4-0.8 µs more, on every response.
        exchange = Exchange(
            endpoint.method,
            path,
            status,
            lower_headers(response.headers),
            response.content or b"",
            query or {},
            _judged_request_headers(request_id, body, headers),
            body,
        )
        if status == RETRY_LATER:  # not booked in flight: a 429 is not the endpoint's latency
            response.request_meta["name"] = rate_limited_name(endpoint)
            response.success()
            retry_after = RETRY_POLICY.wait_for(exchange.headers.get("retry-after"))
        else:
            ok = _judge(response, exchange, expect, judge, judge_any_status)
            in_flight.answered(response.request_meta["response_time"], failed=not ok)
    if retry_after is not None:
        gevent.sleep(retry_after)
        return Reply(status, exchange, False)
    return Reply(status, exchange, ok)


@lru_cache(maxsize=4096)  # a scenario sends few distinct queries; urlencode quotes each anew
def _url(path: str, query: tuple[tuple[str, str], ...]) -> str:
    return f"{path}?{urlencode(query)}"


_JSON_BODY = {"content-type": "application/json"}  # what FastHttpSession sends with json=


def _judged_request_headers(
    request_id: str | None, body: Any, sent: Mapping[str, str] | None
) -> dict[str, str]:
    """The request headers the checks read: the trace id sent, the JSON Content-Type, and the
    Authorization header (the expiry check reads the token's `exp`)."""
    judged = dict(_JSON_BODY) if body is not None else {}
    if request_id is not None:
        judged["x-request-id"] = request_id
    if sent and "Authorization" in sent:
        judged["authorization"] = sent["Authorization"]
    return judged


def _judge(
    response: Any, exchange: Exchange, expect: int, judge: Judge | None, any_status: bool
) -> bool:
    """Mark the Locust request failed when a rule breaks or the status is not the expected one."""
    try:
        cheap_checks(exchange)
        if judge is not None and (any_status or exchange.status == expect):
            judge(exchange)
    except RuleViolation as violation:
        RECORDER.rule_broken(violation.rule)
        RECORDER.failed(exchange, str(violation))
        response.failure(str(violation))
        return False
    if exchange.status != expect:
        why = f"HTTP {exchange.status} (expected {expect})"
        RECORDER.failed(exchange, why)
        response.failure(why)
        return False
    response.success()
    return True

"""The one 429 policy (retry_later.py): Retry-After in both RFC 9110 forms, capped per wait and
bounded in total, and the last 429 handed back when the bound is spent."""

from __future__ import annotations

import email.utils
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from octopus_qa.target.retry_later import DEFAULT_WAIT_S, RetryLaterPolicy, retry_after_seconds


def test_retry_after_in_delay_seconds_is_read() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 0 ") == 0.0


def test_retry_after_as_http_date_is_read_as_seconds_from_now() -> None:
    now = 1_800_000_000.0
    value = email.utils.formatdate(now + 7, usegmt=True)
    assert retry_after_seconds(value, now=now) == pytest.approx(7, abs=1)


def test_retry_after_in_the_past_means_now() -> None:
    value = email.utils.formatdate(time.time() - 60, usegmt=True)
    assert retry_after_seconds(value) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-1", "Mon, 99 Foo 2026"])
def test_unreadable_retry_after_waits_the_default(value: str | None) -> None:
    assert RetryLaterPolicy(max_wait_s=5).wait_for(value) == DEFAULT_WAIT_S


@given(st.floats(min_value=0, max_value=10**6, allow_nan=False))
def test_one_wait_never_exceeds_the_cap(asked: float) -> None:
    assert 0 <= RetryLaterPolicy(max_wait_s=2.5).wait_for(f"{asked:f}") <= 2.5


def _answers(*statuses: int) -> tuple[list[int], object]:
    sent: list[int] = []
    queue = list(statuses)

    def send() -> int:
        sent.append(queue[0] if len(queue) == 1 else queue.pop(0))
        return sent[-1]

    return sent, send


def test_a_429_is_retried_until_an_answer_comes() -> None:
    slept: list[float] = []
    sent, send = _answers(429, 429, 200)
    policy = RetryLaterPolicy(max_wait_s=5, retries=3)
    result = policy.call(send, lambda s: s, lambda _: "2", slept.append)  # type: ignore[arg-type]
    assert result == 200 and sent == [429, 429, 200] and slept == [2.0, 2.0]


def test_total_waiting_is_bounded_and_the_last_429_comes_back() -> None:
    slept: list[float] = []
    _, send = _answers(429)
    policy = RetryLaterPolicy(max_wait_s=5, retries=10, max_total_s=7)
    result = policy.call(send, lambda s: s, lambda _: "3", slept.append)  # type: ignore[arg-type]
    assert result == 429 and sum(slept) == 7 and slept == [3.0, 3.0, 1.0]


def test_an_answer_that_is_not_429_is_not_retried() -> None:
    sent, send = _answers(500)
    RetryLaterPolicy().call(send, lambda s: s, lambda _: None, lambda _: None)  # type: ignore[arg-type]
    assert sent == [500]

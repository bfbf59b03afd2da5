"""The sandbox's chaos switches (sandbox/chaos.py) do what they say, over real HTTP, and only
after their trigger: so the suite's behaviour under each can be driven for real."""

from __future__ import annotations

import email.utils
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from octopus_qa.cli import main as octoqa
from octopus_qa.ksuids import is_ksuid
from octopus_qa.sandbox.chaos import Chaos, Trigger
from octopus_qa.sandbox.server import running_sandbox, wait_listening
from octopus_qa.target import free_port
from octopus_qa.target.credentials import Credentials
from octopus_qa.target.session import login

ACCOUNT = Credentials("chaos@octopus.example", "a chaos test password")
LIST = "/api/v1/products?limit=50"


def _client(url: str, token: str, timeout: float = 5.0) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)


def _sandbox(*specs: str, on_die: object = None) -> Any:
    kwargs: dict[str, object] = {"credentials": ACCOUNT, "chaos": Chaos.parse(specs)}
    if on_die is not None:
        kwargs["on_die"] = on_die
    return running_sandbox(**kwargs)


def test_chaos_spec_reads_counts_seconds_and_values() -> None:
    chaos = Chaos.parse(["hang-after=20s,slow-ms=300", "rate-limit=0.05, retry-after=date:2"])
    assert chaos.hang_after == Trigger(seconds=20.0)
    assert chaos.slow_ms == 300 and chaos.rate_limit == 0.05
    assert chaos.retry_after_s == 2 and chaos.retry_after_date
    assert Chaos.parse(["die-after=150"]).die_after == Trigger(count=150)
    assert not Chaos.parse([]).active


@pytest.mark.parametrize(
    "spec", ["die-after=x", "rate-limit=2", "no-such=1", "slow-ms", "retry-after=-1"]
)
def test_malformed_chaos_is_one_line_and_exit_2(
    spec: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert octoqa(["sandbox", "--chaos", spec, "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("octoqa: error: --chaos"), err


def test_list_faults_lists_the_chaos_switches(capsys: pytest.CaptureFixture[str]) -> None:
    assert octoqa(["sandbox", "--list-faults"]) == 0
    out = capsys.readouterr().out
    for switch in ("die-after", "hang-after", "rate-limit", "retry-after", "revoke-after"):
        assert f"\n{switch}=" in out


def test_html_502_starts_after_its_trigger() -> None:
    with _sandbox("html-502-after=3") as url:
        tokens = login(url, ACCOUNT)  # request 1
        with _client(url, tokens.access_token) as client:
            assert [client.get(LIST).status_code for _ in range(2)] == [200, 200]
            page = client.get(LIST)
    assert page.status_code == 502 and page.headers["content-type"].startswith("text/html")
    assert b"Bad Gateway" in page.content


def test_truncated_json_is_a_complete_message_with_half_a_body() -> None:
    with _sandbox("truncate-after=1") as url:
        tokens = login(url, ACCOUNT)
        with _client(url, tokens.access_token) as client:
            response = client.get(LIST)
    assert response.status_code == 200 and response.content
    with pytest.raises(ValueError):
        response.json()


def test_empty_body_after_trigger() -> None:
    with _sandbox("empty-after=1") as url:
        tokens = login(url, ACCOUNT)
        with _client(url, tokens.access_token) as client:
            response = client.get(LIST)
    assert response.status_code == 200 and response.content == b""


def test_reset_closes_the_connection_mid_response() -> None:
    with _sandbox("reset-after=1") as url:
        tokens = login(url, ACCOUNT)
        with _client(url, tokens.access_token) as client, pytest.raises(httpx.TransportError):
            client.get(LIST)


def test_hang_never_answers_and_a_client_timeout_ends_it() -> None:
    with _sandbox("hang-after=1") as url:
        tokens = login(url, ACCOUNT)
        started = time.monotonic()
        with _client(url, tokens.access_token, 0.5) as client, pytest.raises(httpx.ReadTimeout):
            client.get(LIST)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("form", ["1", "date:1"])
def test_rate_limit_answers_429_with_retry_after_in_both_forms(form: str) -> None:
    with _sandbox(f"rate-limit=1,retry-after={form},rate-limit-after=1") as url:
        tokens = login(url, ACCOUNT)
        with _client(url, tokens.access_token) as client:
            response = client.get(LIST)
    assert response.status_code == 429
    value = response.headers["retry-after"]
    if form == "1":
        assert value == "1"
    else:
        when = email.utils.parsedate_to_datetime(value).timestamp()
        assert 0 < when - time.time() <= 3


def test_revoke_refuses_old_tokens_once_and_new_logins_work() -> None:
    """Exactly the tokens issued before the revocation are refused, also those of its own
    second (iat has whole seconds: the sandbox notes which it issued), and one issued right after
    it works: a test can place the revocation between two requests by their count."""
    with _sandbox("revoke-after=2") as url:
        old = login(url, ACCOUNT)  # 1
        with _client(url, old.access_token) as client:
            assert client.get(LIST).status_code == 200  # 2
            assert client.get(LIST).status_code == 401  # 3: revoked
        new = login(url, ACCOUNT)
        with _client(url, new.access_token) as client:
            assert client.get(LIST).status_code == 200
            assert client.get(LIST).status_code == 200  # once: nothing revoked again


def test_refuse_tokens_refuses_fresh_tokens_too() -> None:
    with _sandbox("refuse-tokens-after=1") as url:
        login(url, ACCOUNT)
        fresh = login(url, ACCOUNT)  # logins still work
        with _client(url, fresh.access_token) as client:
            refused = client.get(LIST)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "UNAUTHORIZED"
    # The API's own 401, as far as the contract goes: it carries a fresh request id (H1, H3).
    assert is_ksuid(refused.headers.get("x-request-id", ""))


def test_slow_delays_answers_after_its_trigger() -> None:
    with _sandbox("slow-ms=400,slow-after=1") as url:
        tokens = login(url, ACCOUNT)
        with _client(url, tokens.access_token) as client:
            started = time.monotonic()
            assert client.get(LIST).status_code == 200
    assert time.monotonic() - started >= 0.4


def test_die_after_kills_the_sandbox_process() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "octopus_qa", "sandbox", "--port", str(port)]
        + ["--chaos", "die-after=2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, process, 30)  # a bare connection is no request
        url = f"http://127.0.0.1:{port}"
        for _ in range(2):
            assert httpx.get(url + "/openapi.yaml", timeout=5).status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(url + "/openapi.yaml", timeout=5)
        assert process.wait(10) == -signal.SIGKILL
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

"""The sandbox over real HTTP: `running_sandbox` (uvicorn in a thread) and `octoqa sandbox`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from octopus_qa.cli import main as octoqa
from octopus_qa.errors import TargetUnreachable
from octopus_qa.rules import Exchange, cheap_response_checks, lower_headers
from octopus_qa.sandbox import server
from octopus_qa.sandbox.faults import FAULTS
from octopus_qa.sandbox.readings import READINGS
from octopus_qa.sandbox.server import running_sandbox
from octopus_qa.target import free_port
from octopus_qa.target.credentials import DEMO_PASSWORD, DEMO_USERNAME, Credentials
from octopus_qa.target.session import login


def exchange_of(response: httpx.Response) -> Exchange:
    return Exchange(
        method=response.request.method,
        path=response.request.url.path,
        status=response.status_code,
        headers=lower_headers(response.headers.multi_items()),
        body=response.content,
        query=dict(response.request.url.params),
        request_headers=lower_headers(response.request.headers.multi_items()),
    )


def test_running_sandbox_serves_the_api_over_loopback() -> None:
    credentials = Credentials("server@octopus.example", "a server test password")
    with running_sandbox(credentials=credentials, seed=3) as url:
        assert url.startswith("http://127.0.0.1:")
        tokens = login(url, credentials)
        headers = {"Authorization": f"Bearer {tokens.access_token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=5) as client:
            for path in ("/api/v1/products?limit=20&page=3", "/api/v1/products/1001", "/api/v1/x"):
                cheap_response_checks(exchange_of(client.get(path)))
            empty = client.post("/auth/logout")
            assert empty.status_code == 204 and empty.content == b""
        port = int(url.rsplit(":", 1)[1])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # stopped: nothing listens any more


def test_running_sandbox_passes_faults_through() -> None:
    with running_sandbox(faults=["unknown-path-400"]) as url:
        assert httpx.get(f"{url}/nothing-here", timeout=5).status_code == 400


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_running_sandbox_serves_on_either_http_parser(http: str) -> None:
    """The parser is uvicorn's, not the app's: a megabyte header line is the tell (h11 refuses
    it with a plain 400 and closes, often before the client has finished sending, which the
    client sees as a reset; httptools hands it to the app, whose token check answers 401)."""
    megabyte = {"Authorization": "Bearer " + "A" * 1_000_000}
    with running_sandbox(http=http) as url:
        assert httpx.get(f"{url}/nothing-here", timeout=5).status_code == 404
        try:
            answer: httpx.Response | None = httpx.get(
                f"{url}/api/v1/products", headers=megabyte, timeout=5
            )
        except httpx.TransportError:
            answer = None
        assert httpx.get(f"{url}/nothing-here", timeout=5).status_code == 404
    if http == "h11":
        assert answer is None or (
            answer.status_code == 400 and "x-request-id" not in answer.headers
        )
    else:
        assert answer is not None and answer.status_code == 401, answer
        assert "x-request-id" in answer.headers


def test_running_sandbox_refuses_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(Exception, match="cannot listen"), running_sandbox(port=port):
            pass


# --- octoqa sandbox ---------------------------------------------------------------------------


def test_list_faults_names_each_fault_and_its_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert octoqa(["sandbox", "--list-faults"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:3] for line in out.splitlines()[1:] if line.strip()}
    for fault in FAULTS.values():
        # The rule (or "slo:..." for a performance fault) and the profile that catches it.
        assert rows[fault.name] == [fault.breaks, fault.profile]


def test_list_readings_names_each_reading_and_its_question(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert octoqa(["sandbox", "--list-readings"]) == 0
    out = capsys.readouterr().out
    for reading in READINGS.values():
        assert reading.name in out and reading.ambiguity in out


@pytest.mark.parametrize(
    "arguments, complaint",
    [
        (["--fault", "no-such-fault"], "unknown fault 'no-such-fault'"),
        (["--reading", "lenient"], "unknown reading 'lenient'"),
        (["--latency-ms", "-1"], "--latency-ms must be ≥ 0"),
        (["--latency-ms", "soon"], "--latency-ms must be a number"),
        (["--error-rate", "1.5"], "--error-rate must be from 0 to 1"),
        (["--error-rate", "nan"], "--error-rate must be from 0 to 1"),
        (["--token-ttl", "0"], "--token-ttl must be > 0"),
        (["--port", "70000"], "--port must be from 0 to 65535"),
        (["--port", "http"], "--port must be an integer"),
        (["--seed", "1.5"], "--seed must be an integer"),
        (["--host", "0.0.0.0"], "refusing to listen on non-loopback '0.0.0.0'"),
        (["--host", "example.com"], "refusing to listen on non-loopback"),
        (["--max-rps", "0"], "--max-rps: '0': give a rate above 0"),
        (["--max-rps", "lots"], "--max-rps: 'lots' is not a number"),
        (["--http", "h2"], "--http must be one of auto, h11, httptools, got 'h2'"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], arguments: list[str], complaint: str
) -> None:
    assert octoqa(["sandbox", *arguments]) == 2
    err = capsys.readouterr().err
    assert complaint in err and err.count("\n") == 1


def test_port_in_use_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        assert octoqa(["sandbox", "--port", str(taken.getsockname()[1])]) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def _start_cli(env: dict[str, str]) -> tuple[subprocess.Popen[str], str, str]:
    """Start `octoqa sandbox --port 0`; return the process, its URL and its whole banner."""
    process = subprocess.Popen(
        [sys.executable, "-m", "octopus_qa", "sandbox", "--port", "0", "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    banner = []
    for line in process.stdout:  # bounded: the banner ends with "Ctrl-C to stop"
        banner.append(line)
        if "Ctrl-C" in line or len(banner) > 10:
            break
    text = "".join(banner)
    if "sandbox on http://" not in text:
        process.kill()
        pytest.fail(f"no banner: {text!r} {process.communicate(timeout=10)}")
    return process, text.split(" on ", 1)[1].split()[0], text


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_cli_serves_until_stopped_and_never_prints_a_configured_password(
    stop: signal.Signals,
) -> None:
    env = dict(os.environ, OCTOPUS_USERNAME="ops@example.com", OCTOPUS_PASSWORD="s3cret-pass")
    process, url, banner = _start_cli(env)
    try:
        tokens = login(url, Credentials("ops@example.com", "s3cret-pass"))
        assert tokens.fresh()
    finally:
        process.send_signal(stop)
        out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "s3cret-pass" not in banner + out + err
    assert "password from OCTOPUS_PASSWORD" in banner and "stopped" in err


def test_cli_shows_the_public_demo_password_only() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTOPUS_")}
    process, url, banner = _start_cli(env)
    try:
        assert login(url, Credentials(DEMO_USERNAME, DEMO_PASSWORD)).fresh()
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert DEMO_PASSWORD in banner and DEMO_USERNAME in banner and "stopped" in err


def test_a_capped_sandbox_serves_its_known_capacity_and_queues_the_rest() -> None:
    """`--max-rps N` (delays.RateCap): a server whose capacity is known, for testing the
    capacity search. 60 requests at once against a cap of 40 a second take at least the 1.5 s
    the cap needs, every one answered: queued, not refused."""
    import asyncio
    import time

    from octopus_qa.sandbox.delays import RateCap

    async def burst(url: str, count: int) -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            answers = await asyncio.gather(*(client.get("/openapi.yaml") for _ in range(count)))
        return [answer.status_code for answer in answers]

    with running_sandbox(rate_cap=RateCap(40)) as url:
        started = time.monotonic()
        statuses = asyncio.run(burst(url, 60))
        elapsed = time.monotonic() - started
    assert statuses == [200] * 60
    assert elapsed >= 59 / 40, f"60 requests through a cap of 40/s in {elapsed:.2f} s"


def test_a_server_process_whose_port_was_taken_first_starts_again_on_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A port found free can be taken before the server binds it (tests in parallel start
    servers all the time): the block gets a server of its own on another port, never the
    process that took the port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        ports = iter([taken_port])
        monkeypatch.setattr(server, "free_port", lambda: next(ports, None) or free_port())
        with server.sandbox_process() as url:
            assert not url.endswith(f":{taken_port}")
            assert httpx.get(f"{url}/api/v1/products", timeout=10).status_code == 401


def test_a_server_process_is_ready_when_it_listens_itself_not_when_the_port_answers() -> None:
    """Another process listening on the port does not make the one being started ready."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            with pytest.raises(TargetUnreachable, match="nothing listened"):
                server.wait_listening(port, idle, timeout=1.0)
        finally:
            idle.kill()
            idle.wait()

"""A target the suite cannot test ends the run before any test: one clear line on stderr, exit code
2, well under 15 s, no traceback. Unreachable, refused credentials, HTML, garbage."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from contract_runs import run_contract, sandbox, stderr_lines

from octopus_qa.target import free_port

PREFLIGHT_BUDGET_S = 15.0


def _answering(body: bytes, content_type: str) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            del format, args

    return Handler


@contextmanager
def impostor(body: bytes, content_type: str) -> Iterator[str]:
    """A loopback HTTP server that answers every request with `body`."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _answering(body, content_type))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _assert_one_clear_line(result: object, *words: str) -> None:
    lines = stderr_lines(result)  # type: ignore[arg-type]
    assert result.exit_code == 2, f"exit {result.exit_code}; stderr: {lines}"  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("octoqa: error: "), lines
    assert "Traceback" not in result.stderr + result.stdout  # type: ignore[attr-defined]
    assert all(word in lines[0] for word in words), lines[0]
    assert result.duration_s < PREFLIGHT_BUDGET_S, f"took {result.duration_s:.1f} s"  # type: ignore[attr-defined]


def test_unreachable_target_is_one_line_and_exit_2(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    _assert_one_clear_line(run_contract(tmp_path, "--target", url, "--profile", "quick"), "reach")


def test_wrong_credentials_are_one_line_and_exit_2(tmp_path: Path) -> None:
    with sandbox() as url:
        result = run_contract(
            tmp_path,
            "--target",
            url,
            "--profile",
            "quick",
            env={"OCTOPUS_PASSWORD": "certainly-not-the-password"},
        )
    _assert_one_clear_line(result, "refused")
    assert "certainly-not-the-password" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "body,content_type",
    [
        (b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>", "text/html"),
        (b"\x89PNG\r\n\x1a\n\x00\x00garbage", "application/octet-stream"),
        (b'{"access_token": 42}', "application/json"),
    ],
    ids=["html", "garbage", "json-without-a-token"],
)
def test_target_that_is_not_the_api_is_one_line_and_exit_2(
    tmp_path: Path, body: bytes, content_type: str
) -> None:
    with impostor(body, content_type) as url:
        result = run_contract(tmp_path, "--target", url, "--profile", "quick")
    _assert_one_clear_line(result, "does not look like")


def test_malformed_target_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    _assert_one_clear_line(run_contract(tmp_path, "--target", "ftp://example"), "not an http")


def test_plain_pytest_preflight_exits_2_too(tmp_path: Path) -> None:
    """`pytest contract_tests --target URL` stops in pytest_sessionstart with exit code 2."""
    import subprocess
    import sys

    from contract_runs import REPO_ROOT

    url = f"http://127.0.0.1:{free_port()}"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "contract_tests",
            "--target",
            url,
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert completed.returncode == 2, completed.stdout[-1000:] + completed.stderr[-1000:]
    assert "Traceback" not in completed.stderr
    assert "octoqa: error: cannot reach" in completed.stderr

"""A request that gets no answer (contract/watch.py): a lost target, a dropped connection the
resend gets past, a broken exchange, or an oversized request the HTTP layer closed. Each against
a real server on loopback (uvicorn with h11), each connection really dropped."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from octopus_qa.contract.exchanges import unanswered_httpx
from octopus_qa.contract.watch import TargetLost, TargetWatch
from octopus_qa.rules import RuleViolation
from octopus_qa.sandbox.server import running_sandbox
from octopus_qa.target.credentials import Credentials
from octopus_qa.target.ports import free_port
from octopus_qa.target.session import login


class DropsFirstTries:
    """An ASGI app that closes the connection without an answer on the first `drops` requests
    to each path under /api/ (a header uvicorn refuses to write), then answers 200; any other
    path (the probe's) is answered at once."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.seen: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        count = self.seen[scope["path"]] = self.seen.get(scope["path"], 0) + 1
        headers = [(b"content-type", b"application/json")]
        if count <= self.drops and scope["path"].startswith("/api/"):
            headers.append((b"x-broken", b"line\nbreak"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"[]"})


@pytest.fixture
def serve() -> Iterator[Callable[[DropsFirstTries], str]]:
    """Serve an app with uvicorn-h11 on loopback for the test; yields a function of the app."""
    with contextlib.ExitStack() as stack:
        yield lambda app: stack.enter_context(running_sandbox(app=app, http="h11"))


def _no_answer(watch: TargetWatch, url: str, path: str, **request: object) -> object:
    with httpx.Client(base_url=url, timeout=5) as client:

        def send() -> httpx.Response:
            return client.get(path, **request)  # type: ignore[arg-type]

        try:
            send()
        except httpx.TransportError as error:
            return watch.no_answer(unanswered_httpx(error.request), error, 5, send, url)
    raise AssertionError(f"GET {path} was answered the first time")


def test_a_connection_dropped_once_is_resent_and_its_answer_kept(serve: Callable) -> None:
    url = serve(DropsFirstTries(drops=1))
    answer = _no_answer(watch := TargetWatch(), url, "/api/v1/products", headers=TOKEN)
    assert isinstance(answer, httpx.Response) and answer.status_code == 200
    assert watch.loss is None


#: A token of JWT shape: whether it is valid is the server's to know, so no rule decides a 401.
TOKEN = {"Authorization": "Bearer a.b.c"}


def test_a_request_never_answered_while_others_are_is_a_broken_exchange(serve: Callable) -> None:
    url = serve(DropsFirstTries(drops=2))
    with pytest.raises(RuleViolation) as broken:
        _no_answer(watch := TargetWatch(), url, "/api/v1/products", headers=TOKEN)
    assert broken.value.rule.id == "documented-status-codes"
    assert "answered a probe" in str(broken.value) and watch.loss is None


def test_the_rule_the_request_decides_is_the_one_broken(serve: Callable) -> None:
    """GET of the id `abc` must be refused (400, P1): no answer at all breaks product-id-bounds."""
    url = serve(DropsFirstTries(drops=2))
    with pytest.raises(RuleViolation) as broken:
        _no_answer(TargetWatch(), url, "/api/v1/products/abc", headers=TOKEN)
    assert broken.value.rule.id == "product-id-bounds", str(broken.value)


def test_an_oversized_request_closed_unanswered_is_the_layers_refusal(serve: Callable) -> None:
    url = serve(DropsFirstTries(drops=1))
    pad = {**TOKEN, "X-Pad": "p" * 9000}
    assert _no_answer(watch := TargetWatch(), url, "/api/v1/products", headers=pad) is None
    assert watch.loss is None


def test_a_target_that_answers_no_probe_is_lost() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens
    with pytest.raises(TargetLost, match="went away.*connection refused"):
        _no_answer(watch := TargetWatch(), url, "/api/v1/products")
    assert watch.loss is not None
    with pytest.raises(TargetLost):
        watch.before_request()  # every later request stops at once


def test_the_fault_sandbox_drops_only_the_multi_line_sort() -> None:
    """sort-echo-drops-connection, behind h11: the multi-line sort is a broken exchange, the
    compact one is answered."""
    with running_sandbox(http="h11", faults=["sort-echo-drops-connection"]) as url:
        token = login(url, Credentials.from_env()).access_token
        auth = {"Authorization": f"Bearer {token}"}
        compact = httpx.get(
            f"{url}/api/v1/products", params={"sort": '{"field":"id"}'}, headers=auth, timeout=5
        )
        assert compact.status_code == 200
        sort = json.dumps({"field": "name", "direction": "ASC"}, indent=2)
        with pytest.raises(RuleViolation, match="documented-status-codes"):
            _no_answer(TargetWatch(), url, "/api/v1/products", params={"sort": sort}, headers=auth)

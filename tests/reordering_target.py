"""A target whose listing answers differ for the same request: the sandbox's API, with every
second answer to the same small listing request turned around.

The load suite remembers pages that held (`loadtest/judged_once.py`). This target serves, for
each distinct listing request with a limit of at most 100 (the browsers' pages; crawlers' pages
are not ordered-checked under load), first the sandbox's page as it is, then the same page with
its items reversed, then as it is, and so on: the second answer is byte-different from a page
that already held under the very same request, and out of order whatever the sort (reversed
only when its first and last items differ in id and in casefolded name). It counts the pages it
reversed and serves the count at GET /__reversed, outside the API's paths.

Not part of the package: tests/test_load_runs.py starts it in a process of its own,

    python tests/reordering_target.py --port 8081

and stops it with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from octopus_qa.sandbox.app import create_app

LIST_PATH = "/api/v1/products"
#: Pages at most this long are browsed (load/locustfile.py BROWSE_LIMITS, the default 50).
BROWSED_LIMIT = 100


class ReversingEverySecondPage:
    """ASGI middleware: the app's listing pages, every second one per request reversed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.answers: Counter[bytes] = Counter()
        self.reversed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/__reversed":
            await _send_json(send, {"reversed": self.reversed})
            return
        if scope["type"] != "http" or scope["path"] != LIST_PATH or not _browsed(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, keep)
        start, body = messages[0], b"".join(m.get("body", b"") for m in messages[1:])
        if start["status"] == 200:
            self.answers[scope["query_string"]] += 1
            if self.answers[scope["query_string"]] % 2 == 0:
                body = self._reversed(body)
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _reversed(self, body: bytes) -> bytes:
        items = json.loads(body)
        first, last = (items[0], items[-1]) if len(items) > 1 else (None, None)
        if first is None or first["id"] == last["id"]:
            return body
        if str(first["name"]).casefold() == str(last["name"]).casefold():
            return body
        self.reversed += 1
        return json.dumps(items[::-1]).encode()


def _browsed(scope: Scope) -> bool:
    query = dict(
        pair.split("=", 1) for pair in scope["query_string"].decode().split("&") if "=" in pair
    )
    limit = query.get("limit", "50")
    return limit.isdigit() and int(limit) <= BROWSED_LIMIT


async def _send_json(send: Send, value: Any) -> None:
    body = json.dumps(value).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = ReversingEverySecondPage(create_app())
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

"""A target on another HTTP stack: the sandbox's API served through aiohttp's own server.

aiohttp parses every request itself (its C parser, or the Python one) and refuses what it will
not read before any handler runs: a header line over 8 KB (`max_field_size` 8190), a request
line over 8 KB (`max_line_size`), a body over `client_max_size` (1 MB) when it is read. What it
accepts is handed, as an ASGI scope, to a fresh sandbox app (`create_app`), so the API, its data
and its rules are the sandbox's and only the layer in front differs, as it does between a
developer's machine and a deployment behind another server.

Not part of the package: tests/test_contract_other_stacks.py starts it in a process of its own,

    python tests/aiohttp_target.py --port 8081 [--seed 0] [--fault NAME]

and stops it with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict
from starlette.types import ASGIApp, Message

from octopus_qa.sandbox.app import create_app

#: Response headers aiohttp writes itself from the body it is given.
_COMPUTED = {"content-length", "transfer-encoding", "connection"}


def asgi_scope(request: web.BaseRequest) -> dict[str, Any]:
    """The ASGI scope of an aiohttp request, as uvicorn builds it: the request target as sent
    (raw_path), its path percent-decoded, the headers as raw bytes in their order."""
    raw_path, _, query = request.raw_path.partition("?")
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": f"{request.version.major}.{request.version.minor}",
        "method": request.method,
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": [(name.lower(), value) for name, value in request.raw_headers],
        "client": tuple(peer[:2]) if peer else None,
        "server": None,
    }


class AsgiHandler:
    """aiohttp's low-level handler: each request it parsed, run through the ASGI app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()  # aiohttp's own body limit (client_max_size) applies here
        delivered = False
        start: Message = {}
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # nothing more arrives: the app never waits for it
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        await self.app(asgi_scope(request), receive, send)
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in start.get("headers", ()):
            if name.decode("latin-1").lower() not in _COMPUTED:
                headers.add(name.decode("latin-1"), value.decode("latin-1"))
        return web.Response(status=int(start["status"]), body=b"".join(chunks), headers=headers)


async def serve(port: int, app: ASGIApp) -> None:
    runner = web.ServerRunner(web.Server(AsgiHandler(app)), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fault", action="append", default=[])
    args = parser.parse_args()
    app = create_app(seed=args.seed, faults=args.fault)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, app))


if __name__ == "__main__":
    main()

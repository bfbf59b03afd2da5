"""A small synchronous client for the sandbox app, answering with `rules.Exchange` objects.

httpx's ASGITransport runs the ASGI app in-process (no sockets), on an event loop this client
owns, so tests stay plain synchronous functions (no async plugin) and the rule checks of
`octopus_qa.rules` judge exactly what a remote client would see. (Starlette's own TestClient is
deprecated with httpx in Starlette 1.x.)
"""

from __future__ import annotations

import asyncio
from functools import cached_property
from typing import Any

import httpx
from starlette.applications import Starlette

from octopus_qa.rules import Exchange, lower_headers
from octopus_qa.target.credentials import Credentials

TEST_CREDENTIALS = Credentials("qa@octopus.example", "correct horse battery staple")
#: `token=LOGIN` (the default) sends the access token of one login made on first use.
LOGIN = object()


class Api:
    def __init__(self, app: Starlette, credentials: Credentials) -> None:
        self.app = app
        self.credentials = credentials
        self._loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://sandbox.test",
        )

    def close(self) -> None:
        self._loop.run_until_complete(self.client.aclose())
        self._loop.close()

    def login(self, **body: Any) -> Exchange:
        """POST /auth/login with the account's credentials, or with `body` when given."""
        return self.call(
            "POST", "/auth/login", token=None, json=body or self.credentials.as_login_body()
        )

    @cached_property
    def tokens(self) -> dict[str, Any]:
        exchange = self.login()
        assert exchange.status == 200, exchange.body
        return dict(exchange.json)

    @property
    def token(self) -> str:
        return str(self.tokens["access_token"])

    def call(
        self,
        method: str,
        path: str,
        *,
        token: Any = LOGIN,
        params: dict[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Exchange:
        """One request; `token` is LOGIN (the default), a token string, or None (no header)."""
        sent = dict(headers or {})
        if token is LOGIN:
            token = self.token
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        response = self._loop.run_until_complete(
            self.client.request(
                method, path, params=params, json=json, content=content, headers=sent
            )
        )
        return self._exchange(method, response, params, json)

    def concurrently(self, requests: list[dict[str, Any]]) -> list[Exchange]:
        """GET /api/v1/products once per entry (`params`, `headers`), all in flight together."""
        sent = {"Authorization": f"Bearer {self.token}"}

        async def burst() -> list[httpx.Response]:
            return list(
                await asyncio.gather(
                    *(
                        self.client.get(
                            "/api/v1/products",
                            params=request.get("params"),
                            headers={**sent, **request.get("headers", {})},
                        )
                        for request in requests
                    )
                )
            )

        responses = self._loop.run_until_complete(burst())
        return [
            self._exchange("GET", response, request.get("params"), None)
            for request, response in zip(requests, responses, strict=True)
        ]

    @staticmethod
    def _exchange(
        method: str, response: httpx.Response, params: dict[str, str] | None, json: Any
    ) -> Exchange:
        return Exchange(
            method=method,
            path=response.request.url.path,
            status=response.status_code,
            headers=lower_headers(response.headers.multi_items()),
            body=response.content,
            query=dict(params or {}),
            request_headers=lower_headers(response.request.headers.multi_items()),
            request_json=json,
        )

    def statuses_at_once(self, method: str, path: str, tokens: list[str]) -> list[int]:
        """Send one request per token concurrently (on the app's event loop): their statuses."""

        async def all_at_once() -> list[int]:
            responses = await asyncio.gather(
                *(
                    self.client.request(method, path, headers={"Authorization": f"Bearer {t}"})
                    for t in tokens
                )
            )
            return [response.status_code for response in responses]

        return self._loop.run_until_complete(all_at_once())

    def get(self, path: str, **kwargs: Any) -> Exchange:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Exchange:
        return self.call("POST", path, **kwargs)

    def products(
        self, *, headers: dict[str, str] | None = None, token: Any = LOGIN, **params: str
    ) -> Exchange:
        """GET /api/v1/products with these query parameters."""
        return self.get("/api/v1/products", params=params, headers=headers, token=token)

    def availability(self, product_id: Any, body: Any) -> Exchange:
        return self.post(f"/api/v1/products/{product_id}/availability", json=body)

"""The documented operations: one method each, over one catalog and one token authority.

Each reads its request (validation.py), answers from the catalog or the token authority, and
renders the answer. `EndpointSeams` names the few steps a planted fault (sandbox/faults/) may
take otherwise: which products a listing selects and how a page is cut, counted and rendered, how
a product, an availability or a token body is written, which error a failure becomes. The
defaults are the documents' answers, picked once when the app is built.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .auth import IssuedTokens, TokenAuthority, bearer_token
from .catalog import Catalog, Product
from .middleware import UNAUTHORIZED_MESSAGE
from .responses import ApiError, ErrorBody, RawHeaders, error_body, json_response
from .settings import Settings
from .validation import (
    InputSeams,
    ListQuery,
    parse_availability,
    parse_list_query,
    parse_login,
    parse_product_id,
    parse_query,
    read_json_body,
)

AVAILABLE = {True: b'{"is_available":true}', False: b'{"is_available":false}'}


# --- The documents' answers, as seams -----------------------------------------------------------


def validated(request: Request) -> None:
    """Nothing is owed once a request is read: A6 checked its token before anything else."""


def select_products(catalog: Catalog, query: ListQuery) -> Sequence[Product]:
    """L5, L6: the products matching every filter exactly, in the order asked for."""
    return catalog.query(
        category=query.category,
        country=query.country,
        currency=query.currency,
        sort_field=query.sort_field,
        descending=query.descending,
    )


async def listing_total(total: int) -> int:
    """The count the headers report: the listing's own."""
    return total


def pagination_headers(page: int, limit: int, total: int) -> RawHeaders:
    """The six headers of getting-started.txt § Response Headers, with L2's arithmetic."""
    pages = -(-total // limit)
    size = max(0, min(limit, total - (page - 1) * limit))
    return [
        (b"x-page", b"%d" % page),
        (b"x-per-page", b"%d" % limit),
        (b"x-total-count", b"%d" % total),
        (b"x-total-pages", b"%d" % pages),
        (b"x-page-size", b"%d" % size),
        (b"x-has-more", b"true" if page < pages else b"false"),
    ]


def page_items(products: Sequence[Product], page: int, limit: int) -> Sequence[Product]:
    """L1, L3: page `page` (1-based) of `limit` items; past the end, none."""
    start = (page - 1) * limit
    return products[start : start + limit]


def render_listing(catalog: Catalog, items: Sequence[Product]) -> bytes:
    return catalog.items_json(items)


def render_detail(catalog: Catalog, product: Product) -> bytes:
    return catalog.detail_json(product)


def product_not_found(product_id: int) -> ApiError:
    return ApiError(404, "Product not found")


def is_available(catalog: Catalog, product: Product, denomination: float, quantity: int) -> bool:
    return catalog.is_available(product, denomination, quantity)


def availability_body(available: bool) -> bytes:
    return AVAILABLE[available]


def token_body(issued: IssuedTokens, refreshed: bool) -> dict[str, Any]:
    """A1/A2: the same body for a login and a refresh."""
    return {
        "access_token": issued.access_token,
        "refresh_token": issued.refresh_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "expires_at": issued.expires_at,
    }


def malformed_login(problem: ApiError) -> ApiError:
    """A login body that is not {username, password} as strings is the client's error (400)."""
    return problem


async def refresh_tokens(tokens: TokenAuthority, token: str) -> IssuedTokens | None:
    return tokens.refresh(token)


Handler = Callable[[Request], Awaitable[Response]]


async def serve(operation: str, request: Request, handler: Handler) -> Response:
    """How an operation is served: at once, whatever else is in flight (no document limits
    concurrency). The default is never called: `Endpoints.routes` routes straight to the
    handler unless a fault planted another `serve` (a lock, failures under load)."""
    return await handler(request)


def routing_status(status: int) -> int:
    """E2, E4: a path with no operation is a 404, a known path called with another method too
    (405 is undocumented); anything else the router raises is the request's fault (400)."""
    if status in (404, 405):
        return 404
    return status if status in (400, 401, 500) else 400


@dataclass
class EndpointSeams:
    """Where the operations can be planted otherwise; the defaults keep the documents."""

    validated: Callable[[Request], None] = validated
    select_products: Callable[[Catalog, ListQuery], Sequence[Product]] = select_products
    listing_total: Callable[[int], Awaitable[int]] = listing_total
    pagination_headers: Callable[[int, int, int], RawHeaders] = pagination_headers
    page_items: Callable[[Sequence[Product], int, int], Sequence[Product]] = page_items
    render_listing: Callable[[Catalog, Sequence[Product]], bytes] = render_listing
    render_detail: Callable[[Catalog, Product], bytes] = render_detail
    product_not_found: Callable[[int], ApiError] = product_not_found
    is_available: Callable[[Catalog, Product, float, int], bool] = is_available
    availability_body: Callable[[bool], bytes] = availability_body
    token_body: Callable[[IssuedTokens, bool], dict[str, Any]] = token_body
    malformed_login: Callable[[ApiError], ApiError] = malformed_login
    refresh_tokens: Callable[[TokenAuthority, str], Awaitable[IssuedTokens | None]] = refresh_tokens
    routing_status: Callable[[int], int] = routing_status
    #: Around every operation (its name: list, detail, availability, login, refresh, logout).
    serve: Callable[[str, Request, Handler], Awaitable[Response]] = serve


# --- The operations -----------------------------------------------------------------------------


class Endpoints:
    """The documented operations, one method each, over one catalog and one token authority."""

    def __init__(
        self,
        catalog: Catalog,
        tokens: TokenAuthority,
        config: Settings,
        *,
        inputs: InputSeams | None = None,
        seams: EndpointSeams | None = None,
        error_body: ErrorBody = error_body,
    ) -> None:
        self.catalog = catalog
        self.tokens = tokens
        self.config = config
        self.inputs = inputs or InputSeams()
        self.seams = seams or EndpointSeams()
        self.error_body = error_body
        self._sortable = frozenset(catalog.sortable_fields)

    def routes(self) -> list[Route]:
        # The hot path first: Starlette tries routes in order.
        served = self._served
        return [
            Route("/api/v1/products", served("list", self.list_products), methods=["GET"]),
            Route(
                "/api/v1/products/{product_id}", served("detail", self.get_product), methods=["GET"]
            ),
            Route(
                "/api/v1/products/{product_id}/availability",
                served("availability", self.check_availability),
                methods=["POST"],
            ),
            Route("/auth/login", served("login", self.login), methods=["POST"]),
            Route("/auth/refresh", served("refresh", self.refresh), methods=["POST"]),
            Route("/auth/logout", served("logout", self.logout), methods=["POST"]),
        ]

    def _served(self, operation: str, handler: Handler) -> Handler:
        """The handler, through the `serve` seam only when a fault planted one (a clean
        sandbox pays nothing per request for it)."""
        planted = self.seams.serve
        if planted is serve:
            return handler

        async def through_seam(request: Request) -> Response:
            return await planted(operation, request, handler)

        return through_seam

    # --- Authentication (A1-A3) ---------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        body = await read_json_body(request, self.config.max_body_bytes, self.inputs)
        try:
            username, password = parse_login(body, self.inputs)
        except ApiError as problem:
            raise self.seams.malformed_login(problem) from None
        if not self.tokens.credentials_match(username, password):
            raise ApiError(401, "Invalid username or password")
        return self._token_response(self.tokens.login(username), refreshed=False)

    async def refresh(self, request: Request) -> Response:
        body_problem = await self._optional_body_problem(request)
        token = bearer_token(request.headers.get("authorization"))
        # A6 before E3: a bad token is a 401 whatever the body; the token is used up last.
        if token is None or not self.tokens.can_refresh(token):
            raise ApiError(401, "Invalid, used or expired refresh token")
        if body_problem is not None:
            raise body_problem
        issued = await self.seams.refresh_tokens(self.tokens, token)
        if issued is None:
            raise ApiError(401, "Invalid, used or expired refresh token")
        return self._token_response(issued, refreshed=True)

    async def logout(self, request: Request) -> Response:
        body_problem = await self._optional_body_problem(request)
        token = bearer_token(request.headers.get("authorization"))
        claims = self.tokens.authenticate(token) if token is not None else None
        if claims is None:
            raise ApiError(401, UNAUTHORIZED_MESSAGE)
        if body_problem is not None:
            raise body_problem
        self.tokens.logout(claims)
        return Response(status_code=204)

    async def _optional_body_problem(self, request: Request) -> ApiError | None:
        """A2/A3 take no body; one that is sent must still be JSON (E3), reported after A6."""
        try:
            await read_json_body(request, self.config.max_body_bytes, self.inputs, optional=True)
        except ApiError as problem:
            return problem
        return None

    def _token_response(self, issued: IssuedTokens, *, refreshed: bool) -> Response:
        return json_response(json.dumps(self.seams.token_body(issued, refreshed)).encode())

    # --- Products -----------------------------------------------------------------------------

    async def list_products(self, request: Request) -> Response:
        params = parse_query(request.scope["query_string"], self.config.max_query_bytes)
        query = parse_list_query(params, self.config, self._sortable, self.inputs)
        seams = self.seams
        seams.validated(request)
        products = seams.select_products(self.catalog, query)
        total = await seams.listing_total(len(products))
        headers = seams.pagination_headers(query.page, query.limit, total)
        items = seams.page_items(products, query.page, query.limit)
        return json_response(seams.render_listing(self.catalog, items), headers=headers)

    async def get_product(self, request: Request) -> Response:
        product_id = parse_product_id(request.path_params["product_id"], self.inputs)
        self.seams.validated(request)
        product = self._product(product_id)
        return json_response(self.seams.render_detail(self.catalog, product))

    async def check_availability(self, request: Request) -> Response:
        product_id = parse_product_id(request.path_params["product_id"], self.inputs)
        body = await read_json_body(request, self.config.max_body_bytes, self.inputs)
        query = parse_availability(body, self.config, self.inputs)
        self.seams.validated(request)
        product = self._product(product_id)
        available = self.seams.is_available(
            self.catalog, product, query.denomination, query.quantity
        )
        return json_response(self.seams.availability_body(available))

    def _product(self, product_id: int) -> Product:
        product = self.catalog.get(product_id)
        if product is None:
            raise self.seams.product_not_found(product_id)
        return product

    # --- Errors (E1, E2, E4) ------------------------------------------------------------------

    async def on_api_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return json_response(self.error_body(exc.status, exc.message), exc.status)

    async def on_http_exception(self, request: Request, exc: Exception) -> Response:
        """Starlette's own 404/405 pages, as the envelope (see `routing_status`)."""
        assert isinstance(exc, HTTPException)
        status = self.seams.routing_status(exc.status_code)
        if exc.status_code in (404, 405):
            message = f"No operation {request.method} {request.url.path[:200]}"
        else:
            message = exc.detail
        return json_response(self.error_body(status, message), status)

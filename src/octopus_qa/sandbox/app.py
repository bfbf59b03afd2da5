"""The sandbox app: the Octopus Cards API as the documents and ASSUMPTIONS.md describe it.

`create_app(...)` builds a fresh Starlette app per call; tokens, sessions and revocations live on
that instance, so tests and embedded runs never share state. The only thing shared per process is
the catalog for a seed, which is immutable data (and costs ~0.4 s to draw).

Fault hooks (`if "name" in self.faults`) sit where each rule is kept; the clean path checks a
precomputed flag at most, so it costs nothing measurable.
"""

from __future__ import annotations

import asyncio
import json
import random
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from itertools import groupby
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import spec
from ..target.credentials import Credentials
from .auth import IssuedTokens, TokenAuthority, bearer_token
from .catalog import Catalog, Product, build_catalog
from .chaos import Chaos, ChaosMiddleware, kill_this_process
from .delays import DelayMiddleware, Freeze, LatencyDistribution
from .faults import FAULTS, unknown_faults
from .middleware import (
    DEFERRED_401,
    UNAUTHORIZED_MESSAGE,
    BearerAuthMiddleware,
    RequestContextMiddleware,
)
from .readings import READINGS, unknown_readings
from .responses import ApiError, RawHeaders, error_response, json_response
from .settings import Settings, settings
from .validation import (
    ListQuery,
    parse_availability,
    parse_list_query,
    parse_login,
    parse_product_id,
    parse_query,
    read_json_body,
)

__all__ = ["create_app"]

YAML_MEDIA_TYPE = "application/yaml"
#: How long the refresh-race-double-spend fault waits between checking a refresh token and
#: spending it: long enough for simultaneous refreshes to overlap, too short to notice alone.
RACE_WINDOW_S = 0.05
AVAILABLE = {True: b'{"is_available":true}', False: b'{"is_available":false}'}

#: Faults that change which products a listing selects, or how a page is cut and rendered:
#: with none of them on, the hot path is catalog.query + catalog.page_json.
_SELECT_FAULTS = frozenset(
    {
        "sort-ignored",
        "filter-case-insensitive",
        "filters-or-combined",
        "name-sort-accent-folded",
        "name-sort-ties-unstable",
    }
)
_PAGE_FAULTS = frozenset(
    {
        "page-zero-accepted",
        "page-overlap",
        "past-last-page-repeats",
        "product-field-missing",
        "denomination-range-inverted",
        "deep-pages-clamped",
    }
)
_DETAIL_FAULTS = frozenset(
    {
        "product-field-missing",
        "denomination-range-inverted",
        "details-differ-from-list",
        "detail-name-decomposed",
        "detail-stale-for-some",
    }
)
#: The deep-pages-clamped fault's "max result window".
_RESULT_WINDOW = 10_000


@lru_cache(maxsize=4)
def catalog_for_seed(seed: int) -> Catalog:
    """The catalog of a seed, drawn once per process: it is immutable, and the contract suite
    starts many sandboxes."""
    return build_catalog(seed)


def create_app(
    *,
    seed: int = 0,
    token_ttl: float = 900.0,
    faults: Iterable[str] = (),
    latency_ms: float = 0,
    error_rate: float = 0.0,
    credentials: Credentials | None = None,
    latency_dist: LatencyDistribution | None = None,
    freeze: Freeze | None = None,
    chaos: Chaos | None = None,
    on_die: Callable[[], None] = kill_this_process,
    readings: Iterable[str] = (),
) -> Starlette:
    """A fresh sandbox app. Unknown fault or reading names, or impossible numbers, are a
    ValueError. `readings` answer otherwise where the documents do not decide (not faults).

    `latency_dist` and `freeze` are the load-timing switches of `delays.py` (no rule breaks).
    `chaos` (chaos.py) makes it misbehave after a while; `on_die` is what `die-after` does
    (kill this process: only right where the sandbox has a process of its own).
    """
    fault_set = frozenset(faults)
    if unknown := unknown_faults(sorted(fault_set)):
        raise ValueError(f"unknown fault(s): {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    reading_set = frozenset(readings)
    if unknown := unknown_readings(sorted(reading_set)):
        raise ValueError(f"unknown reading(s): {', '.join(unknown)}; known: {', '.join(READINGS)}")
    if token_ttl <= 0 or latency_ms < 0 or not 0.0 <= error_rate <= 1.0:
        raise ValueError("token_ttl must be > 0, latency_ms ≥ 0 and error_rate within 0..1")
    config = settings()
    tokens = TokenAuthority(
        credentials or Credentials.from_env(),
        access_ttl=token_ttl,
        refresh_ttl=config.refresh_ttl_seconds,
        cache_entries=config.verified_cache_entries,
        max_sessions=config.max_sessions,
        faults=fault_set,
    )
    endpoints = Endpoints(catalog_for_seed(seed), tokens, fault_set, config, reading_set)
    app = Starlette(
        routes=endpoints.routes(),
        middleware=[
            *(
                [Middleware(ChaosMiddleware, chaos=chaos, seed=seed, die=on_die)]
                if chaos is not None and chaos.active
                else []
            ),
            *(
                [Middleware(DelayMiddleware, distribution=latency_dist, freeze=freeze, seed=seed)]
                if latency_dist is not None or freeze is not None
                else []
            ),
            Middleware(
                RequestContextMiddleware,
                faults=fault_set,
                latency_ms=latency_ms,
                error_rate=error_rate,
                seed=seed,
            ),
            Middleware(BearerAuthMiddleware, tokens=tokens, faults=fault_set),
        ],
        exception_handlers={
            ApiError: endpoints.on_api_error,
            HTTPException: endpoints.on_http_exception,
        },
    )
    # "/api/v1/products/" is no operation: a 404, not a 307 redirect (E2, E4).
    app.router.redirect_slashes = False
    app.state.tokens = tokens
    app.state.faults = fault_set
    app.state.readings = reading_set
    app.state.catalog = endpoints.catalog
    return app


def pagination_headers(page: int, limit: int, total: int, faults: frozenset[str]) -> RawHeaders:
    """The six headers of getting-started.txt § Response Headers, with L2's arithmetic."""
    pages = -(-total // limit)
    size = max(0, min(limit, total - (page - 1) * limit))
    shown_pages = pages + 1 if "total-pages-off-by-one" in faults else pages
    headers = [
        (b"x-page", b"%d" % page),
        (b"x-per-page", b"%d" % limit),
        (b"x-total-count", b"%d" % total),
        (b"x-total-pages", b"%d" % shown_pages),
        (b"x-page-size", b"%d" % size),
    ]
    has_more = page < pages
    if "has-more-on-full-last-page" in faults:
        has_more = page * limit <= total and total > 0
    if "pagination-headers-missing" not in faults:
        headers.append((b"x-has-more", b"true" if has_more else b"false"))
    return headers


class Endpoints:
    """The documented operations, one method each, over one catalog and one token authority."""

    def __init__(
        self,
        catalog: Catalog,
        tokens: TokenAuthority,
        faults: frozenset[str],
        config: Settings,
        readings: frozenset[str] = frozenset(),
    ) -> None:
        self.catalog = catalog
        self.tokens = tokens
        self.faults = faults
        self.config = config
        self.readings = readings
        self._sortable = frozenset(catalog.sortable_fields)
        self._flat_errors = "error-envelope-flat" in faults
        self._select_faults = bool(faults & _SELECT_FAULTS)
        self._page_faults = bool(faults & _PAGE_FAULTS)
        self._detail_faults = bool(faults & _DETAIL_FAULTS)
        self._auth_deferred = "validation-before-auth" in faults
        #: Draws for the name-sort-ties-unstable fault: another tie order on every request.
        self._tie_random = random.Random(0)
        self._total_races = "total-count-races" in faults
        self._last_total = 0

    def routes(self) -> list[Route]:
        # The hot path first: Starlette tries routes in order.
        return [
            Route("/api/v1/products", self.list_products, methods=["GET"]),
            Route("/api/v1/products/{product_id}", self.get_product, methods=["GET"]),
            Route(
                "/api/v1/products/{product_id}/availability",
                self.check_availability,
                methods=["POST"],
            ),
            Route("/auth/login", self.login, methods=["POST"]),
            Route("/auth/refresh", self.refresh, methods=["POST"]),
            Route("/auth/logout", self.logout, methods=["POST"]),
            Route("/openapi.yaml", self.openapi_document, methods=["GET"]),
        ]

    # --- Authentication (A1-A3) ---------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        body = await read_json_body(
            request, self.config.max_body_bytes, self.faults, readings=self.readings
        )
        try:
            username, password = parse_login(body, self.readings)
        except ApiError:
            if "login-malformed-body-500" in self.faults:
                raise ApiError(500, "Failed to log in") from None
            raise
        if not self.tokens.credentials_match(username, password):
            raise ApiError(401, "Invalid username or password")
        return self._token_response(self.tokens.login(username))

    async def refresh(self, request: Request) -> Response:
        body_problem = await self._optional_body_problem(request)
        token = bearer_token(request.headers.get("authorization"))
        # A6 before E3: a bad token is a 401 whatever the body; the token is used up last.
        if token is None or not self.tokens.can_refresh(token):
            raise ApiError(401, "Invalid, used or expired refresh token")
        if body_problem is not None:
            raise body_problem
        if "refresh-race-double-spend" in self.faults:
            spend = self.tokens.refresh_without_recheck(token)
            await asyncio.sleep(RACE_WINDOW_S)  # the "database round trip" between check and use
            issued = spend() if spend is not None else None
        else:
            issued = self.tokens.refresh(token)
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
            await read_json_body(request, self.config.max_body_bytes, self.faults, optional=True)
        except ApiError as problem:
            return problem
        return None

    def _token_response(self, issued: IssuedTokens, *, refreshed: bool = False) -> Response:
        body: dict[str, Any] = {
            "access_token": issued.access_token,
            "refresh_token": issued.refresh_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "expires_at": issued.expires_at,
        }
        if self.faults:
            if "login-broken" in self.faults:
                del body["token_type"]
            if refreshed and "refresh-expires-at-naive" in self.faults:
                # Planted bug: the refresh path formats a naive datetime (ISO 8601, no offset).
                body["expires_at"] = _naive_iso(issued.expires)
            if "access-token-exp-mismatch" in self.faults:
                later = IssuedTokens("", "", issued.expires + 3600, issued.issued)
                body["expires_in"], body["expires_at"] = later.expires_in, later.expires_at
        return json_response(json.dumps(body).encode())

    def _deferred_auth(self, request: Request) -> None:
        """Only the validation-before-auth fault gets here with a 401 still owed."""
        if self._auth_deferred and DEFERRED_401 in request.scope:
            raise ApiError(401, request.scope[DEFERRED_401])

    # --- Products -----------------------------------------------------------------------------

    async def list_products(self, request: Request) -> Response:
        params = parse_query(request.scope["query_string"], self.config.max_query_bytes)
        query = parse_list_query(params, self.config, self._sortable, self.faults, self.readings)
        self._deferred_auth(request)
        products = self._select(query)
        total = len(products)
        if self._total_races:
            # The planted race: the count goes through one attribute shared by every request,
            # with an await (a metrics call, say) between writing it and reading it back.
            self._last_total = total
            await asyncio.sleep(0.002)
            total = self._last_total
        headers = pagination_headers(query.page, query.limit, total, self.faults)
        if self._page_faults:
            body = self._tampered_page(products, query)
        else:
            body = self.catalog.page_json(products, query.page, query.limit)
        return json_response(body, headers=headers)

    def _select(self, query: ListQuery) -> Sequence[Product]:
        if self._select_faults:
            return self._faulty_select(query)
        return self.catalog.query(
            category=query.category,
            country=query.country,
            currency=query.currency,
            sort_field=query.sort_field,
            descending=query.descending,
        )

    def _faulty_select(self, query: ListQuery) -> Sequence[Product]:
        """The listing as the selection faults choose and order it (slow path, faults only)."""
        field, descending = query.sort_field, query.descending
        if "sort-ignored" in self.faults and query.sorted_explicitly:
            field, descending = "id", True
        everything = self.catalog.query(sort_field=field, descending=descending)
        given = [value for value in (query.category, query.country, query.currency) if value]
        products: Sequence[Product]
        if "filter-case-insensitive" in self.faults:
            return _casefold_filtered(everything, query)
        if "filters-or-combined" in self.faults and len(given) >= 2:
            products = _any_filter_matches(everything, query)
        else:
            products = self.catalog.query(
                category=query.category,
                country=query.country,
                currency=query.currency,
                sort_field=field,
                descending=descending,
            )
        if field == "name" and "name-sort-accent-folded" in self.faults:
            products = sorted(products, key=lambda p: _accent_folded(p.name), reverse=descending)
        if field == "name" and "name-sort-ties-unstable" in self.faults:
            products = _shuffled_ties(products, self._tie_random)
        return products

    def _tampered_page(self, products: Sequence[Product], query: ListQuery) -> bytes:
        """The page as the page faults cut and render it (slow path, faults only)."""
        start = max(0, (query.page - 1) * query.limit)
        size = max(0, min(query.limit, len(products) - start))  # what X-Page-Size promises
        if "page-overlap" in self.faults and query.page > 1:
            start -= 1  # repeat the previous page's last item, keeping the promised size
        if "deep-pages-clamped" in self.faults and start + query.limit > _RESULT_WINDOW:
            start = max(0, _RESULT_WINDOW - query.limit)
        chunk = products[start : start + size]
        if not chunk and products and "past-last-page-repeats" in self.faults:
            last_start = (len(products) - 1) // query.limit * query.limit
            chunk = products[last_start : last_start + query.limit]
        entries = [self._tampered(product.list_entry()) for product in chunk]
        return json.dumps(entries, ensure_ascii=False).encode()

    def _tampered(self, entry: dict[str, Any]) -> dict[str, Any]:
        if "product-field-missing" in self.faults:
            entry.pop("sub_category", None)
        if "denomination-range-inverted" in self.faults:
            entry["available_denominations"] = [
                {**r, "min_value": r["max_value"], "max_value": r["min_value"]}
                for r in entry["available_denominations"]
            ]
        return entry

    async def get_product(self, request: Request) -> Response:
        product_id = parse_product_id(request.path_params["product_id"], self.faults, self.readings)
        self._deferred_auth(request)
        product = self._product(product_id)
        if not self._detail_faults:
            return json_response(self.catalog.detail_json(product))
        entry = self._tampered(product.detail())
        if "details-differ-from-list" in self.faults:
            entry["delivery_time"] = f"{entry['delivery_time']} (estimated)"
        if "detail-name-decomposed" in self.faults:
            entry["name"] = unicodedata.normalize("NFD", entry["name"])
        if "detail-stale-for-some" in self.faults and product.id % 499 == 7:
            first = entry["available_denominations"][0]
            first["discount"] = round(first["discount"] + 0.5, 1)
        return json_response(json.dumps(entry, ensure_ascii=False).encode())

    async def check_availability(self, request: Request) -> Response:
        product_id = parse_product_id(request.path_params["product_id"], self.faults, self.readings)
        body = await read_json_body(
            request, self.config.max_body_bytes, self.faults, readings=self.readings
        )
        query = parse_availability(body, self.config, self.faults, self.readings)
        self._deferred_auth(request)
        product = self._product(product_id)
        available = self.catalog.is_available(product, query.denomination, query.quantity)
        if self.faults:
            if "available-outside-range" in self.faults:
                available = True
            if "availability-string" in self.faults:
                text = "yes" if available else "no"
                return json_response(json.dumps({"is_available": text}).encode())
        return json_response(AVAILABLE[available])

    def _product(self, product_id: int) -> Product:
        product = self.catalog.get(product_id)
        if product is None:
            if "unknown-product-500" in self.faults:
                raise ApiError(500, "Failed to retrieve product")
            raise ApiError(404, "Product not found")
        return product

    # --- The contract itself ------------------------------------------------------------------

    async def openapi_document(self, request: Request) -> Response:
        """The hand-written spec, read per request (it may be edited while the sandbox runs)."""
        try:
            document = spec.SPEC_PATH.read_bytes()
        except FileNotFoundError:
            raise ApiError(404, "The OpenAPI document is not available in this checkout") from None
        return Response(document, media_type=YAML_MEDIA_TYPE)

    # --- Errors (E1, E2, E4) ------------------------------------------------------------------

    async def on_api_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.message, flat=self._flat_errors)

    async def on_http_exception(self, request: Request, exc: Exception) -> Response:
        """Starlette's own 404/405 pages, as the envelope: no operation → 404 (E2); a known
        path with another method is no operation either (405 is undocumented, E4)."""
        assert isinstance(exc, HTTPException)
        operation = f"{request.method} {request.url.path[:200]}"
        status = exc.status_code
        if status == 405 and "method-not-allowed-405" not in self.faults:
            status = 404
        elif status == 404 and "unknown-path-400" in self.faults:
            status = 400
        elif status not in (400, 401, 404, 405, 500):
            status = 400
        message = f"No operation {operation}" if exc.status_code in (404, 405) else exc.detail
        return error_response(status, message, flat=self._flat_errors)


def _naive_iso(timestamp: float) -> str:
    """What `datetime.utcfromtimestamp(t).isoformat()` writes: parseable, but no RFC 3339."""
    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None).isoformat()


def _casefold_filtered(products: Sequence[Product], query: ListQuery) -> tuple[Product, ...]:
    """The filter-case-insensitive fault's matching (L6 says exact)."""
    wanted = [
        (attribute, value.casefold())
        for attribute, value in (
            ("category", query.category),
            ("country_code", query.country),
            ("currency_code", query.currency),
        )
        if value is not None
    ]
    return tuple(p for p in products if all(getattr(p, a).casefold() == v for a, v in wanted))


def _any_filter_matches(products: Sequence[Product], query: ListQuery) -> tuple[Product, ...]:
    """The filters-or-combined fault's matching: any given filter suffices (L6 says all)."""
    return tuple(
        p
        for p in products
        if p.category == query.category
        or p.country_code == query.country
        or p.currency_code == query.currency
    )


@lru_cache(maxsize=32_768)  # names come from the catalog, not from requests
def _accent_folded(name: str) -> str:
    """The name-sort-accent-folded fault's key: accents stripped, then casefolded."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _shuffled_ties(products: Sequence[Product], draw: random.Random) -> list[Product]:
    """The name-sort-ties-unstable fault: each run of equal (casefold) names reshuffled."""
    result: list[Product] = []
    for _, run in groupby(products, key=lambda p: p.name.casefold()):
        group = list(run)
        draw.shuffle(group)
        result.extend(group)
    return result

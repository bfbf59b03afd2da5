"""The sandbox app: the Octopus Cards API as the documents and ASSUMPTIONS.md describe it.

`create_app(...)` builds a fresh Starlette app per call; tokens, sessions and revocations live on
that instance, so tests and embedded runs never share state. The only thing shared per process is
the catalog for a seed, which is immutable data (and costs ~0.4 s to draw).

The chosen faults and readings are planted into the app's seams (seams.py) here, once: each part
is handed its functions, and a clean app runs the documents' answers with nothing to dispatch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import spec
from ..target.credentials import Credentials
from .auth import TokenAuthority
from .catalog import Catalog, build_catalog
from .chaos import Chaos, ChaosMiddleware, kill_this_process
from .delays import DelayMiddleware, Freeze, LatencyDistribution, RateCap, RateCapMiddleware
from .endpoints import Endpoints
from .faults import FAULTS, unknown_faults
from .middleware import BearerAuthMiddleware, RequestContextMiddleware
from .readings import READINGS, unknown_readings
from .responses import ApiError
from .seams import Seams
from .settings import settings

__all__ = ["create_app"]

YAML_MEDIA_TYPE = "application/yaml"


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
    rate_cap: RateCap | None = None,
) -> Starlette:
    """A fresh sandbox app. Unknown fault or reading names, or impossible numbers, are a
    ValueError. `readings` answer otherwise where the documents do not decide (not faults).

    `latency_dist` and `freeze` are the load-timing switches of `delays.py` (no rule breaks).
    `rate_cap` queues what exceeds a known capacity (delays.py). `chaos` (chaos.py) makes it
    misbehave after a while; `on_die` is what `die-after` does
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
    seams = planted_seams(fault_set, reading_set, seed)
    config = settings()
    tokens = TokenAuthority(
        credentials or Credentials.from_env(),
        access_ttl=token_ttl,
        refresh_ttl=config.refresh_ttl_seconds,
        cache_entries=config.verified_cache_entries,
        max_sessions=config.max_sessions,
        seams=seams.tokens,
    )
    endpoints = Endpoints(
        catalog_for_seed(seed),
        tokens,
        config,
        inputs=seams.inputs,
        seams=seams.endpoints,
        error_body=seams.error_body,
    )
    app = Starlette(
        routes=[*endpoints.routes(), Route("/openapi.yaml", openapi_document, methods=["GET"])],
        middleware=[
            *([Middleware(RateCapMiddleware, cap=rate_cap)] if rate_cap is not None else []),
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
                seams=seams.gate,
                error_body=seams.error_body,
                latency_ms=latency_ms,
                error_rate=error_rate,
                seed=seed,
            ),
            Middleware(
                BearerAuthMiddleware, tokens=tokens, seams=seams.gate, error_body=seams.error_body
            ),
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


def planted_seams(faults: frozenset[str], readings: frozenset[str], seed: int) -> Seams:
    """Fresh seams with the readings, then the faults, planted in catalogue order (so a
    combination plants the same way every time)."""
    seams = Seams(seed=seed)
    for reading in READINGS.values():
        if reading.name in readings:
            reading.plant(seams)
    for fault in FAULTS.values():
        if fault.name in faults:
            fault.plant(seams)
    return seams


async def openapi_document(request: Request) -> Response:
    """The hand-written spec, read per request (it may be edited while the sandbox runs)."""
    try:
        document = spec.SPEC_PATH.read_bytes()
    except FileNotFoundError:
        raise ApiError(404, "The OpenAPI document is not available in this checkout") from None
    return Response(document, media_type=YAML_MEDIA_TYPE)

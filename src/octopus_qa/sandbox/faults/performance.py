"""Performance faults: they break a service level, not a documented rule (no document limits
how many requests may be in flight), so the contract suite cannot catch them and is not asked
to. A load or capacity run must: loadtest/bottleneck.py names them from each endpoint's latency
and failures against its own concurrency (tests/test_load_bottleneck.py). Both are the faults an
independent implementation showed in issue 19: one request at a time they look fine.
"""

from __future__ import annotations

import asyncio
import random

from starlette.requests import Request
from starlette.responses import Response

from ..endpoints import Handler
from ..responses import ApiError
from ..seams import Seams
from .catalogue import Catalogue

catalogue = Catalogue()

#: How long the availability check holds its one global lock (a connection pool of one).
LOCK_HOLD_S = 0.040
#: Listings fail on this share of requests ...
FAILING_SHARE = 0.03
#: ... once more than this many requests are in flight (every operation counted).
IN_FLIGHT_LIMIT = 6
#: What every product operation of the failing server spends in its backend: with answers in a
#: millisecond, 6 in flight only come at rates beyond what a small machine's generator sends.
BACKEND_S = 0.050
PRODUCT_OPERATIONS = frozenset({"list", "detail", "availability"})


@catalogue.performance_fault(
    "availability-serialised",
    "availability-latency",
    "The availability check holds one global lock for 40 ms (a connection pool of one): alone "
    "it answers in 40 ms, under concurrency each request waits for every one before it.",
)
def availability_serialised(seams: Seams) -> None:
    lock = asyncio.Lock()  # one per app: the fault's state is its app's alone
    serve = seams.endpoints.serve

    async def serialised(operation: str, request: Request, handler: Handler) -> Response:
        if operation == "availability":
            async with lock:
                await asyncio.sleep(LOCK_HOLD_S)
        return await serve(operation, request, handler)

    seams.endpoints.serve = serialised


@catalogue.performance_fault(
    "listings-fail-under-load",
    "list-error-rate",
    "Every product operation spends 50 ms in a backend, and listings answer 500 on 3 % of requests "
    "once more than 6 requests are in flight (a pool that overflows).",
)
def listings_fail_under_load(seams: Seams) -> None:
    draw = random.Random(seams.seed).random
    serve = seams.endpoints.serve
    in_flight = 0

    async def overflowing(operation: str, request: Request, handler: Handler) -> Response:
        nonlocal in_flight
        in_flight += 1
        try:
            # The pool is full when the request comes in: it fails after its backend call.
            overflow = in_flight > IN_FLIGHT_LIMIT
            if operation in PRODUCT_OPERATIONS:
                await asyncio.sleep(BACKEND_S)
            if operation == "list" and overflow and draw() < FAILING_SHARE:
                raise ApiError(500, "Internal server error")
            return await serve(operation, request, handler)
        finally:
            in_flight -= 1

    seams.endpoints.serve = overflowing

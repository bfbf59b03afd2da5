"""The seams: the few places where the sandbox may answer otherwise than the documents say.

Each part of the sandbox declares its own, with the documents' answer as the default:
`validation.InputSeams` (bounds, defaults, how numbers, sort objects and bodies are read),
`auth.TokenSeams` (passwords, expiry, signatures, the refresh and logout steps),
`middleware.GateSeams` (request ids, response headers, the token check) and
`endpoints.EndpointSeams` (selection, paging, rendering, error statuses). A planted fault
(sandbox/faults/) or another reading (sandbox/readings.py) plants itself by replacing or wrapping
one or a few of them. `create_app` plants the chosen ones into a fresh `Seams` and hands each part
its own functions, once: a clean sandbox calls the defaults, with nothing to dispatch per request
or per item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .auth import TokenSeams
from .endpoints import EndpointSeams
from .middleware import GateSeams
from .responses import ErrorBody, error_body
from .validation import InputSeams


@dataclass
class Seams:
    """Every seam of one app, grouped by the part that calls it."""

    #: The app's seed, for faults that draw at random (each draws the same on every run).
    seed: int = 0
    #: E1: how an error becomes its body, for the routes and the middleware alike.
    error_body: ErrorBody = error_body
    inputs: InputSeams = field(default_factory=InputSeams)
    tokens: TokenSeams = field(default_factory=TokenSeams)
    gate: GateSeams = field(default_factory=GateSeams)
    endpoints: EndpointSeams = field(default_factory=EndpointSeams)


#: What a fault or a reading does to the seams of the app it is planted in (called once per app,
#: so any state it keeps, a counter or a random draw, belongs to that app alone).
Plant = Callable[[Seams], None]

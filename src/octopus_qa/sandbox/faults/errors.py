"""Faults of the error answers and of what a request body must be (E1-E4)."""

from __future__ import annotations

import json
from dataclasses import replace

from ..seams import Seams
from .catalogue import Catalogue

catalogue = Catalogue()


@catalogue.fault(
    "error-envelope-flat",
    "error-envelope",
    'Error bodies are flat: {"message": ...} instead of {"error": {name, code, message}}.',
)
def error_envelope_flat(seams: Seams) -> None:
    seams.error_body = lambda status, message: json.dumps({"message": message}).encode()


@catalogue.fault(
    "unknown-path-400",
    "unknown-path-404",
    "A path that matches no operation → 400 BadRequestError instead of 404.",
)
def unknown_path_400(seams: Seams) -> None:
    status = seams.endpoints.routing_status
    seams.endpoints.routing_status = lambda raised: 400 if raised == 404 else status(raised)


@catalogue.fault(
    "post-any-content-type",
    "post-requires-json",
    "POST bodies are parsed as JSON whatever their Content-Type (text/plain accepted).",
)
def post_any_content_type(seams: Seams) -> None:
    seams.inputs.sends_json = lambda content_type: True


@catalogue.fault(
    "method-not-allowed-405",
    "documented-status-codes",
    "A documented path called with another method → 405 (undocumented) instead of 404.",
)
def method_not_allowed_405(seams: Seams) -> None:
    status = seams.endpoints.routing_status
    seams.endpoints.routing_status = lambda raised: 405 if raised == 405 else status(raised)


@catalogue.fault(
    "nan-literal-accepted",
    "post-requires-json",
    "Bodies are parsed leniently: NaN, Infinity and -Infinity (not JSON) are read as numbers "
    "(a NaN denomination slips past every bound → 200); strict JSON is unaffected.",
)
def nan_literal_accepted(seams: Seams) -> None:
    # Python's json defaults: NaN and Infinity as floats, and no range check on numbers.
    seams.inputs.body_json = replace(
        seams.inputs.body_json, parse_constant=float, parse_float=float
    )

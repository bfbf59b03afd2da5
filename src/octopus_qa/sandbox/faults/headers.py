"""Faults of the response headers: X-Request-Id (H1-H3) and the JSON Content-Type (H4)."""

from __future__ import annotations

import asyncio
import random
import uuid

from ..responses import RawHeaders
from ..seams import Seams
from .catalogue import Catalogue

catalogue = Catalogue()

#: The await between setting a shared attribute and reading it back (an audit-log write, say):
#: long enough for requests in flight together to overlap.
SHARED_WRITE_S = 0.002


@catalogue.fault(
    "request-id-missing",
    "request-id-present",
    "Responses carry no X-Request-Id.",
)
def request_id_missing(seams: Seams) -> None:
    async def no_request_id(sent: str | None) -> bytes | None:
        return None

    seams.gate.request_id = no_request_id


@catalogue.fault(
    "request-id-not-echoed",
    "request-id-echoed",
    "A valid KSUID sent in X-Request-Id is replaced by a fresh one.",
)
def request_id_not_echoed(seams: Seams) -> None:
    request_id = seams.gate.request_id

    async def always_fresh(sent: str | None) -> bytes | None:
        return await request_id(None)

    seams.gate.request_id = always_fresh


@catalogue.fault(
    "request-id-not-ksuid",
    "request-id-generated",
    "Server-generated request ids are UUIDs, not KSUIDs.",
)
def request_id_not_ksuid(seams: Seams) -> None:
    request_id = seams.gate.request_id

    async def generated_as_uuid(sent: str | None) -> bytes | None:
        answer = await request_id(sent)
        if sent is not None and answer == sent.encode():
            return answer  # echoed: only the ids the server makes up are wrong
        return str(uuid.uuid4()).encode()

    seams.gate.request_id = generated_as_uuid


@catalogue.fault(
    "request-id-invalid-echoed",
    "request-id-invalid-replaced",
    "Any X-Request-Id is echoed, KSUID or not.",
)
def request_id_invalid_echoed(seams: Seams) -> None:
    request_id = seams.gate.request_id

    async def echo_anything(sent: str | None) -> bytes | None:
        return sent.encode("latin-1") if sent is not None else await request_id(sent)

    seams.gate.request_id = echo_anything


@catalogue.fault(
    "content-type-text-plain",
    "json-content-type",
    "JSON bodies are served as Content-Type: text/plain.",
)
def content_type_text_plain(seams: Seams) -> None:
    response_headers = seams.gate.response_headers

    def as_text(headers: RawHeaders, request_id: bytes | None) -> RawHeaders:
        return [
            (name, b"text/plain; charset=utf-8" if name == b"content-type" else value)
            for name, value in response_headers(headers, request_id)
        ]

    seams.gate.response_headers = as_text


@catalogue.fault(
    "request-id-sometimes-missing",
    "request-id-present",
    "About 3 % of responses (any endpoint, errors included) carry no X-Request-Id.",
)
def request_id_sometimes_missing(seams: Seams) -> None:
    request_id, draw = seams.gate.request_id, random.Random(seams.seed + 1).random

    async def dropped_now_and_then(sent: str | None) -> bytes | None:
        answer = await request_id(sent)
        return None if draw() < 0.03 else answer

    seams.gate.request_id = dropped_now_and_then


@catalogue.fault(
    "request-id-sometimes-repeated",
    "request-id-generated",
    "Every 25th server-generated X-Request-Id repeats the one before (a racy last-id "
    "cache): each id is a valid KSUID, they are just not fresh.",
)
def request_id_sometimes_repeated(seams: Seams) -> None:
    request_id = seams.gate.request_id
    generated, last_generated = 0, None

    async def from_a_stale_cache(sent: str | None) -> bytes | None:
        nonlocal generated, last_generated
        answer = await request_id(sent)
        if sent is not None and answer == sent.encode():
            return answer  # echoed, not generated
        generated += 1
        if generated % 25 == 0 and last_generated is not None:
            return last_generated
        last_generated = answer
        return answer

    seams.gate.request_id = from_a_stale_cache


@catalogue.fault(
    "request-id-shared-buffer",
    "request-id-echoed",
    "The request id is kept in one attribute shared by all requests, set on arrival and read "
    "when the response starts, with an await between: requests in flight together get each "
    "other's ids. Sequential requests are answered right.",
)
def request_id_shared_buffer(seams: Seams) -> None:
    request_id, response_headers = seams.gate.request_id, seams.gate.response_headers
    current: bytes | None = None  # one attribute for every request in flight

    async def kept_in_shared_attribute(sent: str | None) -> bytes | None:
        nonlocal current
        answer = current = await request_id(sent)
        await asyncio.sleep(SHARED_WRITE_S)  # the audit-log write before the response
        return answer

    def read_back_from_shared_attribute(headers: RawHeaders, own: bytes | None) -> RawHeaders:
        return response_headers(headers, current)

    seams.gate.request_id = kept_in_shared_attribute
    seams.gate.response_headers = read_back_from_shared_attribute

"""What the sandbox sends: JSON bytes with the right headers, and the documented error envelope.

Written by hand from products-api.txt § Error Handling and ASSUMPTIONS E1, not shared with the
checks in octopus_qa.rules: the contract suite must test the sandbox, not agree with it by
construction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from starlette.responses import Response
from starlette.types import Send

JSON_MEDIA_TYPE = "application/json"
RawHeaders = list[tuple[bytes, bytes]]
#: How an error's status and message become its body (a seam: see sandbox/seams.py).
ErrorBody = Callable[[int, str], bytes]

#: E1: the name/code pair the documents show for each status the sandbox sends.
ERROR_NAMES: dict[int, tuple[str, str]] = {
    400: ("BadRequestError", "BAD_REQUEST"),
    401: ("UnauthorizedError", "UNAUTHORIZED"),
    404: ("NotFoundError", "NOT_FOUND"),
    # Only ever sent by a planted fault: undocumented on purpose.
    405: ("MethodNotAllowedError", "METHOD_NOT_ALLOWED"),
    500: ("InternalServerError", "INTERNAL_SERVER_ERROR"),
}


class ApiError(Exception):
    """A documented error answer: raised anywhere in a handler, rendered as the envelope."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def error_body(status: int, message: str) -> bytes:
    """The envelope `{"error": {"name", "code", "message"}}` (E1)."""
    name, code = ERROR_NAMES[status]
    return json.dumps({"error": {"name": name, "code": code, "message": message}}).encode()


def json_response(
    body: bytes, status: int = 200, headers: Iterable[tuple[bytes, bytes]] = ()
) -> Response:
    """A response for ready-made JSON bytes; extra headers are raw (lower-case name, value)."""
    response = Response(body, status_code=status, media_type=JSON_MEDIA_TYPE)
    response.raw_headers.extend(headers)
    return response


async def send_error(send: Send, status: int, message: str, render: ErrorBody = error_body) -> None:
    """The envelope sent straight through ASGI, for middleware that answers before any route."""
    body = render(status, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", JSON_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

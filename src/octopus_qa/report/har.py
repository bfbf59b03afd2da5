"""Failing exchanges as HAR 1.2, the format browser devtools, Insomnia and Postman import.

A failure is easier to hand over as the request and the answer it got than as a traceback:
the contract suite writes every failing exchange it kept to `contract/failures.har`, a load run
a bounded sample of its failing requests to `load/failures.har`, beside their JUnit files.
Written from the `Exchange` the checks judged (rules/exchange.py), so the HAR holds exactly what
was judged; the text is scrubbed like every other artifact (the caller's `scrub`), so tokens and
passwords never reach it. The exchange does not keep how long it took, and HAR's `time`, `send`,
`wait` and `receive` must be numbers of at least 0, so they are 0 (HAR 1.2 allows -1, "does not
apply", only for the connection phases, which are left out).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ..rules.exchange import Exchange

HAR_VERSION = "1.2"
HTTP_VERSION = "HTTP/1.1"


def _headers(headers: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers.items()]


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def _url(base_url: str, exchange: Exchange) -> str:
    query = urlencode(dict(exchange.query))
    return f"{base_url.rstrip('/')}{exchange.path}" + (f"?{query}" if query else "")


def har_entry(
    exchange: Exchange, base_url: str, started: datetime | None = None, comment: str = ""
) -> dict[str, Any]:
    """One request and its answer as a HAR entry; `comment` says what it broke."""
    request: dict[str, Any] = {
        "method": exchange.method,
        "url": _url(base_url, exchange),
        "httpVersion": HTTP_VERSION,
        "cookies": [],
        "headers": _headers(exchange.request_headers),
        "queryString": [{"name": k, "value": v} for k, v in exchange.query.items()],
        "headersSize": -1,
        "bodySize": len(exchange.request_body) if exchange.request_body_sent else 0,
    }
    if exchange.request_body_sent:
        body = exchange.request_body
        if not body and exchange.request_json is not None:  # a sender that kept only the JSON
            body = json.dumps(exchange.request_json).encode()
        request["postData"] = {
            "mimeType": exchange.request_headers.get("content-type", ""),
            "text": _text(body),
        }
    status = exchange.status
    response = {
        "status": status,
        "statusText": _reason(status),
        "httpVersion": HTTP_VERSION,
        "cookies": [],
        "headers": _headers(exchange.headers),
        "content": {
            "size": len(exchange.body),
            "mimeType": exchange.headers.get("content-type", ""),
            "text": _text(exchange.body),
        },
        "redirectURL": exchange.headers.get("location", ""),
        "headersSize": -1,
        "bodySize": len(exchange.body),
    }
    entry: dict[str, Any] = {
        "startedDateTime": (started or datetime.now(UTC)).isoformat(timespec="milliseconds"),
        "time": 0,
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"send": 0, "wait": 0, "receive": 0},
    }
    if comment:
        entry["comment"] = comment
    return entry


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "no answer" if status == 0 else ""


def write_har(
    path: Path,
    entries: Iterable[Mapping[str, Any]],
    scrub: Callable[[str], str],
    creator_version: str,
) -> Path | None:
    """The entries as one HAR file, scrubbed; None (and no file) when there are none."""
    kept = list(entries)
    if not kept:
        return None
    log = {
        "log": {
            "version": HAR_VERSION,
            "creator": {"name": "octoqa", "version": creator_version},
            "entries": kept,
        }
    }
    path.write_text(scrub(json.dumps(log, indent=1, ensure_ascii=False)) + "\n", encoding="utf-8")
    return path

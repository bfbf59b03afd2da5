"""Checks of a page's items, judged once per distinct request and body.

Under load the same page comes back again and again: a browser asks for page 3 of the id-sorted
listing many times a minute, and the catalog does not change between. A check that reads only
the request (method, path, query) and the response's status and body gives the same verdict for
the same bytes, so once such a page has held, the byte-identical answer to the same request
holds again without walking its items. The memo is keyed by all of those, compared whole (a
page that differs by one byte, or the same page under another sort or filter, is judged
afresh), and only a page that held is remembered: a broken one is judged, and reported, every
time it comes back. Checks of headers, timing or anything per response (the request id, the
pagination headers) stay in `cheap_checks` (rules/under_load.py), judged on every response.
"""

from __future__ import annotations

from collections.abc import Callable

from octopus_qa.rules import Exchange
from octopus_qa.rules.evidence import is_recording
from octopus_qa.rules.exchange import BoundedMemo

Check = Callable[[Exchange], None]

#: The page that held, by checks and request (the body compared whole, not hashed); bounded in
#: bytes like the array lengths.
HELD = BoundedMemo(max_bytes=32 * 1024 * 1024)


def judged_once(*checks: Check) -> Check:
    """One judge that runs `checks` (each a pure function of the request and the response's
    status and body) unless the same request already got this very body, and it held."""

    def judge(exchange: Exchange) -> None:
        if is_recording():  # a test collecting evidence: every exchange must be judged aloud
            _run(checks, exchange)
            return
        query = tuple(exchange.query.items())
        key = (checks, exchange.method, exchange.path, query, exchange.status)
        if HELD.get(key) != exchange.body:  # compared whole; nothing held yet reads as MISSING
            _run(checks, exchange)  # a violation propagates: nothing is remembered
            HELD.put(key, bytes(exchange.body), len(exchange.body))

    judge.__doc__ = f"judged once per request and body: {', '.join(c.__name__ for c in checks)}"
    return judge


def _run(checks: tuple[Check, ...], exchange: Exchange) -> None:
    for check in checks:
        check(exchange)

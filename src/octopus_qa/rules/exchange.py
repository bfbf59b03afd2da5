"""One request and its response as plain data, whoever sent it: what every check judges."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import msgspec

from .catalogue import Rule, RuleViolation, rule_named
from .evidence import applies
from .http_layer import refused_by_http_layer

# --- The exchange under judgement -------------------------------------------------------------

LIST_PATH = re.compile(r"/api/v1/products/?$")
PRODUCT_PATH = re.compile(r"/api/v1/products/(?P<id>[^/]+)/?$")
AVAILABILITY_PATH = re.compile(r"/api/v1/products/(?P<id>[^/]+)/availability/?$")
LOGOUT_PATH = re.compile(r"/auth/logout/?$")

#: Decodes a JSON array one level deep: each element stays raw bytes, checked but not built.
_ARRAY_OF_RAW = msgspec.json.Decoder(list[msgspec.Raw])
_ANY_JSON = msgspec.json.Decoder()
#: What `Exchange.json` holds until someone reads it (None is a parse result: "not JSON").
NOT_PARSED: Any = object()
#: What a `BoundedMemo` returns for a key it does not hold (None and 0 are values it keeps).
MISSING: Any = object()


class BoundedMemo:
    """Values computed from exact bytes (a body, a request), kept for the next identical key.

    A key is compared whole, as dict keys are (hash, then equality), so a value is reused only
    for byte-identical input: a body that differs by one byte is computed afresh. What it holds
    is bounded in bytes (each entry's size given by its caller); the oldest go first. For pure
    functions of the key only.
    """

    def __init__(self, max_bytes: int) -> None:
        self._values: dict[Any, Any] = {}
        self._sizes: dict[Any, int] = {}
        self._held = 0
        self.max_bytes = max_bytes

    def get(self, key: Any) -> Any:
        return self._values.get(key, MISSING)

    def put(self, key: Any, value: Any, size: int) -> None:
        """Keep `value` for `key` (in place of what it held), unless `size` exceeds the budget."""
        if size > self.max_bytes:
            return
        if key in self._values:
            del self._values[key]
            self._held -= self._sizes.pop(key)
        while self._held + size > self.max_bytes:
            oldest = next(iter(self._values))
            del self._values[oldest]
            self._held -= self._sizes.pop(oldest)
        self._values[key] = value
        self._sizes[key] = size
        self._held += size

    def clear(self) -> None:
        self._values.clear()
        self._sizes.clear()
        self._held = 0


#: Array lengths by body. Hashing a body costs about a quarter of decoding it (siphash against
#: msgspec's scan, 0.3 against 1.2 µs per KB), and a load run fetches the same pages over and
#: over: a crawler's 800 KB page is counted once, then recognised (bench/README.md).
_ARRAY_LENGTHS = BoundedMemo(max_bytes=32 * 1024 * 1024)


def _decode_json(text: bytes | str) -> Any:
    """The JSON value in `text`, or None when `text` is not JSON."""
    try:
        return _ANY_JSON.decode(text)
    except msgspec.DecodeError:
        return None


@dataclass(slots=True)
class Exchange:
    """One request and its response, as plain data, whoever sent it (schemathesis, Locust, httpx).

    Header names are lower-case in both mappings; `path` is the URL path without the query.
    The load generator builds one per response with its first eight fields given by position
    (loadtest/validation.py): their order is part of the class.
    """

    method: str
    path: str
    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    query: Mapping[str, str] = field(default_factory=dict)
    request_headers: Mapping[str, str] = field(default_factory=dict)
    request_json: Any = None
    #: Whether the request carried a body (E3 judges its Content-Type only then).
    request_body_sent: bool = False
    #: The request body as sent, when the sender kept it: the request checks read numbers in it
    #: as written (`1.0`, `1e400`), which a parsed `request_json` no longer shows.
    request_body: bytes = b""

    _parsed: Any = field(default=NOT_PARSED, init=False, repr=False, compare=False)
    _is_list: bool | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def json(self) -> Any:
        """The parsed body (parsed once), or None when it is empty or not JSON."""
        # Cached by hand: functools.cached_property needs a __dict__ (this class has slots), and
        # on Python 3.11 it takes a lock, a gevent lock under Locust, on every read.
        if self._parsed is NOT_PARSED:
            self._parsed = _decode_json(self.body) if self.body else None
        return self._parsed

    @property
    def array_length(self) -> int | None:
        """How many elements a JSON array body holds; None when the body is not a JSON array.

        Counted without building the elements, unless someone already parsed the body: the load
        suite judges the size of every page it receives, and building each page's objects was
        the largest part of what that cost (bench/README.md, bench_load.py).
        """
        if self._parsed is not NOT_PARSED:
            return len(self._parsed) if isinstance(self._parsed, list) else None
        body = bytes(self.body)  # a dict key, whatever buffer the sender handed over
        length = _ARRAY_LENGTHS.get(body)
        if length is MISSING:
            length = _array_length(body)
            _ARRAY_LENGTHS.put(body, length, len(body))
        return cast("int | None", length)

    @property
    def is_list(self) -> bool:
        """Whether this is GET of the listing; several checks ask, the path is matched once."""
        if self._is_list is None:
            self._is_list = self.method == "GET" and LIST_PATH.search(self.path) is not None
        return self._is_list


def _array_length(body: bytes) -> int | None:
    try:
        return len(_ARRAY_OF_RAW.decode(body))
    except msgspec.MsgspecError:  # malformed, or valid JSON that is not an array
        return None


def lower_headers(items: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """Header pairs as a dict keyed by lower-case name; list values (schemathesis) are joined."""
    result: dict[str, str] = {}
    for name, value in items:
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        result[name.lower()] = str(value)
    return result


def sends_json(exchange: Exchange) -> bool:
    """Whether the request said its body is JSON (`application/json`, parameters allowed)."""
    content_type = exchange.request_headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower() == "application/json"


def expect_status(
    exchange: Exchange, expected: int | Collection[int], rule: Rule | str, what: str
) -> None:
    """The rule (a Rule, or its id: UnknownRule for none) says this request gets `expected` (a
    status, or one of several): anything else breaks it, named as `what`. An oversized request
    may be refused by the HTTP layer instead, with any 4xx or none (http_layer.py)."""
    rule = rule_named(rule)  # an unknown id fails here, whatever the status
    if refused_by_http_layer(exchange):
        return  # the layer in front answered, not the API: neither a breach nor evidence
    applies(rule, exchange)  # a test built this request for the rule: it is the rule's case
    allowed = (expected,) if isinstance(expected, int) else tuple(expected)
    if exchange.status not in allowed:
        shown = " or ".join(str(status) for status in allowed)
        violation = RuleViolation(rule, f"{what} answered {exchange.status}, not {shown}")
        violation.exchange = exchange
        raise violation

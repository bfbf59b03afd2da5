"""Headers every response carries: X-Request-Id (H1-H3) and Content-Type (H4)."""

from __future__ import annotations

from collections.abc import Iterable

from ..ksuids import is_ksuid
from .catalogue import Rule, RuleViolation, judges
from .evidence import applies
from .exchange import Exchange
from .http_layer import unless_refused_by_http_layer

# --- The rules of headers (H1-H4) -----------------------------------------------------------

REQUEST_ID_PRESENT = Rule(
    "request-id-present",
    title="Every response, errors included, carries X-Request-Id",
    basis="documented",
    source="getting-started.txt § Response Headers",
    quote="Every response includes: X-Request-Id",
    assumption=("H1",),
    builtin_checks=("response_headers_conformance",),
)
REQUEST_ID_ECHOED = Rule(
    "request-id-echoed",
    title="A KSUID sent in X-Request-Id is echoed exactly",
    basis="documented",
    source="getting-started.txt § Request Headers (X-Request-Id)",
    quote="The request trace ID — either echoed from your request or server-generated",
    assumption=("H2",),
)
REQUEST_ID_GENERATED = Rule(
    "request-id-generated",
    title="Without X-Request-Id the server generates a fresh KSUID",
    basis="documented",
    source="getting-started.txt § Request Headers (X-Request-Id)",
    quote=(
        "Your own trace ID (KSUID format). If omitted, the server generates one and returns it in "
        "the response."
    ),
    assumption=("H2", "H3"),
)
REQUEST_ID_INVALID_REPLACED = Rule(
    "request-id-invalid-replaced",
    title="An X-Request-Id that is not a KSUID is not echoed: a fresh KSUID comes back",
    basis="assumed",
    source="ASSUMPTIONS.md H3",
    quote=(
        "A value that is not a KSUID is not echoed: the server answers with a fresh KSUID instead"
    ),
    assumption=("H3",),
)
JSON_CONTENT_TYPE = Rule(
    "json-content-type",
    title="JSON bodies come with Content-Type: application/json",
    basis="assumed",
    source="ASSUMPTIONS.md H4",
    quote=(
        "JSON bodies come with Content-Type: application/json (parameters such as charset allowed)."
    ),
    assumption=("H4",),
    builtin_checks=("content_type_conformance",),
)

# --- Headers ----------------------------------------------------------------------------------


@judges(REQUEST_ID_PRESENT, REQUEST_ID_ECHOED, REQUEST_ID_GENERATED, REQUEST_ID_INVALID_REPLACED)
@unless_refused_by_http_layer
def request_id_follows_rules(exchange: Exchange) -> None:
    """X-Request-Id is present (H1), echoed when a KSUID was sent (H2), else a fresh KSUID (H3)."""
    applies(REQUEST_ID_PRESENT, exchange)
    returned = exchange.headers.get("x-request-id")
    if not returned:
        raise RuleViolation(
            REQUEST_ID_PRESENT, f"{exchange.method} {exchange.path} → {exchange.status} has none"
        )
    sent = exchange.request_headers.get("x-request-id")
    if sent is not None and is_ksuid(sent):
        applies(REQUEST_ID_ECHOED, exchange)
        if returned != sent:
            raise RuleViolation(REQUEST_ID_ECHOED, f"sent {sent!r}, got back {returned!r}")
        return
    if sent is not None:
        applies(REQUEST_ID_INVALID_REPLACED, exchange)
    if sent is not None and returned == sent:
        raise RuleViolation(REQUEST_ID_INVALID_REPLACED, f"the non-KSUID {sent!r} was echoed")
    applies(REQUEST_ID_GENERATED, exchange)
    if not is_ksuid(returned):
        raise RuleViolation(
            REQUEST_ID_GENERATED, f"server-generated X-Request-Id {returned!r} is not a KSUID"
        )


@judges(REQUEST_ID_GENERATED)
class RequestIdLedger:
    """The request ids a run has seen, to judge H3's "fresh" one exchange at a time.

    A generated id (the request sent no KSUID) must differ from every id generated before and
    from every KSUID a client sent. Exchanges whose request carried a KSUID are judged by their
    echo (H2) elsewhere; here they only add the id they sent.
    """

    def __init__(self) -> None:
        self._generated: dict[str, Exchange] = {}
        self._sent: set[str] = set()

    def remember_sent(self, exchange: Exchange) -> bool:
        """Note the KSUID the request sent, if any; True when it sent one."""
        sent = exchange.request_headers.get("x-request-id")
        if sent is not None and is_ksuid(sent):
            self._sent.add(sent)
            return True
        return False

    def judge(self, exchange: Exchange) -> None:
        if self.remember_sent(exchange):
            return
        returned = exchange.headers.get("x-request-id")
        if not returned:
            return  # request_id_follows_rules reports a missing id as such
        applies(REQUEST_ID_GENERATED, exchange)
        if returned in self._sent:
            raise RuleViolation(
                REQUEST_ID_GENERATED,
                f"{exchange.method} {exchange.path} was given {returned!r}, the id another "
                "request sent",
            )
        first = self._generated.setdefault(returned, exchange)
        if first is not exchange:
            raise RuleViolation(
                REQUEST_ID_GENERATED,
                f"{returned!r} was generated twice: for {first.method} {first.path} and "
                f"{exchange.method} {exchange.path}",
            )


def request_ids_are_fresh(exchanges: Iterable[Exchange]) -> None:
    """No two server-generated X-Request-Ids of these exchanges repeat, nor repeat an id one of
    them sent (H3: fresh). Judged over many exchanges at once, in any order (a concurrent
    burst has none): one response cannot show that its id is fresh."""
    ledger = RequestIdLedger()
    exchanges = list(exchanges)
    for exchange in exchanges:
        ledger.remember_sent(exchange)
    for exchange in exchanges:
        ledger.judge(exchange)


@judges(JSON_CONTENT_TYPE)
@unless_refused_by_http_layer
def json_content_type(exchange: Exchange) -> None:
    """A response with a JSON body says so in Content-Type (H4)."""
    if not exchange.body:
        return
    content_type = exchange.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() == "application/json":
        applies(JSON_CONTENT_TYPE, exchange)
        return  # the body is not parsed when the header already says JSON
    if exchange.json is not None:
        applies(JSON_CONTENT_TYPE, exchange)
        raise RuleViolation(JSON_CONTENT_TYPE, f"JSON body served as Content-Type {content_type!r}")

"""The documented rules and the one implementation of each check.

The catalogue (`rules.toml` beside this file) says what each rule is and where it comes from; the
functions below decide whether one HTTP exchange keeps it. The contract suite registers them as
schemathesis checks and calls them from its property tests; the load suite calls the cheap ones
on every response under load. Neither keeps a second copy.

Every check raises `RuleViolation`, an `AssertionError` (so schemathesis and pytest report it as
a failure, not an error) whose message starts with the rule id and quotes the numbers that broke
it.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from operator import itemgetter
from typing import Any

import msgspec

from .ksuids import is_ksuid

__all__ = [
    "RULES",
    "Exchange",
    "RequestIdLedger",
    "Rule",
    "RuleViolation",
    "RulesBroken",
    "access_token_exp_matches",
    "auth_is_required",
    "availability_is_boolean",
    "post_requires_json",
    "rules_broken_by",
    "token_body_is_complete",
    "availability_false_outside_ranges",
    "cheap_response_checks",
    "dates_are_rfc3339",
    "FILTER_FIELDS",
    "RETRY_LATER",
    "denomination_ranges_are_sane",
    "error_envelope_is_documented",
    "expect_status",
    "items_are_sorted",
    "items_match_filters",
    "json_content_type",
    "listing_is_in_requested_order",
    "listing_matches_filters",
    "pages_partition_listing",
    "pagination_headers_are_consistent",
    "paging_parameters_are_bounded",
    "product_matches_list_entry",
    "requested_sort",
    "request_id_follows_rules",
    "request_ids_are_fresh",
    "sort_is_well_formed",
    "status_is_documented",
]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    basis: str  # "documented" or "assumed"
    source: str
    quote: str
    assumption: tuple[str, ...] = ()

    @property
    def assumed(self) -> bool:
        """True when the rule rests on ASSUMPTIONS.md rather than on a documented sentence."""
        return self.basis == "assumed"


def _load_rules() -> dict[str, Rule]:
    text = resources.files(__package__).joinpath("rules.toml").read_text(encoding="utf-8")
    rules = {}
    for entry in tomllib.loads(text)["rule"]:
        entry["assumption"] = tuple(entry.get("assumption", ()))
        rules[entry["id"]] = Rule(**entry)
    return rules


RULES: Mapping[str, Rule] = _load_rules()


class RuleViolation(AssertionError):
    """One rule broken by one exchange; the message names the rule and what came back."""

    def __init__(self, rule_id: str, detail: str) -> None:
        self.rule = RULES[rule_id]
        self.detail = detail
        #: The exchange that broke the rule, when the caller knows it (set by the adapters that
        #: judge an exchange): a known deviation may name the operation and status it covers.
        self.exchange: Exchange | None = None
        super().__init__(f"[{rule_id}] {self.rule.title}: {detail}")


class RulesBroken(AssertionError):
    """Several rules broken by one test (a schemathesis failure group), carried as objects so
    that no consumer has to parse `[rule-id]` back out of the message."""

    def __init__(self, rule_ids: Sequence[str], detail: str, breaches: Sequence[Any] = ()) -> None:
        self.rules = tuple(RULES[rule_id] for rule_id in dict.fromkeys(rule_ids))
        #: Where each rule broke (`deviations.Breach`: operation and status), when it is known;
        #: known deviations match on it (contract/breaches.py).
        self.breaches = tuple(breaches)
        shown = " ".join(f"[{rule.id}]" for rule in self.rules)
        super().__init__(f"rules broken: {shown}\n{detail}")


def rules_broken_by(error: BaseException | None) -> tuple[Rule, ...]:
    """The rules an exception carries: a RuleViolation's, a RulesBroken's, or those of the
    violations inside an exception group (hypothesis reports several failures as one)."""
    if isinstance(error, RuleViolation):
        return (error.rule,)
    if isinstance(error, RulesBroken):
        return error.rules
    if isinstance(error, BaseExceptionGroup):
        found = [rule for inner in error.exceptions for rule in rules_broken_by(inner)]
        return tuple(dict.fromkeys(found))
    return ()


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
        try:
            return len(_ARRAY_OF_RAW.decode(self.body))
        except msgspec.MsgspecError:  # malformed, or valid JSON that is not an array
            return None

    @property
    def is_list(self) -> bool:
        """Whether this is GET of the listing; several checks ask, the path is matched once."""
        if self._is_list is None:
            self._is_list = self.method == "GET" and LIST_PATH.search(self.path) is not None
        return self._is_list


def lower_headers(items: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """Header pairs as a dict keyed by lower-case name; list values (schemathesis) are joined."""
    result: dict[str, str] = {}
    for name, value in items:
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        result[name.lower()] = str(value)
    return result


def expect_status(exchange: Exchange, expected: int, rule_id: str, what: str) -> None:
    """The rule says this request gets `expected`: anything else breaks it, named as `what`."""
    if exchange.status != expected:
        violation = RuleViolation(rule_id, f"{what} answered {exchange.status}, not {expected}")
        violation.exchange = exchange
        raise violation


# --- Authentication ---------------------------------------------------------------------------

#: A1: what a login (and a refresh, A2) body holds.
TOKEN_FIELDS = ("access_token", "refresh_token", "token_type", "expires_in", "expires_at")
PROTECTED_PREFIX = "/api/"
_TOKEN_PATHS = re.compile(r"/auth/(?:refresh|logout)/?$")
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def auth_is_required(exchange: Exchange) -> None:
    """A request to a protected operation without an Authorization header is not served (A6):
    anything below 400 breaks auth-required (a 4xx is judged by the checks of its status)."""
    protected = exchange.path.startswith(PROTECTED_PREFIX) or _TOKEN_PATHS.search(exchange.path)
    if protected and "authorization" not in exchange.request_headers and exchange.status < 400:
        raise RuleViolation(
            "auth-required",
            f"{exchange.method} {exchange.path} without a token answered {exchange.status}",
        )


def token_body_is_complete(exchange: Exchange, rule_id: str = "login-issues-tokens") -> None:
    """A 200 from login or refresh carries the A1 fields, typed (`rule_id`: the login's or the
    refresh's rule)."""
    body = exchange.json
    if exchange.status != 200 or not isinstance(body, dict):
        raise RuleViolation(rule_id, f"answered {exchange.status} {exchange.body[:120]!r}")
    missing = [name for name in TOKEN_FIELDS if name not in body]
    if missing:
        raise RuleViolation(rule_id, f"the token body lacks {', '.join(missing)}")
    problems = []
    if body["token_type"] != "Bearer":
        problems.append(f"token_type is {body['token_type']!r}")
    expires_in = body["expires_in"]
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in < 0:
        problems.append(f"expires_in is {expires_in!r}")
    if not isinstance(body["refresh_token"], str) or not body["refresh_token"]:
        problems.append("refresh_token is empty")
    if not isinstance(body["access_token"], str) or not _JWT_SHAPE.fullmatch(body["access_token"]):
        problems.append("access_token is not three base64url segments")
    if problems:
        raise RuleViolation(rule_id, "; ".join(problems))


def access_token_exp_matches(
    claims: Mapping[str, Any], body: Mapping[str, Any], issued_at: float
) -> None:
    """A4: the JWT's `exp` equals `expires_at` and is about `issued_at` + `expires_in`."""
    try:
        exp = float(claims["exp"])
        expires_at = datetime.fromisoformat(str(body["expires_at"])).timestamp()
    except (KeyError, TypeError, ValueError) as error:
        raise RuleViolation(
            "access-token-is-jwt", f"no comparable exp / expires_at: {error}"
        ) from None
    if abs(exp - expires_at) > 1:
        raise RuleViolation("access-token-is-jwt", f"exp {exp} vs expires_at {body['expires_at']}")
    if abs(exp - (issued_at + float(body["expires_in"]))) > 5:
        raise RuleViolation(
            "access-token-is-jwt",
            f"exp {exp} is not about now + expires_in ({body['expires_in']} s)",
        )


# --- Headers ----------------------------------------------------------------------------------


def request_id_follows_rules(exchange: Exchange) -> None:
    """X-Request-Id is present (H1), echoed when a KSUID was sent (H2), else a fresh KSUID (H3)."""
    returned = exchange.headers.get("x-request-id")
    if not returned:
        raise RuleViolation(
            "request-id-present", f"{exchange.method} {exchange.path} → {exchange.status} has none"
        )
    sent = exchange.request_headers.get("x-request-id")
    if sent is not None and is_ksuid(sent):
        if returned != sent:
            raise RuleViolation("request-id-echoed", f"sent {sent!r}, got back {returned!r}")
        return
    if sent is not None and returned == sent:
        raise RuleViolation("request-id-invalid-replaced", f"the non-KSUID {sent!r} was echoed")
    if not is_ksuid(returned):
        raise RuleViolation(
            "request-id-generated", f"server-generated X-Request-Id {returned!r} is not a KSUID"
        )


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
        if returned in self._sent:
            raise RuleViolation(
                "request-id-generated",
                f"{exchange.method} {exchange.path} was given {returned!r}, the id another "
                "request sent",
            )
        first = self._generated.setdefault(returned, exchange)
        if first is not exchange:
            raise RuleViolation(
                "request-id-generated",
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


def json_content_type(exchange: Exchange) -> None:
    """A response with a JSON body says so in Content-Type (H4)."""
    content_type = exchange.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() == "application/json":
        return  # the body is not parsed when the header already says JSON
    if exchange.body and exchange.json is not None:
        raise RuleViolation(
            "json-content-type", f"JSON body served as Content-Type {content_type!r}"
        )


# --- Status codes and errors ------------------------------------------------------------------

#: E1: the documented name/code pair for each documented error status.
ERROR_PAIRS: Mapping[int, tuple[str, str]] = {
    400: ("BadRequestError", "BAD_REQUEST"),
    401: ("UnauthorizedError", "UNAUTHORIZED"),
    404: ("NotFoundError", "NOT_FOUND"),
    500: ("InternalServerError", "INTERNAL_SERVER_ERROR"),
}
#: E4: 429 means "retry later"; it is neither a pass nor a contract failure.
RETRY_LATER = 429
DOCUMENTED_STATUSES = frozenset({200, 204, 400, 401, 404, 500, RETRY_LATER})


def status_is_documented(exchange: Exchange) -> None:
    """Only documented status codes come back; 204 only from logout (E4)."""
    status = exchange.status
    if status not in DOCUMENTED_STATUSES:
        raise RuleViolation(
            "documented-status-codes", f"{exchange.method} {exchange.path} → undocumented {status}"
        )
    if status == 204 and not LOGOUT_PATH.search(exchange.path):
        raise RuleViolation(
            "documented-status-codes", f"{exchange.method} {exchange.path} → 204 (logout only)"
        )


def error_envelope_is_documented(exchange: Exchange) -> None:
    """Every 4xx/5xx body is {"error": {name, code, message}} with the documented pair (E1)."""
    status = exchange.status
    if status < 400:
        return
    body = exchange.json
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not all(
        isinstance(error.get(key), str) for key in ("name", "code", "message")
    ):
        raise RuleViolation(
            "error-envelope", f"{status} body is not the envelope: {exchange.body[:200]!r}"
        )
    expected = ERROR_PAIRS.get(status)
    if expected and (error["name"], error["code"]) != expected:
        raise RuleViolation(
            "error-envelope",
            f"{status} carries name/code {error['name']}/{error['code']}, "
            f"documented {expected[0]}/{expected[1]}",
        )


def post_requires_json(exchange: Exchange) -> None:
    """E3: a POST that carries a body under another Content-Type than JSON is not served."""
    if exchange.method != "POST" or not exchange.request_body_sent or exchange.status >= 400:
        return
    content_type = exchange.request_headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise RuleViolation(
            "post-requires-json",
            f"POST {exchange.path} with Content-Type {content_type!r} answered {exchange.status}",
        )


# --- Pagination -------------------------------------------------------------------------------

PAGINATION_HEADERS = (
    "x-page",
    "x-per-page",
    "x-total-count",
    "x-total-pages",
    "x-page-size",
    "x-has-more",
)
_NUMBERS = itemgetter(*PAGINATION_HEADERS[:5])
DEFAULT_PAGE = 1
DEFAULT_LIMIT = 50


def _requested_int(query: Mapping[str, str], name: str, default: int) -> int | None:
    value = query.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return None  # an invalid value that was accepted: the bounds checks judge that


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _pagination_numbers(headers: Mapping[str, str]) -> tuple[int, int, int, int, int]:
    """X-Page, X-Per-Page, X-Total-Count, X-Total-Pages and X-Page-Size as integers.

    One lookup and one int() each on the way every page takes; the reasons come only on failure.
    """
    try:
        page, per_page, total, total_pages, page_size = map(int, _NUMBERS(headers))
    except (KeyError, ValueError):
        missing = [name for name in PAGINATION_HEADERS if name not in headers]
        if missing:
            raise RuleViolation(
                "pagination-headers-present", f"missing {', '.join(missing)}"
            ) from None
        bad = next(name for name in PAGINATION_HEADERS[:5] if not _is_int(headers[name]))
        raise RuleViolation(
            "pagination-headers-consistent", f"{bad} is {headers[bad]!r}, not an integer"
        ) from None
    return page, per_page, total, total_pages, page_size


def _inconsistent(detail: str, headers: Mapping[str, str]) -> RuleViolation:
    """A pagination-headers-consistent violation that shows all six headers as they came."""
    shown = " ".join(f"{name.title()}={headers[name]}" for name in PAGINATION_HEADERS)
    return RuleViolation("pagination-headers-consistent", f"{detail} ({shown})")


def pagination_headers_are_consistent(exchange: Exchange) -> None:
    """The six pagination headers agree with the request, each other and the body (L2, L3)."""
    if exchange.status != 200 or not exchange.is_list:
        return
    headers = exchange.headers
    has_more = headers.get("x-has-more")
    page, per_page, total, total_pages, page_size = _pagination_numbers(headers)
    if has_more is None:
        raise RuleViolation("pagination-headers-present", "missing x-has-more")
    item_count = exchange.array_length
    if item_count is None:
        raise RuleViolation("pagination-headers-consistent", "the list body is not an array")

    requested_page = _requested_int(exchange.query, "page", DEFAULT_PAGE)
    requested_limit = _requested_int(exchange.query, "limit", DEFAULT_LIMIT)
    if requested_page is not None and page != requested_page:
        rule = (
            "paging-defaults" if "page" not in exchange.query else "pagination-headers-consistent"
        )
        raise RuleViolation(rule, f"X-Page is {page}, requested page {requested_page}")
    if requested_limit is not None and per_page != requested_limit:
        rule = (
            "paging-defaults" if "limit" not in exchange.query else "pagination-headers-consistent"
        )
        raise RuleViolation(rule, f"X-Per-Page is {per_page}, requested limit {requested_limit}")

    if per_page < 1:
        raise _inconsistent("X-Per-Page must be at least 1", headers)
    expected_pages = math.ceil(total / per_page)
    if total_pages != expected_pages:
        raise _inconsistent(
            f"X-Total-Pages should be ceil({total}/{per_page}) = {expected_pages}", headers
        )
    expected_size = max(0, min(per_page, total - (page - 1) * per_page))
    if page_size != expected_size:
        raise _inconsistent(f"X-Page-Size should be {expected_size}", headers)
    if page > total_pages and item_count:
        raise RuleViolation(
            "page-past-last-is-empty", f"page {page} of {total_pages} returned {item_count} items"
        )
    if item_count != page_size:
        raise _inconsistent(f"the body holds {item_count} items", headers)
    expected_more = "true" if page < total_pages else "false"
    if has_more != expected_more:
        raise _inconsistent(f"X-Has-More should be {expected_more}", headers)


# --- Catalog semantics ------------------------------------------------------------------------


def _sort_key(field_name: str) -> Any:
    if field_name.lower() == "name":
        return lambda item: str(item.get("name", "")).casefold()
    return lambda item: item.get(field_name.lower())


def requested_sort(query: Mapping[str, str]) -> tuple[str, str] | None:
    """(field, direction) of a well-formed `sort` query value (L4: keys case-insensitive)."""
    raw = query.get("sort")
    if raw is None:
        return ("id", "DESC")
    value = _decode_json(raw)
    if not isinstance(value, dict):
        return None
    keys = {str(key).lower(): item for key, item in value.items()}
    if len(keys) != len(value):
        return None  # a key given twice in two spellings: which one a server reads is open
    field, direction = keys.get("field"), keys.get("direction")
    if not isinstance(field, str) or not isinstance(direction, str):
        return None
    if field.lower() not in ("id", "name") or direction.upper() not in ("ASC", "DESC"):
        return None
    return field.lower(), direction.upper()


def items_are_sorted(
    items: Sequence[Mapping[str, Any]],
    field_name: str = "id",
    direction: str = "DESC",
    rule_id: str = "sort-orders-results",
) -> None:
    """Items are ordered by `field_name` in `direction`; names compare casefolded (L5)."""
    key = _sort_key(field_name)
    descending = direction.upper() == "DESC"
    for index, (first, second) in enumerate(zip(items, items[1:], strict=False)):
        a, b = key(first), key(second)
        out_of_order = a < b if descending else a > b
        if out_of_order:
            raise RuleViolation(
                rule_id,
                f"sorted by {field_name} {direction.upper()}, item {index} ({a!r}, id "
                f"{first.get('id')}) comes before item {index + 1} ({b!r}, id {second.get('id')})",
            )


#: L6: which product field each list filter matches, exactly.
FILTER_FIELDS: Mapping[str, str] = {
    "category": "category",
    "country_id": "country_code",
    "currency_id": "currency_code",
}


def items_match_filters(items: Sequence[Mapping[str, Any]], filters: Mapping[str, str]) -> None:
    """Every item matches every filter given (L6)."""
    for parameter, value in filters.items():
        product_field = FILTER_FIELDS[parameter]
        for item in items:
            if item.get(product_field) != value:
                raise RuleViolation(
                    "filters-match",
                    f"{parameter}={value!r} returned product {item.get('id')} with "
                    f"{product_field}={item.get(product_field)!r}",
                )


# --- Listing parameters, order, filters and partitions (L1, L4-L7) ----------------------------

#: L1's bounds per paging parameter: (rule, least, greatest or None for no maximum).
PAGING_BOUNDS: Mapping[str, tuple[str, int, int | None]] = {
    "page": ("page-bounds", 1, None),
    "limit": ("limit-bounds", 1, 10_000),
}


@lru_cache(maxsize=1024)  # pure, and a run sends few distinct values: judged once each under load
def _clearly_out_of_bounds(text: str, least: int, greatest: int | None) -> bool:
    """True when no reading of `text` is an integer within the bounds (L1).

    Only the clear cases: no number at all ("abc", ""), a fraction ("1.5"), or a value outside
    the bounds whatever its spelling ("0", "-3", "10001"). Spellings the documents leave open
    ("1.0", "+5", "05", " 5", "1e2") are an integer to one server and a word to another, so a
    200 for them is not judged here (openapi/TRACEABILITY.md, readings).
    """
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return True
    if not value.is_finite() or value != value.to_integral_value():
        return True
    return value < least or (greatest is not None and value > greatest)


def paging_parameters_are_bounded(exchange: Exchange) -> None:
    """A listing that accepted (200) a page or limit outside L1's bounds broke them.

    The other half (a value within the bounds is accepted) needs a request that is otherwise
    valid, so the tests that send one judge it with `expect_status`.
    """
    query = exchange.query
    if exchange.status != 200 or not query or not exchange.is_list:
        return
    for parameter, (rule_id, least, greatest) in PAGING_BOUNDS.items():
        text = query.get(parameter)
        if text is None:
            continue
        if text.isascii() and text.isdigit():  # the common case, read exactly as Decimal would
            value = int(text)
            out = value < least or (greatest is not None and value > greatest)
        else:
            out = _clearly_out_of_bounds(text, least, greatest)
        if out:
            raise RuleViolation(rule_id, f"{parameter}={text!r} was accepted (200)")


def sort_is_well_formed(exchange: Exchange) -> None:
    """A listing that accepted (200) a sort that is clearly not L4's object broke sort-format.

    Clearly: not JSON, not an object, a direction that is not ASC/DESC in any case, or a field
    or direction that is not a string. A field other than id and name is not judged ("fields
    that can be sorted on include at least id and name"), nor are extra keys, keys given twice
    in different cases, or surrounding whitespace: the documents do not decide them.
    """
    raw = exchange.query.get("sort")
    if raw is None or exchange.status != 200 or not exchange.is_list:
        return
    if (problem := _sort_format_problem(raw)) is not None:
        raise RuleViolation("sort-format", f"sort={raw!r} {problem} was accepted")


@lru_cache(maxsize=1024)  # pure, and a run sends few distinct sorts: parsed once each under load
def _sort_format_problem(raw: str) -> str | None:
    """What makes `raw` clearly not L4's sort object, or None when it is one (or undecided)."""
    value = _decode_json(raw)
    if not isinstance(value, dict):
        return "(not a JSON object)"
    keys: dict[str, Any] = {}
    for key, item in value.items():
        if str(key).lower() in keys:
            return None  # field given twice in two spellings: which one wins is not documented
        keys[str(key).lower()] = item
    field_value, direction = keys.get("field"), keys.get("direction")
    if "field" in keys and not isinstance(field_value, str):
        return "(a field that is no name)"
    if "direction" in keys and (
        not isinstance(direction, str) or direction.strip().upper() not in ("ASC", "DESC")
    ):
        return f"(direction {direction!r})"
    return None


def _listed_items(exchange: Exchange) -> list[Any] | None:
    if exchange.status != 200 or not exchange.is_list or not isinstance(exchange.json, list):
        return None
    return [item for item in exchange.json if isinstance(item, dict)]


def listing_is_in_requested_order(exchange: Exchange) -> None:
    """A listing comes in the order its `sort` asks for, default id DESC (L5), within the page.

    Across page boundaries the tests that walk pages call `items_are_sorted` on the pages
    joined.
    """
    items = _listed_items(exchange)
    sort = requested_sort(exchange.query)
    if items is None or sort is None:
        return
    rule_id = "default-order-id-desc" if "sort" not in exchange.query else "sort-orders-results"
    items_are_sorted(items, sort[0], sort[1], rule_id=rule_id)


def listing_matches_filters(exchange: Exchange) -> None:
    """Every listed item matches every filter of the query (L6)."""
    items = _listed_items(exchange)
    filters = {name: exchange.query[name] for name in FILTER_FIELDS if name in exchange.query}
    if items is not None and filters:
        items_match_filters(items, filters)


def pages_partition_listing(
    pages: Sequence[Sequence[Mapping[str, Any]]], total: int, what: str
) -> None:
    """The pages of a listing hold each of its `total` items exactly once (L7).

    `total` is the listing's X-Total-Count; `what` names the listing (filters, sort, page size)
    in the failure. Items are told apart by id (P1: the product identifier).
    """
    seen: dict[Any, int] = {}
    for number, page in enumerate(pages, start=1):
        for item in page:
            product_id = item.get("id")
            if product_id in seen:
                raise RuleViolation(
                    "pages-partition-listing",
                    f"{what}: product {product_id} is on page {seen[product_id]} and page {number}",
                )
            seen[product_id] = number
    if len(seen) != total:
        raise RuleViolation(
            "pages-partition-listing",
            f"{what}: {len(pages)} pages hold {len(seen)} distinct products, X-Total-Count {total}",
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def denomination_ranges_are_sane(product: Mapping[str, Any]) -> None:
    """Each range has min_value ≤ max_value and a discount from 0 to 100 (P2)."""
    for entry in product.get("available_denominations") or ():
        low, high, discount = entry.get("min_value"), entry.get("max_value"), entry.get("discount")
        if not all(_is_number(value) for value in (low, high)):
            raise RuleViolation(
                "denomination-ranges-sane",
                f"product {product.get('id')} has a non-numeric range {low!r}..{high!r}",
            )
        if low is not None and high is not None and low > high:
            raise RuleViolation(
                "denomination-ranges-sane",
                f"product {product.get('id')} has min_value {low} > max_value {high}",
            )
        if discount is not None and not 0 <= discount <= 100:
            raise RuleViolation(
                "denomination-ranges-sane",
                f"product {product.get('id')} has discount {discount}, outside 0..100",
            )


def availability_false_outside_ranges(
    product: Mapping[str, Any], denomination: float, is_available: Any
) -> None:
    """is_available is false when the denomination lies outside every range (P5)."""
    ranges = product.get("available_denominations") or ()
    inside = any(r["min_value"] <= denomination <= r["max_value"] for r in ranges)
    if not inside and is_available is not False:
        spans = ", ".join(f"[{r['min_value']}, {r['max_value']}]" for r in ranges)
        raise RuleViolation(
            "availability-false-outside-ranges",
            f"product {product.get('id')} answered is_available={is_available!r} for "
            f"denomination {denomination}, outside its ranges {spans}",
        )


AVAILABILITY_SUFFIX = "/availability"


def availability_is_boolean(exchange: Exchange) -> None:
    """A 200 from an availability check is {"is_available": boolean} (products-api.txt)."""
    if exchange.status != 200 or not exchange.path.endswith(AVAILABILITY_SUFFIX):
        return
    body = exchange.json
    if not isinstance(body, dict) or not isinstance(body.get("is_available"), bool):
        raise RuleViolation(
            "availability-response", f"answered {exchange.body[:120]!r}, not {{is_available: bool}}"
        )


#: P3: optional fields a detail response may add to its list entry.
DETAIL_ONLY_FIELDS = frozenset({"terms", "details", "how_to_use"})


def product_matches_list_entry(detail: Mapping[str, Any], entry: Mapping[str, Any]) -> None:
    """The detail of a product equals its list entry, plus the optional detail fields (P3)."""
    differing = sorted(
        key
        for key in set(detail) | set(entry)
        if key not in DETAIL_ONLY_FIELDS and detail.get(key) != entry.get(key)
    )
    if differing:
        shown = ", ".join(
            f"{k}: list {entry.get(k)!r} vs detail {detail.get(k)!r}" for k in differing
        )
        raise RuleViolation("details-match-list", f"product {entry.get('id')} differs in {shown}")


# --- Dates -------------------------------------------------------------------------------------

#: RFC 3339 § 5.6 `date-time`: full-date "T" full-time, the offset required ("Z" or ±hh:mm).
#: ISO 8601 allows more (no offset, a space, week dates, "+0530"): getting-started.txt §
#: Date Format says RFC 3339, so those are not enough, however well they parse.
_RFC3339 = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.\d+)?"
    r"(?:[Zz]|[+-](?P<off_hour>\d{2}):(?P<off_minute>\d{2}))",
    re.ASCII,
)
#: Fields that carry a date-time: every `*_at` (tests/test_spec.py holds the spec to
#: `format: date-time` on each).
_DATE_SUFFIX = "_at"


def is_rfc3339(text: str) -> bool:
    """True for an RFC 3339 date-time whose fields are in range (a leap second 60 allowed)."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return False
    parts = {name: int(value) for name, value in match.groupdict(default="0").items()}
    try:
        datetime(parts["year"], parts["month"], parts["day"])
    except ValueError:
        return False
    return (
        parts["hour"] <= 23
        and parts["minute"] <= 59
        and parts["second"] <= 60
        and parts["off_hour"] <= 23
        and parts["off_minute"] <= 59
    )


def _date_fields(value: Any, where: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and key.endswith(_DATE_SUFFIX):
                yield name, item
            if isinstance(item, dict | list):
                yield from _date_fields(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _date_fields(item, f"{where}[{index}]")


def dates_are_rfc3339(exchange: Exchange) -> None:
    """Every date-time field of a JSON body is an RFC 3339 date-time (getting-started.txt §
    Date Format), not merely something a lenient parser reads as a date."""
    if exchange.status >= 400 or not exchange.body:
        return
    for name, value in _date_fields(exchange.json):
        if not isinstance(value, str) or not is_rfc3339(value):
            raise RuleViolation(
                "dates-are-rfc3339",
                f"{exchange.method} {exchange.path}: {name} is {value!r}, not RFC 3339",
            )


def _auth_dates_are_rfc3339(exchange: Exchange) -> None:
    """Under load, dates are judged where they are (token bodies), not by walking every page."""
    if exchange.path.startswith("/auth/"):
        dates_are_rfc3339(exchange)


# --- What the load suite runs on every response -------------------------------------------------

CHEAP_CHECKS = (
    status_is_documented,
    request_id_follows_rules,
    json_content_type,
    error_envelope_is_documented,
    paging_parameters_are_bounded,
    sort_is_well_formed,
    pagination_headers_are_consistent,
    _auth_dates_are_rfc3339,
    availability_is_boolean,
)


def cheap_response_checks(exchange: Exchange) -> None:
    """The checks cheap enough to run on every response under load, in order of cost."""
    if exchange.status == RETRY_LATER:
        return
    for check in CHEAP_CHECKS:
        check(exchange)

"""Products: their fields, denomination ranges, details and availability (P1-P5)."""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any
from urllib.parse import unquote

import jsonschema_rs
import pycountry

from ..spec import load_spec
from .catalogue import Rule, RuleViolation, judges
from .errors import RETRY_LATER
from .evidence import applies
from .exchange import AVAILABILITY_PATH, PRODUCT_PATH, Exchange, sends_json
from .http_layer import unless_refused_by_http_layer
from .listing import clearly_out_of_bounds
from .readings import STRICT_DIGITS, json_as_written, undecided_inputs

# --- The rules of products (P1-P5) -----------------------------------------------------------

PRODUCT_SCHEMA = Rule(
    "product-schema",
    title="Products carry the documented fields and types (alpha-3 country, ISO 4217 currency)",
    basis="documented",
    source="products-api.txt § Product Object Fields",
    quote='country_code | string | ISO 3166-1 Alpha-3 country code (e.g., "USA", "GBR")',
    builtin_checks=("response_schema_conformance",),
)
PRODUCT_ID_BOUNDS = Rule(
    "product-id-bounds",
    title="The product id is an integer > 0; 0, negatives and non-integers → 400",
    basis="documented",
    source="products-api.txt § Get Product Details, Path Parameters",
    quote="id | number | Yes | Product ID (must be > 0)",
    assumption=("P1",),
    bounds_input_of=("GET /api/v1/products/{id}", "POST /api/v1/products/{id}/availability"),
    parameter="id",
)
UNKNOWN_PRODUCT_404 = Rule(
    "unknown-product-404",
    title="A well-formed id that no product has → 404 NOT_FOUND",
    basis="documented",
    source="products-api.txt § Error Handling (404)",
    quote='"message": "Product not found"',
    assumption=("P1", "P4"),
    builtin_checks=("use_after_free", "ensure_resource_availability"),
)
DENOMINATION_RANGES_SANE = Rule(
    "denomination-ranges-sane",
    title="Each denomination range has min_value ≤ max_value and a discount from 0 to 100",
    basis="assumed",
    source="ASSUMPTIONS.md P2",
    quote=(
        "Each available_denominations entry has min_value ≤ max_value, and discount is a "
        "percentage from 0 to 100."
    ),
    assumption=("P2",),
)
DETAILS_MATCH_LIST = Rule(
    "details-match-list",
    title="GET /products/{id} returns the same product as its list entry",
    basis="assumed",
    source="ASSUMPTIONS.md P3",
    quote="returns the same product, in the same fields, as its entry in the list",
    assumption=("P3",),
)
DENOMINATION_BOUNDS = Rule(
    "denomination-bounds",
    title="Availability denomination is a number from 0.01 to 1,000,000,000; outside → 400",
    basis="documented",
    source="products-api.txt § Check Product Availability, Request Body",
    quote="denomination | number | Yes | Min: 0.01, Max: 1,000,000,000",
    assumption=("P4",),
    bounds_input_of=("POST /api/v1/products/{id}/availability",),
)
QUANTITY_BOUNDS = Rule(
    "quantity-bounds",
    title="Availability quantity is an integer ≥ 1; otherwise → 400",
    basis="documented",
    source="products-api.txt § Check Product Availability, Request Body",
    quote="quantity | number | Yes | Min: 1",
    assumption=("P4",),
    bounds_input_of=("POST /api/v1/products/{id}/availability",),
)
AVAILABILITY_RESPONSE = Rule(
    "availability-response",
    title="A valid availability check → 200 {is_available: boolean}",
    basis="documented",
    source="products-api.txt § Check Product Availability, Response",
    quote=(
        "is_available | boolean | Whether the product is available for the requested denomination "
        "and quantity"
    ),
)
AVAILABILITY_FALSE_OUTSIDE_RANGES = Rule(
    "availability-false-outside-ranges",
    title="is_available is false whenever the denomination lies outside every range",
    basis="assumed",
    source="ASSUMPTIONS.md P5",
    quote=(
        "is_available is false whenever the denomination lies outside every [min_value, max_value] "
        "range"
    ),
    assumption=("P5",),
)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@judges(DENOMINATION_RANGES_SANE)
def denomination_ranges_are_sane(product: Mapping[str, Any]) -> None:
    """Each range has min_value ≤ max_value and a discount from 0 to 100 (P2)."""
    if product.get("available_denominations"):
        applies(DENOMINATION_RANGES_SANE, product)
    for entry in product.get("available_denominations") or ():
        low, high, discount = entry.get("min_value"), entry.get("max_value"), entry.get("discount")
        if not all(_is_number(value) for value in (low, high)):
            raise RuleViolation(
                DENOMINATION_RANGES_SANE,
                f"product {product.get('id')} has a non-numeric range {low!r}..{high!r}",
            )
        if low is not None and high is not None and low > high:
            raise RuleViolation(
                DENOMINATION_RANGES_SANE,
                f"product {product.get('id')} has min_value {low} > max_value {high}",
            )
        if discount is not None and not 0 <= discount <= 100:
            raise RuleViolation(
                DENOMINATION_RANGES_SANE,
                f"product {product.get('id')} has discount {discount}, outside 0..100",
            )


@judges(AVAILABILITY_FALSE_OUTSIDE_RANGES)
def availability_false_outside_ranges(
    product: Mapping[str, Any], denomination: float, is_available: Any
) -> None:
    """is_available is false when the denomination lies outside every range (P5)."""
    ranges = product.get("available_denominations") or ()
    inside = any(r["min_value"] <= denomination <= r["max_value"] for r in ranges)
    if not inside:
        applies(AVAILABILITY_FALSE_OUTSIDE_RANGES, product)
    if not inside and is_available is not False:
        spans = ", ".join(f"[{r['min_value']}, {r['max_value']}]" for r in ranges)
        raise RuleViolation(
            AVAILABILITY_FALSE_OUTSIDE_RANGES,
            f"product {product.get('id')} answered is_available={is_available!r} for "
            f"denomination {denomination}, outside its ranges {spans}",
        )


AVAILABILITY_SUFFIX = "/availability"


@judges(AVAILABILITY_RESPONSE)
def availability_is_boolean(exchange: Exchange) -> None:
    """A 200 from an availability check is {"is_available": boolean} (products-api.txt)."""
    if exchange.status != 200 or not exchange.path.endswith(AVAILABILITY_SUFFIX):
        return
    applies(AVAILABILITY_RESPONSE, exchange)
    body = exchange.json
    if not isinstance(body, dict) or not isinstance(body.get("is_available"), bool):
        raise RuleViolation(
            AVAILABILITY_RESPONSE, f"answered {exchange.body[:120]!r}, not {{is_available: bool}}"
        )


#: P3: optional fields a detail response may add to its list entry.
DETAIL_ONLY_FIELDS = frozenset({"terms", "details", "how_to_use"})


@judges(DETAILS_MATCH_LIST)
def product_matches_list_entry(detail: Mapping[str, Any], entry: Mapping[str, Any]) -> None:
    """The detail of a product equals its list entry, plus the optional detail fields (P3)."""
    applies(DETAILS_MATCH_LIST, detail)
    differing = sorted(
        key
        for key in set(detail) | set(entry)
        if key not in DETAIL_ONLY_FIELDS and detail.get(key) != entry.get(key)
    )
    if differing:
        shown = ", ".join(
            f"{k}: list {entry.get(k)!r} vs detail {detail.get(k)!r}" for k in differing
        )
        raise RuleViolation(DETAILS_MATCH_LIST, f"product {entry.get('id')} differs in {shown}")


# --- The product's shape (products-api.txt § Product fields) ------------------------------------


@cache
def _product_validator() -> jsonschema_rs.Draft202012Validator:
    """The contract's Product schema, built once. jsonschema-rs (schemathesis's own validator):
    the whole-catalog test validates every product, 0.1 s for 10,500 (jsonschema: 1-4 s)."""
    spec = load_spec()
    schema = {"$ref": "#/components/schemas/Product", "components": spec["components"]}
    return jsonschema_rs.Draft202012Validator(schema)


@judges(PRODUCT_SCHEMA)
def product_has_documented_shape(product: Mapping[str, Any]) -> None:
    """A product carries the documented fields and types (the contract's Product schema), with
    an ISO 3166-1 alpha-3 country and an ISO 4217 currency that exist, not merely three letters."""
    try:
        _product_validator().validate(product)
    except jsonschema_rs.ValidationError as error:
        raise RuleViolation(
            PRODUCT_SCHEMA,
            f"product {product.get('id')}: {error.message} at {list(error.instance_path)}",
        ) from None
    if pycountry.countries.get(alpha_3=product["country_code"]) is None:
        raise RuleViolation(
            PRODUCT_SCHEMA,
            f"product {product['id']}: {product['country_code']!r} is not ISO 3166-1 alpha-3",
        )
    if pycountry.currencies.get(alpha_3=product["currency_code"]) is None:
        raise RuleViolation(
            PRODUCT_SCHEMA,
            f"product {product['id']}: {product['currency_code']!r} is not ISO 4217",
        )


@judges(PRODUCT_SCHEMA)
def products_have_documented_shape(exchange: Exchange) -> None:
    """product-schema on every product a 200 carries: each list entry, or the details."""
    if exchange.method != "GET" or exchange.status != 200:
        return
    if exchange.is_list:
        products = exchange.json if isinstance(exchange.json, list) else []
    elif PRODUCT_PATH.search(exchange.path):
        products = [exchange.json]
    else:
        return
    if products:
        applies(PRODUCT_SCHEMA, exchange)
    for product in products:
        if not isinstance(product, dict):
            raise RuleViolation(PRODUCT_SCHEMA, f"{exchange.path}: a product is {product!r:.60}")
        product_has_documented_shape(product)


# --- The path id (P1) -------------------------------------------------------------------------


def _product_id(exchange: Exchange) -> str | None:
    """The id segment of a details or availability request, percent-decoding undone."""
    if exchange.method == "GET":
        match = PRODUCT_PATH.search(exchange.path)
    elif exchange.method == "POST":
        match = AVAILABILITY_PATH.search(exchange.path)
    else:
        return None
    return unquote(match["id"]) if match and exchange.path.startswith("/api/") else None


def names_a_product(exchange: Exchange) -> bool:
    """Whether this is a details or availability request (whatever its id)."""
    return _product_id(exchange) is not None


def _strict_id(text: str) -> int | None:
    """The id when written the one way every reading agrees on (digits, no sign or leading 0)."""
    return int(text) if STRICT_DIGITS.fullmatch(text) and text != "0" else None


def _undecided(exchange: Exchange) -> bool:
    """Whether a details or availability request holds a value readings.py calls undecided;
    asked by three checks of the same exchange, so it is worked out once per request."""
    body = exchange.request_body
    if len(body) > _CACHED_BODY_BYTES:  # a hostile megabyte body is read once, not kept
        return bool(undecided_inputs(exchange.method, exchange.path, {}, body))
    return _undecided_request(exchange.method, exchange.path, body)


_CACHED_BODY_BYTES = 4096


@lru_cache(maxsize=1024)
def _undecided_request(method: str, path: str, body: bytes) -> bool:
    # The query only matters to the listing, which these checks do not judge.
    return bool(undecided_inputs(method, path, {}, body))


@judges(PRODUCT_ID_BOUNDS)
@unless_refused_by_http_layer
def product_id_is_bounded(exchange: Exchange) -> None:
    """P1: an id that is not an integer > 0 (0, negatives, fractions, words) → 400, for the
    details and the availability check alike; a well-formed id is never refused as such.

    A 401 is A6's (authentication first) and not judged; ids whose reading is undecided (' 5',
    '05', '1e1', past 2**63: readings.py) may get either answer.
    """
    text = _product_id(exchange)
    if text is None or exchange.status in (401, RETRY_LATER) or _undecided(exchange):
        return
    if _strict_id(text) is None and clearly_out_of_bounds(text, 1, None):
        applies(PRODUCT_ID_BOUNDS, exchange)
        if exchange.status != 400:
            raise RuleViolation(
                PRODUCT_ID_BOUNDS,
                f"{exchange.method} {exchange.path}: id {text[:40]!r} answered "
                f"{exchange.status}, not 400",
            )
    elif exchange.method == "GET" and _strict_id(text) is not None and exchange.status == 400:
        raise RuleViolation(
            PRODUCT_ID_BOUNDS, f"GET {exchange.path}: the well-formed id {text} was refused (400)"
        )


@judges(UNKNOWN_PRODUCT_404)
@unless_refused_by_http_layer
def unknown_product_is_404(exchange: Exchange, known_ids: Container[int]) -> None:
    """P1, P4: a well-formed id that no product has (`known_ids`: every id the listing holds)
    → 404 NOT_FOUND, for the details and for an availability check with a valid body; and a
    listed product's details are not 404.

    An availability check whose body is invalid may be refused for that first (400): the
    documents do not order the two.
    """
    text = _product_id(exchange)
    product_id = _strict_id(text) if text is not None else None
    if product_id is None or exchange.status in (401, RETRY_LATER) or _undecided(exchange):
        return
    listed = product_id in known_ids
    if listed and exchange.method == "GET" and exchange.status == 404:
        raise RuleViolation(UNKNOWN_PRODUCT_404, f"product {product_id} is listed, details 404")
    if listed:
        return
    if exchange.method == "POST" and not _availability_body_is_valid(exchange):
        return
    applies(UNKNOWN_PRODUCT_404, exchange)
    if exchange.status == 404:
        return
    raise RuleViolation(
        UNKNOWN_PRODUCT_404,
        f"{exchange.method} {exchange.path}: id {product_id}, which no product has, answered "
        f"{exchange.status}, not 404",
    )


# --- The availability body (P4) ----------------------------------------------------------------

DENOMINATION_LIMITS = (Decimal("0.01"), Decimal(1_000_000_000))
AVAILABILITY_FIELDS = frozenset({"denomination", "quantity"})


def _availability_body(exchange: Exchange) -> Any:
    """The availability body as written (numbers exact), NO_BODY when none was sent, or None
    when this is no availability check with a JSON Content-Type and a JSON body (E3 judges the
    others)."""
    if exchange.method != "POST" or not AVAILABILITY_PATH.search(exchange.path):
        return None
    if not sends_json(exchange):
        return None
    if not exchange.request_body:  # a sender that keeps only the parsed body (the load users)
        return NO_BODY if exchange.request_json is None else exchange.request_json
    try:
        return json_as_written(exchange.request_body)
    except RecursionError:
        return None  # valid JSON nested past what can be read here: not judged
    except ValueError:
        return None  # not JSON at all (NaN, a cut body): E3's, post_requires_json judges it


#: An availability check that sent no body at all.
NO_BODY: Any = object()


def _exact_number(body: Any, name: str) -> Decimal | str:
    """The field `name` of an availability body as the exact number written, or why it is
    plainly no number (no object, no such field, another type)."""
    if not isinstance(body, dict):
        return "no JSON object for a body" if body is not NO_BODY else "no body"
    if name not in body:
        return f"no {name}"
    value = body[name]
    if not isinstance(value, int | float | Decimal) or isinstance(value, bool):
        return f"a {name} of type {type(value).__name__}"
    exact = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    return exact if exact.is_finite() else f"{name} {str(value)[:30]}"


def _denomination_problem(body: Any) -> str | None:
    """Why this body's denomination is plainly outside P4, or None when it is within."""
    exact = _exact_number(body, "denomination")
    if isinstance(exact, str):
        return exact
    low, high = DENOMINATION_LIMITS
    return None if low <= exact <= high else f"denomination {str(exact)[:30]}"


def _quantity_problem(body: Any) -> str | None:
    """Why this body's quantity is plainly not an integer ≥ 1 (P4), or None when it is one."""
    exact = _exact_number(body, "quantity")
    if isinstance(exact, str):
        return exact
    integral = exact == exact.to_integral_value()
    return None if integral and exact >= 1 else f"quantity {str(exact)[:30]}"


def _availability_body_is_valid(exchange: Exchange) -> bool:
    """A body every reading accepts: exactly the two fields, both within P4, nothing undecided."""
    body = _availability_body(exchange)
    return (
        isinstance(body, dict)
        and set(body) == AVAILABILITY_FIELDS
        and _denomination_problem(body) is None
        and _quantity_problem(body) is None
        and not _undecided(exchange)
    )


def _judge_availability_field(
    exchange: Exchange, rule: Rule, problem_of: Callable[[Any], str | None]
) -> None:
    body = _availability_body(exchange)
    if body is None or exchange.status in (401, RETRY_LATER) or _undecided(exchange):
        return
    problem = problem_of(body)
    if problem is not None:
        applies(rule, exchange)
    # An unknown product may be reported first (404): the documents do not order the two.
    if problem is not None and exchange.status not in (400, 404):
        raise RuleViolation(
            rule, f"POST {exchange.path} with {problem} answered {exchange.status}, not 400"
        )
    id_text = _product_id(exchange)
    well_formed_id = id_text is not None and _strict_id(id_text) is not None
    if problem is None and exchange.status == 400 and well_formed_id:
        if _availability_body_is_valid(exchange):
            raise RuleViolation(
                rule,
                f"POST {exchange.path} with the valid body {exchange.request_body[:80]!r} was "
                "refused (400)",
            )


@judges(DENOMINATION_BOUNDS)
@unless_refused_by_http_layer
def denomination_is_bounded(exchange: Exchange) -> None:
    """P4: an availability body whose denomination is missing, not a number, or outside 0.01 to
    1,000,000,000 → 400; a body valid in every reading is never refused (400).

    Numbers are judged as written (`0.009999999999999999999` is below the bound even though its
    nearest double is not); undecided bodies (readings.py) may get either answer.
    """
    _judge_availability_field(exchange, DENOMINATION_BOUNDS, _denomination_problem)


@judges(QUANTITY_BOUNDS)
@unless_refused_by_http_layer
def quantity_is_bounded(exchange: Exchange) -> None:
    """P4: an availability body whose quantity is missing, not a number, not integral or below
    1 → 400 (no maximum is documented); a body valid in every reading is never refused (400).

    `1.0`, `1e2` and integers past 2**53 are undecided (readings.py) and not judged here.
    """
    _judge_availability_field(exchange, QUANTITY_BOUNDS, _quantity_problem)

"""The hand-written contract (openapi/octopus-cards.yaml) as a specification of its own.

The spec is what schemathesis generates requests from and validates responses against, so a
bound that drifts from the documents (a `maximum: 1000` where products-api.txt says 10,000) or an
example that contradicts its schema silently weakens every contract run. These tests pin the
documented numbers straight from the parsed document, validate every example against its schema,
and tie every `x-rule` to the rule catalogue and every catalogued rule to TRACEABILITY.md.
Fast and offline: nothing here opens a socket.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from octopus_qa.ksuids import new_ksuid
from octopus_qa.rules import RULES
from octopus_qa.spec import SPEC_PATH, load_spec

SPEC_URI = "urn:octopus-cards:openapi"
TRACEABILITY_PATH = SPEC_PATH.parent / "TRACEABILITY.md"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: ASSUMPTIONS E4: the statuses the documents name, plus 429 which a server may send under load.
DOCUMENTED_STATUSES = {"200", "204", "400", "401", "404", "429", "500"}
#: Keywords whose values are subschemas (a schema or a list/map of schemas).
SUBSCHEMA_KEYWORDS = ("items", "additionalProperties", "not", "contains", "propertyNames")
SUBSCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMA_MAP_KEYWORDS = ("properties", "patternProperties", "$defs")


# --- Navigating the document -------------------------------------------------------------------


def escape(token: str) -> str:
    """One JSON Pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def resolve(spec: Mapping[str, Any], node: Any) -> Any:
    """Follow local `$ref`s until a real object (responses, headers, parameters are $refs)."""
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = spec
        for token in pointer_tokens(str(node["$ref"])):
            target = target[token]
        node = target
    return node


def pointer_tokens(ref: str) -> list[str]:
    """The reference tokens of a local `#/...` reference, unescaped (RFC 6901)."""
    assert ref.startswith("#/"), f"only local references are expected, got {ref}"
    return [t.replace("~1", "/").replace("~0", "~") for t in ref[2:].split("/")]


def operations(spec: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def operation_label(path: str, method: str) -> str:
    return f"{method.upper()} {path}"


def operation_parameters(spec: Mapping[str, Any], operation: Mapping[str, Any]) -> dict[str, Any]:
    """The operation's parameters by name, $refs resolved."""
    resolved = (resolve(spec, p) for p in operation.get("parameters", []))
    return {p["name"]: p for p in resolved}


def responses(spec: Mapping[str, Any], operation: Mapping[str, Any]) -> dict[str, Any]:
    return {status: resolve(spec, r) for status, r in operation["responses"].items()}


def walk(node: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    """Every mapping in the document with its JSON Pointer."""
    if isinstance(node, Mapping):
        yield pointer, node
        for key, value in node.items():
            yield from walk(value, f"{pointer}/{escape(str(key))}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{pointer}/{index}")


def subschemas(schema: Any, pointer: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """A schema and every schema nested in it, with pointers."""
    if not isinstance(schema, Mapping):
        return
    yield pointer, schema
    for keyword in SUBSCHEMA_KEYWORDS:
        yield from subschemas(schema.get(keyword), f"{pointer}/{keyword}")
    for keyword in SUBSCHEMA_LIST_KEYWORDS:
        for index, sub in enumerate(schema.get(keyword, [])):
            yield from subschemas(sub, f"{pointer}/{keyword}/{index}")
    for keyword in SUBSCHEMA_MAP_KEYWORDS:
        for name, sub in schema.get(keyword, {}).items():
            yield from subschemas(sub, f"{pointer}/{keyword}/{escape(name)}")


def schema_roots(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Top-level schemas: components/schemas and every `schema` of a parameter, header or media type."""
    for name, schema in spec["components"]["schemas"].items():
        yield f"/components/schemas/{escape(name)}", schema
    for pointer, node in walk(spec):
        if "/components/schemas/" in pointer:
            continue
        if isinstance(node.get("schema"), Mapping):
            yield f"{pointer}/schema", node["schema"]


def all_schemas(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for pointer, schema in schema_roots(spec):
        yield from subschemas(schema, pointer)


def example_cases(spec: Mapping[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """(where the example is, its value, pointer of the schema it must satisfy).

    Covers `example`/`examples` of parameters, headers and media types (Example Objects, $refs
    resolved), and `examples`/`default` inside schemas.
    """
    for pointer, holder in walk(spec):
        if "/components/schemas/" in pointer or not isinstance(holder.get("schema"), Mapping):
            continue
        schema_pointer = f"{pointer}/schema"
        if "example" in holder:
            yield f"{pointer}/example", holder["example"], schema_pointer
        for name, example in holder.get("examples", {}).items():
            yield f"{pointer}/examples/{name}", resolve(spec, example)["value"], schema_pointer
    for pointer, schema in all_schemas(spec):
        for index, value in enumerate(schema.get("examples", [])):
            yield f"{pointer}/examples/{index}", value, pointer
        if "default" in schema:
            yield f"{pointer}/default", schema["default"], pointer


def validator_for(spec: Mapping[str, Any], schema_pointer: str) -> Draft202012Validator:
    """A Draft 2020-12 validator for the schema at `schema_pointer`, its $refs resolved in the spec."""
    registry: Registry[Any] = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{schema_pointer}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def schema_errors(spec: Mapping[str, Any], schema_pointer: str, value: Any) -> list[str]:
    return [e.message for e in validator_for(spec, schema_pointer).iter_errors(value)]


def x_values(node: Mapping[str, Any], key: str) -> list[str]:
    """An `x-` extension's value as a list (it may be one string or a list of them)."""
    value = node.get(key, [])
    return [value] if isinstance(value, str) else list(value)


SPEC = load_spec()
OPERATIONS = list(operations(SPEC))
OPERATION_IDS = [operation_label(path, method) for path, method, _ in OPERATIONS]
PROTECTED = [(p, m, o) for p, m, o in OPERATIONS if o["operationId"] != "login"]
SCHEMAS = SPEC["components"]["schemas"]
PARAMETERS = SPEC["components"]["parameters"]
HEADERS = SPEC["components"]["headers"]
EXAMPLES = SPEC["components"]["examples"]


def schema_of(name: str) -> dict[str, Any]:
    return dict(SCHEMAS[name])


def parameter_schema(name: str) -> dict[str, Any]:
    return dict(PARAMETERS[name]["schema"])


# --- The document as a whole -------------------------------------------------------------------


def test_spec_is_valid_openapi_3_1() -> None:
    assert SPEC["openapi"] == "3.1.0"
    validate_openapi(copy.deepcopy(SPEC))


def test_spec_names_the_live_and_the_local_sandbox() -> None:
    urls = [server["url"] for server in SPEC["servers"]]
    assert urls == ["https://sandbox-api.octopuscards.io", "http://127.0.0.1:8080"]


def test_spec_specifies_exactly_the_documented_operations() -> None:
    assert sorted(OPERATION_IDS) == sorted(
        [
            "POST /auth/login",
            "POST /auth/refresh",
            "POST /auth/logout",
            "GET /api/v1/products",
            "GET /api/v1/products/{id}",
            "POST /api/v1/products/{id}/availability",
        ]
    )


def test_schemathesis_loads_every_operation_and_link() -> None:
    import schemathesis

    schema = schemathesis.openapi.from_path(SPEC_PATH)
    labels = sorted(result.ok().label for result in schema.get_all_operations())
    assert labels == sorted(OPERATION_IDS)
    transitions = schema.as_state_machine()._transitions.operations
    links = [link.full_name for t in transitions.values() for link in t.outgoing]
    assert "GET /api/v1/products -> [200] GetFirstProduct -> GET /api/v1/products/{id}" in links


# --- Examples ----------------------------------------------------------------------------------

EXAMPLE_CASES = list(example_cases(SPEC))


def test_the_document_carries_examples_to_check() -> None:
    # Guards the walk below: if it found nothing, every example test would pass vacuously.
    assert len(EXAMPLE_CASES) >= 20


@pytest.mark.parametrize(
    ("where", "value", "schema_pointer"), EXAMPLE_CASES, ids=[c[0] for c in EXAMPLE_CASES]
)
def test_example_matches_its_schema(where: str, value: Any, schema_pointer: str) -> None:
    assert schema_errors(SPEC, schema_pointer, value) == []


def test_example_validation_catches_an_example_outside_the_bounds() -> None:
    broken = copy.deepcopy(SPEC)
    broken["components"]["examples"]["AvailabilityStandard"]["value"]["denomination"] = 0.001
    broken["components"]["examples"]["UnauthorizedError"]["value"]["error"]["code"] = "NOT_FOUND"
    failing = {
        where
        for where, value, pointer in example_cases(broken)
        if schema_errors(broken, pointer, value)
    }
    assert any("standardPurchase" in where for where in failing)
    assert any("invalidOrExpiredToken" in where for where in failing)


def test_example_validation_checks_date_time_format() -> None:
    pointer = "/components/schemas/TokenPair/properties/expires_at"
    assert schema_errors(SPEC, pointer, "2025-01-15T18:30:00+05:30") == []
    assert schema_errors(SPEC, pointer, "15/01/2025 13:00") != []


def test_documented_products_are_the_examples() -> None:
    listed = EXAMPLES["ProductList"]["value"]
    assert [(p["id"], p["name"]) for p in listed] == [
        (1001, "Amazon Gift Card - USD"),
        (2001, "Google Play Gift Card - USD"),
    ]
    details = EXAMPLES["ProductDetails"]["value"]
    assert details["id"] == 1001
    assert {"terms", "details", "how_to_use"} <= details.keys()
    assert {k: v for k, v in details.items() if k not in ("terms", "details", "how_to_use")} == (
        listed[0]
    )


def test_documented_availability_requests_and_response_are_the_examples() -> None:
    assert EXAMPLES["AvailabilityStandard"]["value"] == {"denomination": 100.0, "quantity": 2}
    assert EXAMPLES["AvailabilityLargeQuantity"]["value"] == {"denomination": 50.0, "quantity": 100}
    assert EXAMPLES["Available"]["value"] == {"is_available": True}


@pytest.mark.parametrize(
    ("example", "message"),
    [
        ("BadRequestError", "Invalid product ID"),
        ("UnauthorizedError", "Invalid or expired access token"),
        ("NotFoundError", "Product not found"),
        ("InternalServerError", "Failed to retrieve product"),
    ],
)
def test_documented_error_bodies_are_the_examples(example: str, message: str) -> None:
    assert EXAMPLES[example]["value"]["error"]["message"] == message


# --- Headers -----------------------------------------------------------------------------------

RESPONSE_CASES = [
    (operation_label(p, m), status, response)
    for p, m, o in OPERATIONS
    for status, response in responses(SPEC, o).items()
]


@pytest.mark.parametrize(
    ("operation", "status", "response"),
    RESPONSE_CASES,
    ids=[f"{o} {s}" for o, s, _ in RESPONSE_CASES],
)
def test_every_response_declares_x_request_id(
    operation: str, status: str, response: Mapping[str, Any]
) -> None:
    header = resolve(SPEC, response.get("headers", {}).get("X-Request-Id"))
    assert header is not None, f"{operation} {status} does not declare X-Request-Id"
    assert header["required"] is True
    assert header["schema"]["pattern"] == "^[0-9A-Za-z]{27}$"


def test_x_request_id_pattern_accepts_a_ksuid_and_nothing_shorter() -> None:
    pattern = re.compile(HEADERS["X-Request-Id"]["schema"]["pattern"])
    ksuid = new_ksuid()
    assert pattern.fullmatch(ksuid)
    assert not pattern.fullmatch(ksuid[:-1])
    assert not pattern.fullmatch(ksuid[:-1] + "-")


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=OPERATION_IDS)
def test_every_operation_accepts_an_optional_x_request_id(
    path: str, method: str, operation: Mapping[str, Any]
) -> None:
    parameter = operation_parameters(SPEC, operation)["X-Request-Id"]
    assert parameter["in"] == "header"
    assert parameter["required"] is False
    # H3: a value that is not a KSUID is replaced, not refused: the request schema accepts any string.
    assert parameter["schema"] == {"type": "string"}


def test_list_200_declares_all_six_pagination_headers() -> None:
    listing = responses(SPEC, SPEC["paths"]["/api/v1/products"]["get"])["200"]
    headers = {name: resolve(SPEC, h) for name, h in listing["headers"].items()}
    integers = ["X-Page", "X-Per-Page", "X-Total-Count", "X-Total-Pages", "X-Page-Size"]
    for name in integers:
        assert headers[name]["required"] is True, name
        assert headers[name]["schema"]["type"] == "integer", name
    assert headers["X-Has-More"]["required"] is True
    assert headers["X-Has-More"]["schema"] == {"type": "string", "enum": ["true", "false"]}
    assert headers["X-Page"]["schema"]["minimum"] == 1
    assert headers["X-Per-Page"]["schema"]["maximum"] == 10000


# --- Security and statuses ---------------------------------------------------------------------


def test_login_alone_needs_no_token() -> None:
    login = SPEC["paths"]["/auth/login"]["post"]
    assert login["security"] == []
    assert SPEC["security"] == [{"bearerAuth": []}]
    scheme = SPEC["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")


@pytest.mark.parametrize(
    ("path", "method", "operation"), PROTECTED, ids=[operation_label(p, m) for p, m, _ in PROTECTED]
)
def test_protected_operation_requires_a_bearer_token_and_declares_401(
    path: str, method: str, operation: Mapping[str, Any]
) -> None:
    requirements = operation.get("security", SPEC["security"])
    assert requirements, "a protected operation must require a token"
    for requirement in requirements:
        for name in requirement:
            scheme = SPEC["components"]["securitySchemes"][name]
            assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "401" in operation["responses"]


def test_refresh_takes_the_refresh_token_and_logout_the_access_token() -> None:
    assert SPEC["paths"]["/auth/refresh"]["post"]["security"] == [{"refreshToken": []}]
    assert "security" not in SPEC["paths"]["/auth/logout"]["post"]  # the global bearerAuth


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=OPERATION_IDS)
def test_operation_declares_only_documented_statuses_and_500(
    path: str, method: str, operation: Mapping[str, Any]
) -> None:
    statuses = set(operation["responses"])
    assert statuses <= DOCUMENTED_STATUSES
    assert "500" in statuses
    assert "400" in statuses  # every operation validates something: a body, parameters or E3


@pytest.mark.parametrize("path", ["/api/v1/products/{id}", "/api/v1/products/{id}/availability"])
def test_operations_on_a_product_id_declare_404(path: str) -> None:
    (operation,) = SPEC["paths"][path].values()
    assert "404" in operation["responses"]


def test_logout_answers_204_with_no_body() -> None:
    logout = responses(SPEC, SPEC["paths"]["/auth/logout"]["post"])
    assert "content" not in logout["204"]
    assert "200" not in logout


@pytest.mark.parametrize(
    ("schema", "name", "code"),
    [
        ("BadRequestError", "BadRequestError", "BAD_REQUEST"),
        ("UnauthorizedError", "UnauthorizedError", "UNAUTHORIZED"),
        ("NotFoundError", "NotFoundError", "NOT_FOUND"),
        ("InternalServerError", "InternalServerError", "INTERNAL_SERVER_ERROR"),
    ],
)
def test_error_schema_fixes_the_documented_name_and_code(schema: str, name: str, code: str) -> None:
    pointer = f"/components/schemas/{schema}"
    body = {"error": {"name": name, "code": code, "message": "any text"}}
    assert schema_errors(SPEC, pointer, body) == []
    assert schema_errors(SPEC, pointer, {"error": {**body["error"], "code": "OTHER"}}) != []
    assert schema_errors(SPEC, pointer, {"error": {**body["error"], "name": "OtherError"}}) != []
    assert schema_errors(SPEC, pointer, {"error": {"name": name, "code": code}}) != []


@pytest.mark.parametrize(
    ("status", "schema"),
    [
        ("400", "BadRequestError"),
        ("401", "UnauthorizedError"),
        ("404", "NotFoundError"),
        ("500", "InternalServerError"),
    ],
)
def test_every_error_response_uses_its_status_schema(status: str, schema: str) -> None:
    for path, method, operation in OPERATIONS:
        response = responses(SPEC, operation).get(status)
        if response is not None:
            declared = response["content"]["application/json"]["schema"]["$ref"]
            assert declared == f"#/components/schemas/{schema}", f"{method} {path} {status}"


# --- The documented bounds, read straight from the schema --------------------------------------


def test_page_is_an_integer_of_at_least_one_defaulting_to_one() -> None:
    assert parameter_schema("Page") == {"type": "integer", "minimum": 1, "default": 1}


def test_limit_is_an_integer_from_one_to_ten_thousand_defaulting_to_fifty() -> None:
    assert parameter_schema("Limit") == {
        "type": "integer",
        "minimum": 1,
        "maximum": 10000,
        "default": 50,
    }


@pytest.mark.parametrize("name", ["Category", "CountryId", "CurrencyId"])
def test_filters_are_free_strings(name: str) -> None:
    # L6: a filter that matches nothing is 200 with []: no value of a filter is a 400.
    assert parameter_schema(name) == {"type": "string"}


def test_sort_is_a_json_object_of_field_and_direction_defaulting_to_id_descending() -> None:
    content = PARAMETERS["Sort"]["content"]
    assert list(content) == ["application/json"]
    sort = schema_of("Sort")
    assert sort["type"] == "object"
    # Neither key is required (a missing one takes the default); no other key is allowed.
    assert "required" not in sort
    assert sort["additionalProperties"] is False
    assert sort["properties"]["direction"]["enum"] == ["ASC", "DESC"]
    assert {"id", "name"} <= set(sort["properties"]["field"]["enum"])
    assert sort["default"] == {"field": "id", "direction": "DESC"}


def test_product_id_is_an_integer_above_zero() -> None:
    assert PARAMETERS["ProductId"]["in"] == "path"
    assert parameter_schema("ProductId") == {"type": "integer", "minimum": 1}
    assert schema_of("Product")["properties"]["id"]["minimum"] == 1


def test_denomination_is_a_number_from_one_cent_to_one_billion() -> None:
    denomination = schema_of("AvailabilityRequest")["properties"]["denomination"]
    assert denomination["type"] == "number"
    assert denomination["minimum"] == 0.01
    assert denomination["maximum"] == 1_000_000_000


def test_quantity_is_an_integer_of_at_least_one_without_maximum() -> None:
    quantity = schema_of("AvailabilityRequest")["properties"]["quantity"]
    assert quantity["type"] == "integer"
    assert quantity["minimum"] == 1
    assert "maximum" not in quantity


def test_availability_body_requires_denomination_and_quantity() -> None:
    assert schema_of("AvailabilityRequest")["required"] == ["denomination", "quantity"]
    body = SPEC["components"]["requestBodies"]["AvailabilityRequest"]
    assert body["required"] is True
    assert list(body["content"]) == ["application/json"]


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"denomination": 0.01, "quantity": 1}, True),
        ({"denomination": 1_000_000_000, "quantity": 1}, True),
        ({"denomination": 0.009, "quantity": 1}, False),
        ({"denomination": 1_000_000_000.01, "quantity": 1}, False),
        ({"denomination": 10, "quantity": 0}, False),
        ({"denomination": 10, "quantity": 1.5}, False),
        ({"denomination": "10", "quantity": 1}, False),
        ({"quantity": 1}, False),
        ({"denomination": 10}, False),
    ],
)
def test_availability_body_bounds_are_enforced_by_the_schema(
    body: dict[str, Any], valid: bool
) -> None:
    assert (schema_errors(SPEC, "/components/schemas/AvailabilityRequest", body) == []) is valid


def test_discount_is_a_percentage() -> None:
    discount = schema_of("Denomination")["properties"]["discount"]
    assert (discount["minimum"], discount["maximum"]) == (0, 100)
    assert schema_of("Denomination")["required"] == ["min_value", "max_value"]


def test_product_requires_exactly_the_documented_fields() -> None:
    product = schema_of("Product")
    assert set(product["required"]) == {
        "id",
        "name",
        "category",
        "sub_category",
        "country_code",
        "currency_code",
        "image_url",
        "delivery_mode",
        "delivery_time",
        "validity",
        "available_denominations",
    }
    optional = set(product["properties"]) - set(product["required"])
    assert optional == {"terms", "details", "how_to_use"}


@pytest.mark.parametrize("field", ["country_code", "currency_code"])
def test_country_and_currency_codes_are_three_capital_letters(field: str) -> None:
    assert schema_of("Product")["properties"][field]["pattern"] == "^[A-Z]{3}$"


def test_tokens_have_the_assumed_shape() -> None:
    tokens = schema_of("TokenPair")
    assert set(tokens["required"]) == {
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "expires_at",
    }
    assert tokens["properties"]["token_type"]["const"] == "Bearer"
    assert tokens["properties"]["expires_in"]["type"] == "integer"
    assert schema_of("LoginRequest")["required"] == ["username", "password"]


def test_every_date_field_is_rfc3339() -> None:
    date_fields = [
        (pointer, schema)
        for pointer, schema in all_schemas(SPEC)
        if pointer.rsplit("/", 1)[-1].endswith("_at")
    ]
    assert date_fields, "expires_at at least"
    for pointer, schema in date_fields:
        assert schema.get("format") == "date-time", pointer


# --- Traceability ------------------------------------------------------------------------------

ANNOTATED = [(pointer, node) for pointer, node in walk(SPEC) if "x-rule" in node]


def test_every_x_rule_names_a_catalogued_rule() -> None:
    assert ANNOTATED
    unknown = {
        (pointer, rule)
        for pointer, node in ANNOTATED
        for rule in x_values(node, "x-rule")
        if rule not in RULES
    }
    assert unknown == set()


@pytest.mark.parametrize(("pointer", "node"), ANNOTATED, ids=[p for p, _ in ANNOTATED])
def test_annotated_constraint_cites_its_basis(pointer: str, node: Mapping[str, Any]) -> None:
    """A documented rule cites the document (x-doc), an assumed one the ASSUMPTIONS item."""
    rules = [RULES[rule] for rule in x_values(node, "x-rule")]
    if any(not rule.assumed for rule in rules):
        assert node.get("x-doc"), "documented rule without x-doc"
    if any(rule.assumed for rule in rules):
        assert node.get("x-assumed"), "assumed rule without x-assumed"


def test_x_assumed_names_assumptions_items() -> None:
    items = [v for _, node in walk(SPEC) for v in x_values(node, "x-assumed")]
    assert items
    assert [v for v in items if not re.fullmatch(r"[AEHLP][1-9]", v)] == []


def test_traceability_keeps_the_discrepancies() -> None:
    """Its rule table is held to the declarations by tests/test_rules_traceability.py."""
    text = TRACEABILITY_PATH.read_text(encoding="utf-8")
    assert "## Discrepancies in the documents" in text


def test_token_example_expiry_matches_its_jwt_exp_claim() -> None:
    from datetime import datetime

    from octopus_qa.target.session import token_expiry

    tokens = EXAMPLES["TokenPair"]["value"]
    expires_at = datetime.fromisoformat(tokens["expires_at"]).timestamp()
    assert token_expiry(tokens["access_token"]) == expires_at


def test_schemathesis_sends_sort_as_a_json_object_in_the_query() -> None:
    """The `content: application/json` parameter must reach the wire as JSON text, not `field=…`."""
    import json

    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings

    listing = schemathesis.openapi.from_path(SPEC_PATH)["/api/v1/products"]["GET"]
    sent: list[str] = []

    @given(case=listing.as_strategy())
    @settings(
        max_examples=30,
        phases=[Phase.generate],
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def generate(case: Any) -> None:
        if "sort" in (case.query or {}):
            sent.append(case.query["sort"])

    generate()
    assert sent, "30 generated listings without a sort"
    for text in sent:
        sort = json.loads(text)
        assert isinstance(sort, dict)
        assert set(sort) <= {"field", "direction"}
        assert sort.get("direction", "DESC") in ("ASC", "DESC")

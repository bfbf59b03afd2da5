"""Failing exchanges as HAR 1.2 (report/har.py): valid against the schema HAR tools validate
with (har-schema 2.0.0, the one har-validator uses, vendored in tests/har_schema/), and
scrubbed like every other artifact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT6

from octopus_qa.contract.tokens import Secrets
from octopus_qa.report.har import har_entry, write_har
from octopus_qa.rules import Exchange

SCHEMA_DIR = Path(__file__).parent / "har_schema"


def har_validator() -> jsonschema.Draft6Validator:
    """The vendored schema, its files resolving each other's `$ref` by file name."""
    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text()), DRAFT6))
        for path in SCHEMA_DIR.glob("*.json")
    ]
    registry: Registry[Any] = Registry().with_resources(resources)
    root = json.loads((SCHEMA_DIR / "har.json").read_text())
    return jsonschema.Draft6Validator(root, registry=registry)


def assert_valid_har(document: Any) -> None:
    errors = sorted(har_validator().iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def login_exchange(password: str, token: str) -> Exchange:
    body = json.dumps({"username": "demo@octopus.example", "password": password}).encode()
    return Exchange(
        method="POST",
        path="/auth/login",
        status=200,
        headers={"content-type": "application/json", "x-request-id": "2QfQk0bH9YbdqRUaPKoVxXsUvAt"},
        body=json.dumps({"access_token": token, "token_type": "Bearer"}).encode(),
        request_headers={"content-type": "application/json"},
        request_body=body,
        request_body_sent=True,
    )


def test_a_failing_exchange_is_a_valid_har_entry_with_its_request_and_answer() -> None:
    exchange = Exchange(
        method="GET",
        path="/api/v1/products",
        status=200,
        headers={"content-type": "application/json"},
        body=b'[{"id": 7}]',
        query={"category": "Gift Cards", "limit": "10"},
        request_headers={"authorization": "Bearer $OCTOPUS_TOKEN"},
    )
    entry = har_entry(exchange, "http://127.0.0.1:8080/", comment="[filters-match] ...")
    assert_valid_har({"log": {"version": "1.2", "creator": {"name": "t", "version": "0"},
                              "entries": [entry]}})  # fmt: skip
    assert entry["request"]["url"] == (
        "http://127.0.0.1:8080/api/v1/products?category=Gift+Cards&limit=10"
    )
    assert entry["response"]["content"]["text"] == '[{"id": 7}]'
    assert entry["response"]["statusText"] == "OK" and entry["comment"] == "[filters-match] ..."


def test_the_har_file_is_valid_and_holds_no_secret(tmp_path: Path) -> None:
    password, token = "a-password-of-our-own", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZW1vIn0.c2ln"
    secrets = Secrets((password, token))
    path = write_har(
        tmp_path / "failures.har",
        [har_entry(login_exchange(password, token), "http://127.0.0.1:1")],
        secrets.scrub,
        "0.1.0",
    )
    assert path is not None
    text = path.read_text(encoding="utf-8")
    assert password not in text and token not in text
    document = json.loads(text)
    assert_valid_har(document)
    assert document["log"]["entries"][0]["request"]["postData"]["mimeType"] == "application/json"


def test_no_failure_writes_no_file(tmp_path: Path) -> None:
    assert write_har(tmp_path / "failures.har", [], str, "0.1.0") is None
    assert not (tmp_path / "failures.har").exists()


def test_the_validator_refuses_a_broken_har() -> None:
    """The schema check can fail: an entry without its response is refused."""
    errors = list(har_validator().iter_errors(
        {"log": {"version": "1.2", "creator": {"name": "t", "version": "0"},
                 "entries": [{"startedDateTime": "2026-12-06T08:00:00Z", "time": 0}]}}
    ))  # fmt: skip
    assert errors

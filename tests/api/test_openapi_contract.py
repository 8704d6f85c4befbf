"""/openapi.json states what the server enforces: statuses, bounds, characters, optional token."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from bitimage.config import Settings
from bitimage.images.summaries import MAX_LIMIT
from bitimage.textrules import EMAIL, NOT_BLANK, PLAIN_TEXT, VISIBLE_TEXT


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    doc: dict[str, Any] = answer.json()
    return doc


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _param(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    for param in document["paths"][path][method]["parameters"]:
        if param["name"] == name:
            schema: dict[str, Any] = param["schema"]
            first: dict[str, Any] = schema.get("anyOf", [schema])[0]
            return first
    raise AssertionError(f"{name} is not a parameter of {method.upper()} {path}")


def _component(document: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


def test_every_route_documents_its_error_answers(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        answers = operation["responses"]
        label = f"{method} {path}"
        for status, answer in answers.items():
            if status >= "400":
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, label
        if operation.get("parameters") or "requestBody" in operation:
            assert "400" in answers, label
        if "security" in operation:
            assert "401" in answers, label
        body = operation.get("requestBody", {}).get("content", {})
        if "application/json" in body:
            assert "413" in answers, label
        if path.startswith("/api/") or path in ("/cas/signup", "/cas/loginSubmit", "/healthz"):
            assert "503" in answers, label
        assert "422" not in answers or path == "/api/v1/images", label


def test_the_token_is_optional_only_where_it_is(document: dict[str, Any]) -> None:
    images = "/api/v1/images"
    optional = ("expanded", "similar")  # a public image needs no token
    for view in optional:
        assert document["paths"][f"{images}/{{image_id}}/{view}"]["get"]["security"] == [
            {"HTTPBearer": []},
            {},
        ]
    assert "security" not in document["paths"][f"{images}/public/summary"]["get"]
    for method, path, operation in _operations(document):
        if (
            path.startswith("/api/")
            and "public" not in path
            and path.split("/")[-1] not in optional
        ):
            assert operation["security"] == [{"HTTPBearer": []}], f"{method} {path}"


def test_bounds_are_in_the_schema(document: dict[str, Any]) -> None:
    defaults = Settings()
    count = _param(document, "/api/v1/images/upload_urls", "get", "image_count")
    assert (count["minimum"], count["maximum"]) == (1, defaults.upload_urls_max)
    for scope in ("public", "private"):
        path = f"/api/v1/images/{scope}/summary"
        limit = _param(document, path, "get", "limit")
        assert (limit["minimum"], limit["maximum"]) == (1, MAX_LIMIT)
        for name in ("name", "tag", "content_label", "text"):
            rule = _param(document, path, "get", name)
            assert (rule["pattern"], rule["maxLength"]) == (PLAIN_TEXT, 255), name
        confidence = _param(document, path, "get", "min_confidence")
        assert (confidence["minimum"], confidence["maximum"]) == (0, 1)
    notify = _component(document, "NotifyRequest")["properties"]["images"]
    assert (notify["minItems"], notify["maxItems"]) == (1, defaults.notify_batch_max)
    image = _component(document, "NotifyImage")["properties"]
    assert image["name"]["pattern"] == VISIBLE_TEXT
    assert _component(document, "TagIn")["properties"]["name"]["pattern"] == VISIBLE_TEXT


def test_credentials_rules_are_in_the_schema(document: dict[str, Any]) -> None:
    signup = _component(document, "SignupCredentials")["properties"]
    assert signup["email"]["pattern"] == EMAIL
    assert (signup["password"]["minLength"], signup["password"]["pattern"]) == (8, NOT_BLANK)
    assert _component(document, "Credentials")["properties"]["email"]["pattern"] == EMAIL


def test_signup_refuses_what_the_schema_refuses(client: TestClient) -> None:
    for body in (
        {"email": "not-an-email", "password": "long enough"},
        {"email": " a@b.co", "password": "long enough"},
        {"email": "a@b.co", "password": "short"},
        {"email": "a@b.co", "password": " " * 12},
    ):
        assert client.post("/cas/signup", json=body).status_code == 400, body
    answer = client.post("/cas/signup", json={"email": "A@B.co", "password": "long enough"})
    assert answer.status_code == 201
    assert answer.json()["email"] == "a@b.co"

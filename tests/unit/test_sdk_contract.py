"""The SDK's models against the server's /openapi.json: the two cannot drift.

The app's schema is built in-process. For every answer the SDK parses, each field the server
declares must be in the SDK model with the same type and nullability, required on both sides
or on neither (with the same default), and the SDK may expect no field the server does not
declare. Payloads generated from the server's schema must then parse with the SDK's models.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from bitimage import client
from bitimage.app import create_app
from bitimage.bootstrap import bootstrap
from bitimage.client import models as sdk
from tests.support import make_settings

Schema = dict[str, Any]

# Each SDK model and the answers it parses: (method, path, status) in /openapi.json.
PARSED: dict[type[BaseModel], list[tuple[str, str, str]]] = {
    sdk.SignupAnswer: [("post", "/cas/signup", "201")],
    sdk.LoginAnswer: [("post", "/cas/loginSubmit", "202")],
    sdk.Authorization: [("post", "/cas/authorizeUser", "200")],
    sdk.Jwks: [("get", "/cas/.well-known/jwks.json", "200")],
    sdk.AccountCreated: [("post", "/api/v1/users", "201")],
    sdk.Account: [("get", "/api/v1/users/{user_id}", "200")],
    sdk.CallerAccount: [("get", "/api/v1/users/me", "200")],
    sdk.UploadUrls: [("get", "/api/v1/images/upload_urls", "200")],
    sdk.ConfirmedImages: [("post", "/api/v1/images", "201")],
    sdk.SummaryPage: [
        ("get", "/api/v1/images/private/summary", "200"),
        ("get", "/api/v1/images/public/summary", "200"),
    ],
    sdk.SimilarImages: [("get", "/api/v1/images/{image_id}/similar", "200")],
    sdk.DuplicatePage: [("get", "/api/v1/images/duplicates", "200")],
    sdk.HashLookup: [("get", "/api/v1/images/duplicates/lookup", "200")],
    sdk.ExpandedImage: [
        ("get", "/api/v1/images/{image_id}/expanded", "200"),
        ("patch", "/api/v1/images/{image_id}", "200"),
    ],
}
_NOTES = ("title", "description", "examples")  # documentation only: not part of the contract


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Schema]:
    data = tmp_path_factory.mktemp("contract")
    container = bootstrap(make_settings(data, database_url=f"sqlite:///{data}/db.sqlite"))
    try:
        yield create_app(container).openapi()
    finally:
        container.close()


def _answer_schema(spec: Schema, method: str, path: str, status: str) -> Schema:
    answer = spec["paths"][path][method]["responses"][status]
    schema: Schema = answer["content"]["application/json"]["schema"]
    return schema


class Contract:
    """Compares a server schema (with its components) with an SDK model's schema."""

    def __init__(self, server: Schema, sdk_model: type[BaseModel]) -> None:
        self.server_defs: Schema = server.get("components", {}).get("schemas", {})
        sdk_schema = sdk_model.model_json_schema(mode="validation")
        self.sdk_defs: Schema = sdk_schema.pop("$defs", {})
        self.sdk_root = sdk_schema
        self.problems: list[str] = []

    def check(self, server_schema: Schema) -> list[str]:
        """Every difference between the server's answer schema and the SDK model."""
        self._diff(server_schema, self.sdk_root, self.sdk_root.get("title", "?"))
        return self.problems

    def _resolve(self, schema: Schema, defs: Schema) -> Schema:
        while "$ref" in schema:
            schema = defs[schema["$ref"].rsplit("/", 1)[1]]
        return {key: value for key, value in schema.items() if key not in _NOTES}

    def _diff(self, server: Schema, ours: Schema, where: str) -> None:
        s, k = self._resolve(server, self.server_defs), self._resolve(ours, self.sdk_defs)
        if "properties" in s or "properties" in k:
            self._diff_model(s, k, where)
        elif "anyOf" in s or "anyOf" in k:
            s_any, k_any = s.get("anyOf", [s]), k.get("anyOf", [k])
            if sorted(map(_kind, s_any)) != sorted(map(_kind, k_any)):
                self.problems.append(f"{where}: server {_show(s)}, SDK {_show(k)}")
                return
            for s_alt, k_alt in zip(
                sorted(s_any, key=_kind), sorted(k_any, key=_kind), strict=True
            ):
                self._diff(s_alt, k_alt, where)
        else:
            nested = ("items", "additionalProperties")
            s_flat = {key: v for key, v in s.items() if key not in (*nested, "default")}
            k_flat = {key: v for key, v in k.items() if key not in (*nested, "default")}
            if s_flat != k_flat:
                self.problems.append(f"{where}: server {_show(s)}, SDK {_show(k)}")
            for key in nested:
                if isinstance(s.get(key), dict) and isinstance(k.get(key), dict):
                    self._diff(s[key], k[key], f"{where}[]")
                elif s.get(key) != k.get(key):
                    self.problems.append(f"{where}.{key}: server {s.get(key)}, SDK {k.get(key)}")

    def _diff_model(self, s: Schema, k: Schema, where: str) -> None:
        s_props, k_props = s.get("properties", {}), k.get("properties", {})
        s_req, k_req = set(s.get("required", [])), set(k.get("required", []))
        for name in sorted(set(k_props) - set(s_props)):
            self.problems.append(f"{where}.{name}: the SDK expects a field the server never sends")
        for name, prop in s_props.items():
            field = f"{where}.{name}"
            if name not in k_props:
                self.problems.append(f"{field}: the server sends it, the SDK model lacks it")
                continue
            if (name in s_req) != (name in k_req):
                side = "server" if name in s_req else "SDK"
                self.problems.append(f"{field}: required by the {side} only")
            elif name not in s_req and prop.get("default") != k_props[name].get("default"):
                self.problems.append(
                    f"{field}: default {prop.get('default')!r} on the server, "
                    f"{k_props[name].get('default')!r} in the SDK"
                )
            self._diff(prop, k_props[name], field)


def _kind(schema: Schema) -> str:
    return str(schema.get("type") or ("ref" if "$ref" in schema else json.dumps(schema)))


def _show(schema: Schema) -> str:
    return json.dumps(schema, sort_keys=True, default=str)


class Samples:
    """JSON payloads built from a server schema: required fields only, every field, nulls."""

    SAMPLE_ID = "0b9a3f0e-5c53-4c1e-9d7e-2f7a8f6a1c11"

    def __init__(self, defs: Schema) -> None:
        self.defs = defs

    def build(self, schema: Schema, mode: str) -> Any:
        """One payload for `schema`; mode is "required", "full" or "nulls"."""
        while "$ref" in schema:
            schema = self.defs[schema["$ref"].rsplit("/", 1)[1]]
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        if "anyOf" in schema:
            alternatives = schema["anyOf"]
            nulls = [alt for alt in alternatives if alt.get("type") == "null"]
            others = [alt for alt in alternatives if alt.get("type") != "null"]
            return (
                None if (mode == "nulls" and nulls) or not others else self.build(others[0], mode)
            )
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            return self._object(schema, mode)
        if kind == "array":
            return [self.build(schema.get("items", {}), mode)]
        scalars: dict[str, Any] = {"integer": 7, "number": 0.5, "boolean": True, "null": None}
        if kind in scalars:
            return scalars[kind]
        formats = {"uuid": self.SAMPLE_ID, "date-time": "2026-01-02T03:04:05Z"}
        return formats.get(schema.get("format", ""), "text")

    def _object(self, schema: Schema, mode: str) -> dict[str, Any]:
        if "properties" not in schema:
            extra = schema.get("additionalProperties", True)
            return {"key": self.build(extra, mode) if isinstance(extra, dict) else "value"}
        required = set(schema.get("required", []))
        return {
            name: self.build(prop, mode)
            for name, prop in schema["properties"].items()
            if mode != "required" or name in required
        }


def _error_schemas(spec: Schema) -> Iterator[tuple[str, Schema]]:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    schema = answer["content"]["application/json"]["schema"]
                    yield f"{method.upper()} {path} {status}", schema


def _cases() -> list[tuple[type[BaseModel], tuple[str, str, str]]]:
    return [(model, route) for model, routes in PARSED.items() for route in routes]


@pytest.mark.parametrize(
    ("model", "route"),
    [pytest.param(m, r, id=f"{m.__name__} {r[0].upper()} {r[1]}") for m, r in _cases()],
)
def test_every_parsed_answer_matches_the_servers_schema(
    spec: Schema, model: type[BaseModel], route: tuple[str, str, str]
) -> None:
    problems = Contract(spec, model).check(_answer_schema(spec, *route))
    assert problems == [], "\n".join(problems)


def test_the_error_body_matches_on_every_error_answer(spec: Schema) -> None:
    problems = {
        p for _, schema in _error_schemas(spec) for p in Contract(spec, sdk.ErrorBody).check(schema)
    }
    assert not problems, "\n".join(sorted(problems))


@pytest.mark.parametrize("mode", ["required", "full", "nulls"])
def test_payloads_built_from_the_server_schema_parse_with_the_sdk(spec: Schema, mode: str) -> None:
    samples = Samples(spec["components"]["schemas"])
    cases = [(model, _answer_schema(spec, *route)) for model, route in _cases()]
    cases += [(sdk.ErrorBody, schema) for _, schema in _error_schemas(spec)]
    for model, schema in cases:
        payload = samples.build(schema, mode)
        parsed = model.model_validate_json(json.dumps(payload))
        assert parsed.model_dump(mode="json", exclude_unset=True) == payload, model.__name__


def test_every_parsed_model_and_every_json_answer_is_in_the_table(spec: Schema) -> None:
    source = Path(client.__file__).with_name("api.py").read_text()
    parsed = {
        node.args[0].id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "_parse"
        and isinstance(node.args[0], ast.Name)
    }
    assert parsed == {model.__name__ for model in PARSED}
    covered = {route for routes in PARSED.values() for route in routes}
    answers = {
        (method, path, status)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        if status.startswith("2")
        and "$ref" in answer.get("content", {}).get("application/json", {}).get("schema", {})
    }
    assert answers == covered

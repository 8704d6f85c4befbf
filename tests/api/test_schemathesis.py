"""Schemathesis, with every check, finds no difference between /openapi.json and the server.

Runs schemathesis's own engine, as `schemathesis run --checks all` would, against the in-process
app (ASGI transport) built on `container`: every phase (examples, coverage, fuzzing, stateful),
every registered check (`checks.enabled = true`), every operation of the document, including the
local store's /storage routes (with no valid signature they must answer 403/404 as documented).
It runs once without a token and once with the token of a user who has an account, on SQLite
and on PostgreSQL.

Bounded for CI: a fixed seed, derandomized generation (`deterministic`), FUZZ_EXAMPLES examples
per operation and a time cap per run. `make fuzz` sets FUZZ_EXAMPLES and
FUZZ_SEED=random to run it much longer with a new seed.

Excluded, in *positive* cases only (schema-valid inputs, which must not be refused with 400),
two inputs whose validity the OpenAPI language cannot state; the server refuses them with 400
by design, and tests/api/test_errors.py and tests/api/test_analysis.py check that it does:
- `cursor` is dropped: an opaque token the server issued for the same filters; no schema can
  describe which strings the server issued, so any other string is rightly a 400.
- `min_confidence` without a non-empty `content_label` is dropped: a dependency between two
  query parameters (stated in the parameter's description).
Negative cases keep both. No operation and no check is excluded.
"""

from __future__ import annotations

import os
import random
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis import APIOperation, Case, HookContext
from schemathesis.engine import Status, events, from_schema

from bitimage.app import create_app
from bitimage.bootstrap import Container
from tests.support import auth

# A case of any operation of any schema: the hook reads only its metadata and body.
AnyCase = Case[APIOperation[Any, Any, Any, Any]]

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
_SEED = os.environ.get("FUZZ_SEED", "20261206")
MAX_SECONDS = int(os.environ.get("FUZZ_SECONDS", "30"))


def _config(headers: dict[str, str] | None, seed: int) -> schemathesis.Config:
    values: dict[str, Any] = {
        "seed": seed,
        "max-time": MAX_SECONDS,
        "suppress-health-check": ["all"],
        "checks": {"enabled": True},
        "generation": {"max-examples": FUZZ_EXAMPLES, "deterministic": _SEED != "random"},
    }
    if headers:
        values["headers"] = headers
    return schemathesis.Config.from_dict(values)


def _positive_inputs_only(_: HookContext, case: AnyCase) -> AnyCase:
    """Drop, from positive cases, the two inputs the schema cannot state (module docstring)."""
    if case.meta is not None and case.meta.generation.mode.is_positive:
        query = case.query
        if isinstance(query, dict):
            query.pop("cursor", None)
            if "min_confidence" in query and not query.get("content_label"):
                query.pop("min_confidence")
    return case


def run_schemathesis(container: Container, headers: dict[str, str] | None) -> list[str]:
    """Every failure (and engine error) schemathesis reports, with the request to reproduce it."""
    seed = int(_SEED) if _SEED != "random" else random.randrange(2**32)
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(container), config=_config(headers, seed)
    )
    schema.hook("map_case")(_positive_inputs_only)
    problems: list[str] = []
    phases: set[str] = set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            phases.add(event.phase.name)
            if event.status in (Status.FAILURE, Status.ERROR):
                problems.extend(_describe(event))
        elif isinstance(event, events.NonFatalError | events.FatalError):
            problems.append(f"{type(event).__name__}: {event}")
    # Sanity: the engine really ran the phases that generate requests.
    assert {"COVERAGE", "FUZZING", "STATEFUL_TESTING"} <= phases, phases
    return [f"(FUZZ_SEED={seed}) {problem}" for problem in problems]


def _describe(event: events.ScenarioFinished) -> list[str]:
    found = []
    for nodes in event.recorder.checks.values():
        for node in nodes:
            info = node.failure_info
            if info is not None:
                found.append(
                    f"[{event.phase.name}] {event.label}: {node.name}: {info.failure}\n"
                    f"    {info.code_sample}"
                )
    return found or [f"[{event.phase.name}] {event.label}: {event.status.value}"]


@pytest.mark.parametrize("with_token", [False, True], ids=["anonymous", "user"])
def test_schema_and_server_agree(container: Container, with_token: bool) -> None:
    headers = None
    if with_token:
        with TestClient(create_app(container)) as client:
            headers = auth(client, "fuzz@example.com")
    problems = run_schemathesis(container, headers)
    assert not problems, "\n\n".join(problems)

"""A schema-driven fuzz run against the running service: schemathesis generates valid and invalid requests
for every operation in /openapi.json; no answer may be a 5xx, and every answer must match the document."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.auth.harness import auth_client, auth_settings, new_email, register
from tests.support.tokens import JwtKeys

EXAMPLES_PER_OPERATION = 30
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def fuzz(spec: dict[str, Any], base_url: str, token: str) -> list[str]:
    """Run every operation in both modes; returns the labels that were exercised."""
    schema = schemathesis.openapi.from_dict(spec)
    session = requests.Session()
    exercised = []
    for result in schema.get_all_operations():
        operation = result.ok()
        # Only request bodies can be made invalid; the other operations take no input at all.
        modes = (
            [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
            if operation.method == "post"
            else [GenerationMode.POSITIVE]
        )
        for mode in modes:
            checks = [*CONFORMANCE, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CONFORMANCE
            headers = {"Authorization": f"Bearer {token}"} if operation.path == "/me" and mode.is_positive else None
            run_operation(operation.as_strategy(generation_mode=mode), base_url, session, checks, headers)
        exercised.append(operation.label)
    return exercised


def run_operation(
    strategy: Any, base_url: str, session: requests.Session, checks: list[Callable[..., Any]], headers: Any
) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any) -> None:
        case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=checks, timeout=30)

    call()


async def test_fuzzing_every_operation_finds_no_server_error_and_no_answer_outside_the_schema(
    database_url: str, amqp_url: str, jwt_keys: JwtKeys
) -> None:
    async with auth_client(auth_settings(database_url, amqp_url, jwt_keys)) as client:
        email = new_email()
        await register(client, email)
        login = await client.post("/login", json={"email": email, "password": "correct horse"})
        token = (await login.json())["access_token"]
        spec = await (await client.get("/openapi.json")).json()
        base_url = str(client.make_url("")).rstrip("/")
        exercised = await asyncio.to_thread(fuzz, spec, base_url, token)
    assert set(exercised) >= {
        "POST /register",
        "POST /login",
        "GET /me",
        "GET /.well-known/jwks.json",
        "POST /logout",
        "POST /password",
        "DELETE /account",
    }

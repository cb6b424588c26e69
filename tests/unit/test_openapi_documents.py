"""The generated OpenAPI documents: valid 3.1, every error answer is the one problem+json model (which accepts what
servicekit.http renders), and every list read with a cursor documents a bad cursor as 400 `invalid_cursor`."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import make_mocked_request
from openapi_spec_validator import validate

from auth_svc.openapi import OPENAPI_SPEC
from notify_svc.openapi import SPEC as NOTIFY_SPEC
from servicekit.http import PROBLEM_JSON, problem_response
from servicekit.problems import Problem
from video_svc.openapi import openapi_spec
from video_svc.settings import Settings as VideoSettings
from webhook_svc.openapi import SPEC as WEBHOOK_SPEC

DOCUMENTS = {
    "auth": OPENAPI_SPEC,
    "video": openapi_spec(VideoSettings(_env_file=None)),
    "notify": NOTIFY_SPEC,
    "webhook": WEBHOOK_SPEC,
}


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [operation for item in spec["paths"].values() for operation in item.values()]


@pytest.mark.parametrize("service", sorted(DOCUMENTS))
def test_the_document_is_valid_openapi_and_every_error_is_a_problem(service: str) -> None:
    spec = DOCUMENTS[service]
    validate(spec)
    errors = [
        (status, answer)
        for operation in _operations(spec)
        for status, answer in operation["responses"].items()
        if status.startswith("4")
    ]
    assert errors
    assert all(
        answer["content"] == {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for _, answer in errors
    )


@pytest.mark.parametrize("service", sorted(DOCUMENTS))
def test_every_read_with_a_cursor_documents_a_bad_cursor_as_400_invalid_cursor(service: str) -> None:
    paged = [
        operation
        for operation in _operations(DOCUMENTS[service])
        if any(parameter["name"] == "cursor" for parameter in operation.get("parameters", ()))
    ]
    assert all("`invalid_cursor`" in operation["responses"]["400"]["description"] for operation in paged)
    assert bool(paged) == (service != "auth")


def test_what_the_service_renders_as_a_problem_is_what_the_documents_describe() -> None:
    components = DOCUMENTS["video"]["components"]
    schema = {"$ref": "#/components/schemas/Problem", "components": components}
    problem = Problem(
        429, "quota_exceeded", "Over the quota.", "Try later.", retry_after=30, quota="uploads_per_hour",
        errors=[{"field": "file", "message": "too many"}],
    )  # fmt: skip
    rendered = json.loads(problem_response(make_mocked_request("GET", "/video"), problem).body)  # type: ignore[arg-type]
    jsonschema.Draft202012Validator(schema).validate(rendered)
    with pytest.raises(jsonschema.ValidationError):  # the check itself can fail
        jsonschema.Draft202012Validator(schema).validate({**rendered, "status": 200})

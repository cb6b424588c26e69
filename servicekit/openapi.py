"""Every service's OpenAPI 3.1 document, built from its operations declared compactly and the pydantic models of
their bodies and answers (`models_json_schema`, definitions collected into `components/schemas`, as the AsyncAPI
document of the events is). The problem+json answer is one model here, the one servicekit.http renders."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from servicekit.http import PROBLEM_JSON
from servicekit.openapi_models import Problem

JsonDict = dict[str, Any]
REF_TEMPLATE = "#/components/schemas/{model}"

# Programs send a bearer token; the web app's browser sends the session cookie that POST /session sets.
SECURITY_SCHEMES: JsonDict = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "framepipe_session",
        "description": "Set by `POST /session` (HttpOnly; `__Host-framepipe_session` over HTTPS). Requests that "
        "change something must come from the same origin (Sec-Fetch-Site or Origin), else 403 "
        "`cross_origin_request`.",
    },
}
# Every 401 carries the bearer challenge (servicekit.tokens).
CHALLENGE: JsonDict = {"WWW-Authenticate": {"description": "Bearer challenge.", "schema": {"type": "string"}}}
UNAUTHENTICATED = (
    "`missing_token`, `invalid_token`, or `token_revoked` (signed out, password changed, account deleted).",
    CHALLENGE,
)
# What servicekit.http.parse_json answers for a body that is not JSON, whichever operation reads one.
JSON_BODY: dict[int, str | tuple[str, JsonDict]] = {
    400: "`malformed_json`: the body is not valid JSON.",
    415: "`unsupported_media_type`: the body is not `application/json`.",
}
INVALID_CURSOR = "`invalid_cursor`: the cursor is not the `next_cursor` of a page of this list."


@dataclass(frozen=True)
class Answer:
    """One answer of an operation: a JSON body described by `model`, another `media` type with a raw `schema`
    (streams; `{}` for a body the document does not describe, as an image), or no body at all."""

    description: str
    model: type[BaseModel] | None = None
    media: str = "application/json"
    schema: JsonDict | None = None
    headers: JsonDict | None = None


@dataclass(frozen=True)
class Operation:
    """A route, its JSON `body` model, its `query` model (one parameter per field), its answers by status, and
    its problems by status (a description naming the stable codes, or that and the answer's headers)."""

    method: str
    path: str
    summary: str
    answers: Mapping[int, Answer]
    problems: Mapping[int, str | tuple[str, JsonDict]] = field(default_factory=dict)
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    parameters: Sequence[JsonDict] = ()
    request_body: JsonDict | None = None  # a body that is not JSON (multipart), as OpenAPI writes it
    operation_id: str | None = None
    description: str | None = None
    security: Sequence[JsonDict] | None = None

    def models(self) -> list[tuple[type[BaseModel], str]]:
        inputs = [(model, "validation") for model in (self.body, self.query) if model is not None]
        return inputs + [(answer.model, "serialization") for answer in self.answers.values() if answer.model]


BEARER_OR_SESSION: list[JsonDict] = [{"bearer": []}, {"session": []}]


def document(
    info: JsonDict, operations: Sequence[Operation], *, security: Sequence[JsonDict] = BEARER_OR_SESSION
) -> JsonDict:
    """The OpenAPI document (plain JSON: what /openapi.json serves equals it) of these operations."""
    models = [(Problem, "serialization"), *(pair for operation in operations for pair in operation.models())]
    refs, top = models_json_schema(list(dict.fromkeys(models)), ref_template=REF_TEMPLATE)  # type: ignore[arg-type]
    paths: JsonDict = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation, refs)
    spec: JsonDict = {"openapi": "3.1.0", "info": info, "servers": [{"url": "/"}]}
    if security:
        spec["security"] = list(security)
    spec["paths"] = paths
    spec["components"] = {"securitySchemes": SECURITY_SCHEMES, "schemas": top.get("$defs", {})}
    plain: JsonDict = json.loads(json.dumps(spec))
    return plain


def _operation(operation: Operation, refs: Mapping[Any, JsonDict]) -> JsonDict:
    built: JsonDict = {"summary": operation.summary}
    if operation.operation_id:
        built["operationId"] = operation.operation_id
    if operation.description:
        built["description"] = operation.description
    if operation.security is not None:
        built["security"] = list(operation.security)
    parameters = list(operation.parameters)
    if operation.query is not None:
        parameters += _query_parameters(operation.query)
    if parameters:
        built["parameters"] = parameters
    if operation.body is not None:
        schema = refs[(operation.body, "validation")]
        built["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    elif operation.request_body is not None:
        built["requestBody"] = operation.request_body
    responses = {str(status): _answer(answer, refs) for status, answer in operation.answers.items()}
    for status, problem in operation.problems.items():
        description, headers = (problem, None) if isinstance(problem, str) else problem
        responses[str(status)] = problem_answer(description, headers, refs[(Problem, "serialization")])
    built["responses"] = dict(sorted(responses.items()))
    return built


def _answer(answer: Answer, refs: Mapping[Any, JsonDict]) -> JsonDict:
    built: JsonDict = {"description": answer.description}
    if answer.model is not None:
        built["content"] = {answer.media: {"schema": refs[(answer.model, "serialization")]}}
    elif answer.schema is not None:
        built["content"] = {answer.media: {"schema": answer.schema} if answer.schema else {}}
    if answer.headers:
        built["headers"] = answer.headers
    return built


def problem_answer(description: str, headers: JsonDict | None, schema: JsonDict) -> JsonDict:
    """A response object whose body is a problem+json document."""
    built: JsonDict = {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}
    if headers:
        built["headers"] = headers
    return built


def _query_parameters(model: type[BaseModel]) -> list[JsonDict]:
    """One query parameter per field of the model the handler validates the query with; an absent parameter is
    how a client says none, so a field's `null` is not offered as a value."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = {key: value for key, value in prop.items() if key != "title"}
        choices = [choice for choice in prop.pop("anyOf", ()) if choice != {"type": "null"}]
        if len(choices) == 1:
            prop = {**choices[0], **prop}
        elif choices:
            prop["anyOf"] = choices
        if prop.get("default", ...) is None:
            del prop["default"]
        description = prop.pop("description", None)
        parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
        parameters.append({**parameter, "description": description} if description else parameter)
    return parameters

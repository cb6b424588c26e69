"""Pieces every service's OpenAPI 3.1 document shares: the problem+json schema (what servicekit.http renders),
the readiness report, and helpers for response objects."""

from __future__ import annotations

from typing import Any

from servicekit.http import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

# Programs send a bearer token; the web app's browser sends the session cookie that POST /session sets.
SECURITY_SCHEMES: dict[str, Any] = {
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

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; clients branch on `code`.",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "retry_after": {"type": "integer", "minimum": 1},
    },
}

READINESS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"enum": ["ok", "unavailable"]},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response object whose body is a problem+json document."""
    response: dict[str, Any] = {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}
    if headers:
        response["headers"] = headers
    return response

"""The OpenAPI 3.1 description of notify_svc's HTTP API, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from servicekit.openapi import PROBLEM_SCHEMA, SECURITY_SCHEMES, problem

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "framepipe notify_svc",
        "version": "1.0.0",
        "description": "The e-mail notifications sent to the caller about their videos' outcomes.",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}, {"session": []}],
    "paths": {
        "/notifications": {
            "get": {
                "operationId": "listNotifications",
                "summary": "The caller's notifications, newest first.",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "required": False,
                        "description": "`next_cursor` of the previous page.",
                        "schema": {"type": "string", "maxLength": 64},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "One page of notifications.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NotificationPage"}}},
                    },
                    "400": problem("The cursor is not valid."),
                    "401": problem(
                        "Missing, invalid, expired or revoked access token "
                        "(`missing_token`, `invalid_token`, `token_revoked`)."
                    ),
                    "422": problem("A query parameter is not valid."),
                },
            }
        }
    },
    "components": {
        "securitySchemes": SECURITY_SCHEMES,
        "schemas": {
            "Notification": {
                "type": "object",
                "required": ["id", "video_id", "kind", "channel", "status", "subject", "created_at", "sent_at"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "video_id": {"type": "string", "format": "uuid"},
                    "kind": {"type": "string", "enum": ["processed", "failed"]},
                    "channel": {"type": "string", "enum": ["email"]},
                    "status": {"type": "string", "enum": ["pending", "sent", "failed"]},
                    "subject": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                    "sent_at": {"type": ["string", "null"], "format": "date-time"},
                },
            },
            "NotificationPage": {
                "type": "object",
                "required": ["items", "next_cursor"],
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Notification"}},
                    "next_cursor": {"type": ["string", "null"]},
                },
            },
            "Problem": PROBLEM_SCHEMA,
        },
    },
}

"""The OpenAPI 3.1 description of webhook_svc's HTTP API, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from contracts.topology import WEBHOOK_EVENT_TYPES
from servicekit.openapi import PROBLEM_SCHEMA, problem
from webhook_svc.egress import MAX_URL_LENGTH

_UUID = {"type": "string", "format": "uuid"}
_TIME = {"type": "string", "format": "date-time"}
_MAYBE_TIME = {"type": ["string", "null"], "format": "date-time"}
_ENDPOINT_ID = {"name": "endpoint_id", "in": "path", "required": True, "schema": _UUID}
_AUTH = {
    "401": problem(
        "Missing, invalid, expired or revoked access token (`missing_token`, `invalid_token`, `token_revoked`)."
    )
}
_NOT_FOUND = {"404": problem("`webhook_not_found`: no such endpoint (or it is not yours).")}
_EVENT_TYPES = {"type": "array", "items": {"enum": list(WEBHOOK_EVENT_TYPES)}, "minItems": 1, "uniqueItems": True}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


ENDPOINT_PROPERTIES: dict[str, Any] = {
    "id": _UUID,
    "url": {"type": "string", "format": "uri", "maxLength": MAX_URL_LENGTH},
    "description": {"type": "string"},
    "event_types": _EVENT_TYPES,
    "enabled": {"type": "boolean"},
    "failing_since": {**_MAYBE_TIME, "description": "Every attempt has failed since then (null when healthy)."},
    "disabled_at": _MAYBE_TIME,
    "disabled_reason": {"type": ["string", "null"]},
    "previous_secret_expires_at": {
        **_MAYBE_TIME,
        "description": "Until then, deliveries also carry a signature made with the previous secret.",
    },
    "created_at": _TIME,
    "updated_at": _TIME,
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "framepipe webhook_svc",
        "version": "1.0.0",
        "description": (
            "Webhook endpoints for the caller's videos: each subscribed event is POSTed as a CloudEvent "
            "(structured mode, `application/cloudevents+json`) signed with the Standard Webhooks scheme "
            "(`webhook-id`, `webhook-timestamp`, `webhook-signature`), retried with backoff for about a day. "
            "See docs/integrators.md."
        ),
    },
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "paths": {
        "/webhooks": {
            "post": {
                "operationId": "createWebhook",
                "summary": "Register an endpoint; the answer holds its signing secret (shown now and at rotations).",
                "requestBody": _body("EndpointIn"),
                "responses": {
                    "201": _json("EndpointWithSecret", "The endpoint and its secret."),
                    "400": problem("`malformed_json`."),
                    **_AUTH,
                    "409": problem("`webhook_limit_reached`."),
                    "415": problem("Not a JSON body."),
                    "422": problem("`validation_error`, or `url_not_allowed` (scheme, host or a non-public address)."),
                },
            },
            "get": {
                "operationId": "listWebhooks",
                "summary": "The caller's endpoints.",
                "responses": {"200": _json("EndpointList", "Every endpoint of the caller."), **_AUTH},
            },
        },
        "/webhooks/{endpoint_id}": {
            "parameters": [_ENDPOINT_ID],
            "get": {
                "operationId": "getWebhook",
                "summary": "One endpoint.",
                "responses": {"200": _json("Endpoint", "The endpoint."), **_AUTH, **_NOT_FOUND},
            },
            "patch": {
                "operationId": "updateWebhook",
                "summary": "Change the URL, the event types or the description; enable or disable it.",
                "requestBody": _body("EndpointPatch"),
                "responses": {
                    "200": _json("Endpoint", "The endpoint as changed."),
                    "400": problem("`malformed_json`."),
                    **_AUTH,
                    **_NOT_FOUND,
                    "415": problem("Not a JSON body."),
                    "422": problem("`validation_error` or `url_not_allowed`."),
                },
            },
            "delete": {
                "operationId": "deleteWebhook",
                "summary": "Delete the endpoint, its pending deliveries and its log.",
                "responses": {"204": {"description": "Deleted."}, **_AUTH, **_NOT_FOUND},
            },
        },
        "/webhooks/{endpoint_id}/rotate-secret": {
            "parameters": [_ENDPOINT_ID],
            "post": {
                "operationId": "rotateWebhookSecret",
                "summary": "A new secret; the previous one keeps signing too until previous_secret_expires_at.",
                "responses": {
                    "200": _json("EndpointWithSecret", "The endpoint and its new secret."),
                    **_AUTH,
                    **_NOT_FOUND,
                },
            },
        },
        "/webhooks/{endpoint_id}/deliveries": {
            "parameters": [_ENDPOINT_ID],
            "get": {
                "operationId": "listWebhookDeliveries",
                "summary": "The endpoint's delivery log, newest first, with every attempt.",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string", "maxLength": 64}},
                    {"name": "status", "in": "query", "schema": {"enum": ["pending", "succeeded", "failed"]}},
                ],
                "responses": {
                    "200": _json("DeliveryPage", "One page of deliveries."),
                    "400": problem("`invalid_cursor`."),
                    **_AUTH,
                    **_NOT_FOUND,
                    "422": problem("A query parameter is not valid."),
                },
            },
        },
        "/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend": {
            "parameters": [_ENDPOINT_ID, {"name": "delivery_id", "in": "path", "required": True, "schema": _UUID}],
            "post": {
                "operationId": "resendWebhookDelivery",
                "summary": "Deliver the event again now, with a fresh round of retries (same webhook-id).",
                "responses": {
                    "202": {"description": "Queued."},
                    **_AUTH,
                    "404": problem("`webhook_not_found` or `delivery_not_found`."),
                    "409": problem("`webhook_disabled`."),
                },
            },
        },
        "/webhooks/{endpoint_id}/replay": {
            "parameters": [_ENDPOINT_ID],
            "post": {
                "operationId": "replayWebhook",
                "summary": "Deliver again every kept event of the endpoint's types since a time.",
                "requestBody": _body("ReplayIn"),
                "responses": {
                    "202": _json("ReplayQueued", "How many deliveries were queued."),
                    "400": problem("`malformed_json`."),
                    **_AUTH,
                    **_NOT_FOUND,
                    "409": problem("`webhook_disabled`."),
                    "415": problem("Not a JSON body."),
                    "422": problem("`validation_error`."),
                },
            },
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        "schemas": {
            "EndpointIn": {
                "type": "object",
                "additionalProperties": False,
                "required": ["url", "event_types"],
                "properties": {
                    "url": {"type": "string", "minLength": 1, "maxLength": MAX_URL_LENGTH},
                    "event_types": _EVENT_TYPES,
                    "description": {"type": "string", "maxLength": 500},
                },
            },
            "EndpointPatch": {
                "type": "object",
                "additionalProperties": False,
                "minProperties": 1,
                "properties": {
                    "url": {"type": "string", "minLength": 1, "maxLength": MAX_URL_LENGTH},
                    "event_types": _EVENT_TYPES,
                    "description": {"type": "string", "maxLength": 500},
                    "enabled": {"type": "boolean"},
                },
            },
            "Endpoint": {"type": "object", "required": list(ENDPOINT_PROPERTIES), "properties": ENDPOINT_PROPERTIES},
            "EndpointWithSecret": {
                "type": "object",
                "required": [*ENDPOINT_PROPERTIES, "secret"],
                "properties": {
                    **ENDPOINT_PROPERTIES,
                    "secret": {"type": "string", "pattern": "^whsec_", "description": "The signing secret."},
                },
            },
            "EndpointList": {
                "type": "object",
                "required": ["items"],
                "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Endpoint"}}},
            },
            "Attempt": {
                "type": "object",
                "properties": {
                    "attempt": {"type": "integer"},
                    "started_at": _TIME,
                    "duration_ms": {"type": "integer"},
                    "status_code": {"type": ["integer", "null"]},
                    "error": {"type": ["string", "null"]},
                    "response_body": {"type": ["string", "null"], "description": "The start of the answer."},
                },
            },
            "Delivery": {
                "type": "object",
                "properties": {
                    "id": _UUID,
                    "event_id": {**_UUID, "description": "Also the webhook-id header."},
                    "event_type": {"type": "string"},
                    "status": {"enum": ["pending", "succeeded", "failed"]},
                    "attempts": {"type": "integer"},
                    "next_attempt_at": _MAYBE_TIME,
                    "last_attempt_at": _MAYBE_TIME,
                    "last_status_code": {"type": ["integer", "null"]},
                    "last_error": {"type": ["string", "null"]},
                    "created_at": _TIME,
                    "finished_at": _MAYBE_TIME,
                    "attempt_log": {"type": "array", "items": {"$ref": "#/components/schemas/Attempt"}},
                },
            },
            "DeliveryPage": {
                "type": "object",
                "required": ["items", "next_cursor"],
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}},
                    "next_cursor": {"type": ["string", "null"]},
                },
            },
            "ReplayIn": {
                "type": "object",
                "additionalProperties": False,
                "required": ["since"],
                "properties": {
                    "since": _TIME,
                    "until": _TIME,
                    "only_undelivered": {
                        "type": "boolean",
                        "description": "Leave alone the events this endpoint already received.",
                    },
                },
            },
            "ReplayQueued": {"type": "object", "required": ["queued"], "properties": {"queued": {"type": "integer"}}},
            "Problem": PROBLEM_SCHEMA,
        },
    },
}

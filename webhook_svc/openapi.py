"""The OpenAPI 3.1 description of webhook_svc's HTTP API, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from servicekit.openapi import INVALID_CURSOR, JSON_BODY, UNAUTHENTICATED, Answer, Operation, document
from webhook_svc.requests import DeliveriesQuery, EndpointIn, EndpointPatch, ReplayIn
from webhook_svc.schemas import DeliveryPage, DeliveryQueued, Endpoint, EndpointList, EndpointWithSecret, ReplayQueued

_UUID = {"type": "string", "format": "uuid"}
_ENDPOINT_ID = {"name": "endpoint_id", "in": "path", "required": True, "schema": _UUID}
_DELIVERY_ID = {"name": "delivery_id", "in": "path", "required": True, "schema": _UUID}
_AUTH = {401: UNAUTHENTICATED}
_NOT_FOUND = {404: "`webhook_not_found`: no such endpoint (or it is not yours)."}
_ONE = "/webhooks/{endpoint_id}"

_OPERATIONS = [
    Operation(
        "post",
        "/webhooks",
        "Register an endpoint; the answer holds its signing secret (shown now and at rotations).",
        operation_id="createWebhook",
        body=EndpointIn,
        answers={201: Answer("The endpoint and its secret.", EndpointWithSecret)},
        problems={
            **JSON_BODY,
            **_AUTH,
            409: "`webhook_limit_reached`.",
            422: "`validation_error`, or `url_not_allowed` (scheme, host or a non-public address).",
        },
    ),
    Operation(
        "get",
        "/webhooks",
        "The caller's endpoints.",
        operation_id="listWebhooks",
        answers={200: Answer("Every endpoint of the caller.", EndpointList)},
        problems=_AUTH,
    ),
    Operation(
        "get",
        _ONE,
        "One endpoint.",
        operation_id="getWebhook",
        parameters=[_ENDPOINT_ID],
        answers={200: Answer("The endpoint.", Endpoint)},
        problems={**_AUTH, **_NOT_FOUND},
    ),
    Operation(
        "patch",
        _ONE,
        "Change the URL, the event types or the description; enable or disable it.",
        operation_id="updateWebhook",
        parameters=[_ENDPOINT_ID],
        body=EndpointPatch,
        answers={200: Answer("The endpoint as changed.", Endpoint)},
        problems={**JSON_BODY, **_AUTH, **_NOT_FOUND, 422: "`validation_error` or `url_not_allowed`."},
    ),
    Operation(
        "delete",
        _ONE,
        "Delete the endpoint, its pending deliveries and its log.",
        operation_id="deleteWebhook",
        parameters=[_ENDPOINT_ID],
        answers={204: Answer("Deleted.")},
        problems={**_AUTH, **_NOT_FOUND},
    ),
    Operation(
        "post",
        f"{_ONE}/rotate-secret",
        "A new secret; the previous one keeps signing too until previous_secret_expires_at.",
        operation_id="rotateWebhookSecret",
        parameters=[_ENDPOINT_ID],
        answers={200: Answer("The endpoint and its new secret.", EndpointWithSecret)},
        problems={**_AUTH, **_NOT_FOUND},
    ),
    Operation(
        "get",
        f"{_ONE}/deliveries",
        "The endpoint's delivery log, newest first, with every attempt.",
        operation_id="listWebhookDeliveries",
        parameters=[_ENDPOINT_ID],
        query=DeliveriesQuery,
        answers={200: Answer("One page of deliveries.", DeliveryPage)},
        problems={400: INVALID_CURSOR, **_AUTH, **_NOT_FOUND, 422: "A query parameter is not valid."},
    ),
    Operation(
        "post",
        f"{_ONE}/deliveries/{{delivery_id}}/resend",
        "Deliver the event again now, with a fresh round of retries (same webhook-id).",
        operation_id="resendWebhookDelivery",
        parameters=[_ENDPOINT_ID, _DELIVERY_ID],
        answers={202: Answer("Queued.", DeliveryQueued)},
        problems={**_AUTH, 404: "`webhook_not_found` or `delivery_not_found`.", 409: "`webhook_disabled`."},
    ),
    Operation(
        "post",
        f"{_ONE}/replay",
        "Deliver again every kept event of the endpoint's types since a time.",
        operation_id="replayWebhook",
        parameters=[_ENDPOINT_ID],
        body=ReplayIn,
        answers={202: Answer("How many deliveries were queued.", ReplayQueued)},
        problems={**JSON_BODY, **_AUTH, **_NOT_FOUND, 409: "`webhook_disabled`.", 422: "`validation_error`."},
    ),
]

SPEC: dict[str, Any] = document(
    {
        "title": "framepipe webhook_svc",
        "version": "1.0.0",
        "description": (
            "Webhook endpoints for the caller's videos: each subscribed event is POSTed as a CloudEvent "
            "(structured mode, `application/cloudevents+json`) signed with the Standard Webhooks scheme "
            "(`webhook-id`, `webhook-timestamp`, `webhook-signature`), retried with backoff for about a day. "
            "See docs/integrators.md."
        ),
    },
    _OPERATIONS,
    security=[{"bearer": []}],
)

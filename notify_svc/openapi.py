"""The OpenAPI 3.1 description of notify_svc's HTTP API, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from notify_svc.api import ListQuery
from notify_svc.schemas import NotificationPage
from servicekit.openapi import INVALID_CURSOR, UNAUTHENTICATED, Answer, Operation, document

_LIST = Operation(
    "get",
    "/notifications",
    "The caller's notifications, newest first.",
    operation_id="listNotifications",
    query=ListQuery,
    answers={200: Answer("One page of notifications.", NotificationPage)},
    problems={
        400: INVALID_CURSOR,
        401: UNAUTHENTICATED,
        422: "A query parameter is not valid.",
    },
)

SPEC: dict[str, Any] = document(
    {
        "title": "framepipe notify_svc",
        "version": "1.0.0",
        "description": "The e-mail notifications sent to the caller about their videos' outcomes.",
    },
    [_LIST],
)

"""HTTP: `GET /notifications`, the caller's own notification log, newest first, with cursor pagination."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from notify_svc import service
from servicekit import cursors
from servicekit.cursors import InvalidCursor
from servicekit.http import Problem, validate
from servicekit.runtime import POOL
from servicekit.tokens import authenticated_user

_CURSOR_PREFIX = "n:"


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=64)


def encode_cursor(seq: int) -> str:
    return cursors.encode_cursor(_CURSOR_PREFIX, seq)


def decode_cursor(cursor: str) -> int:
    return cursors.decode_cursor(_CURSOR_PREFIX, cursor)


async def list_notifications(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    query = validate(ListQuery, dict(request.query))
    try:
        before = decode_cursor(query.cursor) if query.cursor else None
    except InvalidCursor:
        raise Problem(
            400, "invalid_cursor", "The cursor is not valid.", "Use the next_cursor of a previous page."
        ) from None
    page = await service.list_notifications(request.app[POOL], claims.user_id, query.limit, before)
    return web.json_response(
        {
            "items": [_notification(row) for row in page.items],
            "next_cursor": encode_cursor(page.next_before) if page.next_before is not None else None,
        }
    )


def _notification(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "video_id": str(row["video_id"]),
        "kind": row["kind"],
        "channel": row["channel"],
        "status": row["status"],
        "subject": row["subject"],
        "created_at": row["created_at"].isoformat(),
        "sent_at": row["sent_at"].isoformat() if row["sent_at"] else None,
    }


def add_routes(app: web.Application) -> None:
    app.router.add_get("/notifications", list_notifications, allow_head=False)

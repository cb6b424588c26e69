"""HTTP: `GET /notifications`, the caller's own notification log, newest first, with cursor pagination."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from notify_svc import service
from notify_svc.schemas import Notification, NotificationPage
from servicekit import cursors
from servicekit.http import validate
from servicekit.runtime import POOL
from servicekit.tokens import authenticated_user

_CURSOR_PREFIX = "n:"


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=64, description="`next_cursor` of the previous page.")


def encode_cursor(seq: int) -> str:
    return cursors.encode_cursor(_CURSOR_PREFIX, seq)


def decode_cursor(cursor: str) -> int:
    return cursors.decode_cursor(_CURSOR_PREFIX, cursor)


async def list_notifications(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    query = validate(ListQuery, dict(request.query))
    before = decode_cursor(query.cursor) if query.cursor else None
    page = await service.list_notifications(request.app[POOL], claims.user_id, query.limit, before)
    answer = NotificationPage(
        items=[Notification.model_validate(dict(row)) for row in page.items],
        next_cursor=encode_cursor(page.next_before) if page.next_before is not None else None,
    )
    return web.json_response(answer.model_dump(mode="json"))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/notifications", list_notifications, allow_head=False)

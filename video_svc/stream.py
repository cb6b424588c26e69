"""A user's video changes as server-sent events (`GET /video/events`).

The stream subscribes before it reads anything, so nothing committed after it opened is missed; it then sends
what changed since the client's `Last-Event-ID` (or `?since=`), a `ready` event, and each change as it happens:
`video` with the video as `GET /video/{id}` renders it, or `deleted`. Event ids are times (microseconds), so a
client that reconnects resumes where it was. Comments keep idle connections open through proxies; the stream
ends when the token it was opened with expires (the client reconnects with its refreshed session)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

from aiohttp import web

from video_svc.live import CatchUp, LiveChanges, Subscription, encode_event, mark_of

KEEPALIVE_SECONDS = 15.0
RETRY_MILLISECONDS = 2000
CATCH_UP_LIMIT = 500
HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
}


async def stream_changes(
    request: web.Request, live: LiveChanges, owner_id: uuid.UUID, since: int | None, expires_at: int, limit: int
) -> web.StreamResponse:
    """Refused with TooManyStreams before anything is sent when the owner already has `limit` streams open."""
    subscription = live.subscribe(owner_id, limit)
    response = web.StreamResponse(headers=HEADERS)
    try:
        await response.prepare(request)
        opened = mark_of(datetime.now(UTC))
        await response.write(f"retry: {RETRY_MILLISECONDS}\n\n".encode())
        if since is not None:
            await _catch_up(response, live, owner_id, since)
        await response.write(encode_event("ready", {"since": opened}, opened))
        await _follow(response, live, subscription, opened, expires_at)
    except ConnectionResetError:
        pass  # the client went away: nothing to answer
    finally:
        live.unsubscribe(subscription)
    return response


async def _catch_up(response: web.StreamResponse, live: LiveChanges, owner_id: uuid.UUID, since: int) -> int:
    """Send what changed since `since`; returns the newest mark sent. Too much to replay: the client re-lists."""
    changes = await live.changes_since(owner_id, since, CATCH_UP_LIMIT + 1)
    if len(changes) > CATCH_UP_LIMIT:
        await response.write(encode_event("resync", {"reason": "too many changes to replay"}))
        return since
    for change in changes:
        await response.write(change.frame)
    return max([since, *(c.mark for c in changes)])


async def _follow(
    response: web.StreamResponse, live: LiveChanges, subscription: Subscription, last: int, expires_at: int
) -> None:
    while (remaining := expires_at - time.time()) > 0:
        try:
            async with asyncio.timeout(min(KEEPALIVE_SECONDS, remaining)):
                item = await subscription.next()
        except TimeoutError:
            await response.write(b": keep-alive\n\n")
            continue
        if item is None:  # the service is stopping
            return
        if isinstance(item, CatchUp):
            last = await _catch_up(response, live, subscription.owner_id, last)
        else:
            await response.write(item.frame)
            last = max(last, item.mark)

"""Live changes of videos, for the event streams this replica holds. The `videos` table notifies every change at
commit (migration 0002), whichever replica or consumer made it; each replica LISTENs on a connection of its own,
reads each changed row once, renders it once, and hands the encoded change to the streams of its owner.

A stream that cannot keep up, or a listener connection that was lost (notifications in between are gone), is
told to catch up: it reads what changed since its last event, which is also how a reconnecting client resumes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog
from prometheus_client import Counter, Gauge

from servicekit.pglisten import listen
from video_svc import store
from video_svc.views import render_video

log = structlog.get_logger(__name__)

STREAMS_OPEN = Gauge("video_event_streams_open", "Event streams this replica holds")
CHANGES_SENT = Counter("video_event_changes_total", "Video changes handed to event streams")
STREAMS_BEHIND = Counter("video_event_streams_behind_total", "Streams told to catch up (slow, or notifications lost)")

# Commits are not ordered by the time their rows were stamped: a row stamped earlier may commit later. Catching up
# re-reads this much before the last event a stream saw; a change read twice is harmless (clients keep the newest).
CATCH_UP_MARGIN = timedelta(seconds=30)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def mark_of(at: datetime) -> int:
    """A time as whole microseconds since the epoch: the ids of a stream's events."""
    return (at - _EPOCH) // timedelta(microseconds=1)


def time_of(mark: int) -> datetime:
    return _EPOCH + timedelta(microseconds=mark)


@dataclass(frozen=True)
class Change:
    mark: int
    frame: bytes  # the encoded server-sent event


def encode_event(event: str, data: object, event_id: int | None = None) -> bytes:
    lines = [f"id: {event_id}"] if event_id is not None else []
    lines += [f"event: {event}", f"data: {json.dumps(data, separators=(',', ':'))}"]
    return ("\n".join(lines) + "\n\n").encode()


def change_of(row: asyncpg.Record) -> Change:
    mark = mark_of(row["updated_at"])
    if row["deleted_at"] is not None:
        return Change(mark, encode_event("deleted", {"id": str(row["id"])}, mark))
    return Change(mark, encode_event("video", render_video(row), mark))


class CatchUp:
    """Put in a stream's queue instead of a change: read what changed since the last event sent."""


CATCH_UP = CatchUp()


@dataclass(eq=False)
class Subscription:
    owner_id: uuid.UUID
    queue: asyncio.Queue[Change | CatchUp | None]
    behind: bool = field(default=False)

    def offer(self, item: Change | CatchUp | None) -> None:
        if item is None:
            self._drain()
            self.queue.put_nowait(None)
            return
        if self.behind:
            return  # a catch-up is already queued; it will read this change too
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self._fall_behind()

    def _drain(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()

    def _fall_behind(self) -> None:
        self._drain()  # the catch-up reads the current rows, which supersede what was queued
        self.queue.put_nowait(CATCH_UP)
        self.behind = True
        STREAMS_BEHIND.inc()

    async def next(self) -> Change | CatchUp | None:
        item = await self.queue.get()
        if isinstance(item, CatchUp):
            self.behind = False
        return item


class TooManyStreams(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} streams at once")
        self.limit = limit


class LiveChanges:
    def __init__(self, pool: asyncpg.Pool, dsn: str, schema: str, *, queue_size: int = 256) -> None:
        self._pool = pool
        self._dsn = dsn
        self._channel = f"{schema}.videos"
        self._queue_size = queue_size
        self._streams: dict[uuid.UUID, set[Subscription]] = defaultdict(set)
        self._pending: set[uuid.UUID] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._deliver_forever(), name="video-live-deliver"))
        self._tasks.append(
            asyncio.create_task(
                listen(
                    self._dsn,
                    self._channel,
                    self._on_notify,
                    self._listening,
                    application_name=f"framepipe-{self._channel}-live",
                ),
                name="video-live-listen",
            )
        )

    def end_streams(self) -> None:
        """Every stream ends (their handlers return), and streams opened from now on end at once: the service is
        stopping, and a graceful shutdown must not wait for connections that never finish by themselves."""
        self._closed = True
        for subscription in self._all_streams():
            subscription.offer(None)

    async def close(self) -> None:
        self.end_streams()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def subscribe(self, owner_id: uuid.UUID, limit: int | None = None) -> Subscription:
        """A new stream of the owner's changes; TooManyStreams when the owner already has `limit` open."""
        if limit is not None and self.streams_of(owner_id) >= limit:
            raise TooManyStreams(limit)
        subscription = Subscription(owner_id, asyncio.Queue(self._queue_size))
        if self._closed:
            subscription.queue.put_nowait(None)
        self._streams[owner_id].add(subscription)
        STREAMS_OPEN.inc()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        streams = self._streams.get(subscription.owner_id)
        if streams is not None and subscription in streams:
            streams.discard(subscription)
            STREAMS_OPEN.dec()
            if not streams:
                del self._streams[subscription.owner_id]

    def streams_of(self, owner_id: uuid.UUID) -> int:
        return len(self._streams.get(owner_id, ()))

    async def changes_since(self, owner_id: uuid.UUID, mark: int, limit: int) -> list[Change]:
        """The owner's changes since `mark` (less the margin), oldest first, deleted videos included."""
        since = time_of(mark) - CATCH_UP_MARGIN
        async with self._pool.acquire() as conn:
            rows = await store.changed_since(conn, owner_id, since, limit)
        return [change_of(row) for row in rows]

    def _on_notify(self, payload: str) -> None:
        owner, _, video = payload.partition(" ")
        try:
            owner_id, video_id = uuid.UUID(owner), uuid.UUID(video)
        except ValueError:
            return
        if owner_id in self._streams:
            self._pending.add(video_id)
            self._wake.set()

    def _listening(self) -> None:
        """(Re)connected: what was committed while nobody listened was notified to no one, so every stream reads
        what it missed (none are open at the first connection)."""
        for subscription in self._all_streams():
            subscription.offer(CATCH_UP)

    def _all_streams(self) -> Iterable[Subscription]:
        return [s for subscriptions in self._streams.values() for s in subscriptions]

    async def _deliver_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            ids, self._pending = list(self._pending), set()
            try:
                await self._deliver(ids)
            except (OSError, asyncpg.PostgresError) as exc:  # the database is away: the streams catch up later
                log.warning("live_delivery_failed", error=f"{type(exc).__name__}: {exc}")
                for subscription in self._all_streams():
                    subscription.offer(CATCH_UP)

    async def _deliver(self, video_ids: list[uuid.UUID]) -> None:
        async with self._pool.acquire() as conn:
            rows = await store.videos_by_ids(conn, video_ids)
        for row in rows:
            subscriptions = self._streams.get(row["owner_id"])
            if not subscriptions:
                continue
            change = change_of(row)
            for subscription in subscriptions:
                subscription.offer(change)
            CHANGES_SENT.inc(len(subscriptions))

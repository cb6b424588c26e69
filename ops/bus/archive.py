"""Reading the archive stream (`framepipe.archive`) over AMQP 0-9-1: from a position (`first`, a timestamp or an
offset) up to the end it had when the job started, or on and on with `follow`.

A stream consumer never ends by itself, so a bounded read first finds the archive's last offset (a short read
from `last`) and stops there; anything appended later (including a replay's own copies) is not part of the job."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from aiormq.abc import DeliveredMessage

from contracts.topology import ARCHIVE_STREAM
from ops.bus.filters import EventFacts, facts_of
from servicekit.bus.consumer import REPLAY_ID_HEADER

StreamOffset = str | int | datetime
OFFSET_HEADER = "x-stream-offset"


class ArchiveMissing(RuntimeError):
    """The archive stream is not declared on this broker (no service has started against it yet)."""


class ArchiveReadLost(RuntimeError):
    """The broker connection dropped during a read; what was read so far was yielded."""


@dataclass(frozen=True)
class ArchivedEvent:
    offset: int
    headers: dict[str, Any]
    body: bytes
    facts: EventFacts
    published_at: datetime | None
    content_type: str | None

    @property
    def replay_id(self) -> str | None:
        """Set on a copy an earlier replay sent to the events exchange (the archive keeps those too)."""
        value = self.headers.get(REPLAY_ID_HEADER)
        return None if value is None else str(value)


@dataclass(frozen=True)
class ArchiveEnd:
    offset: int
    time: datetime | None


def _archived(message: DeliveredMessage) -> ArchivedEvent:
    properties = message.header.properties
    headers = dict(properties.headers or {})
    return ArchivedEvent(
        offset=int(str(headers.get(OFFSET_HEADER, -1))),
        headers=headers,
        body=message.body,
        facts=facts_of(headers, message.body),
        published_at=properties.timestamp,
        content_type=properties.content_type,
    )


async def read_archive(
    connection: AbstractRobustConnection,
    start: StreamOffset,
    *,
    end_offset: int | None = None,
    idle_timeout: float | None = None,
    first_timeout: float | None = None,
    prefetch: int = 1000,
) -> AsyncGenerator[ArchivedEvent, None]:
    """Archived messages in stream order. Stops after `end_offset`, or when nothing arrived for `idle_timeout`
    seconds (`first_timeout` for the first message); neither given means follow forever."""
    channel = await connection.channel()
    try:
        await channel.set_qos(prefetch_count=prefetch)
        try:
            queue = await channel.declare_queue(ARCHIVE_STREAM, passive=True)
        except Exception as exc:
            raise ArchiveMissing(f"{ARCHIVE_STREAM} is not declared on this broker: {exc}") from exc
        # Consumed on aiormq's channel under the robust one: aio-pika would wrap every archived message in an
        # IncomingMessage (and run its callback in a task of its own) only for it to be read once here.
        arrived: asyncio.Queue[DeliveredMessage] = asyncio.Queue()

        async def deliver(message: DeliveredMessage) -> None:
            arrived.put_nowait(message)

        raw = await channel.get_underlay_channel()
        await raw.basic_consume(queue.name, deliver, arguments={OFFSET_HEADER: start})
        unacked = 0
        timeout = first_timeout if first_timeout is not None else idle_timeout
        while (message := await _next(arrived, raw, timeout)) is not None:
            timeout = idle_timeout
            unacked += 1
            if unacked >= prefetch // 4 and message.delivery_tag is not None:
                # A stream consumer's acks are only credit: grant it in batches.
                await raw.basic_ack(message.delivery_tag, multiple=True)
                unacked = 0
            event = _archived(message)
            if end_offset is not None and event.offset > end_offset:
                return
            yield event
            if end_offset is not None and event.offset >= end_offset:
                return
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(channel.close(), 5)


async def _next(
    arrived: asyncio.Queue[DeliveredMessage], raw: Any, wait_seconds: float | None
) -> DeliveredMessage | None:
    """The next archived message, or None when none arrived for `wait_seconds`."""
    if not arrived.empty():
        return arrived.get_nowait()
    getter = asyncio.ensure_future(arrived.get())
    await asyncio.wait({getter, raw.closing}, timeout=wait_seconds, return_when=asyncio.FIRST_COMPLETED)
    if getter.done():
        return getter.result()
    getter.cancel()
    if raw.closing.done():
        # The robust connection would reconnect, but a consumer on aiormq's channel is not restored: say so
        # rather than wait forever.
        raise ArchiveReadLost("the connection to the broker was lost while reading the archive")
    return None


async def archive_end(connection: AbstractRobustConnection) -> ArchiveEnd | None:
    """The last message of the archive right now, or None when it is empty."""
    async with connection.channel() as channel:
        try:
            declared = await channel.declare_queue(ARCHIVE_STREAM, passive=True)
        except Exception as exc:
            raise ArchiveMissing(f"{ARCHIVE_STREAM} is not declared on this broker: {exc}") from exc
    # The declared message count is a statistic refreshed every few seconds (0 right after the first
    # publishes), so it only decides how long to wait for the tail before calling the archive empty.
    first_timeout = 10.0 if declared.declaration_result.message_count else 2.0
    last: ArchivedEvent | None = None
    # `last` starts at the last chunk, which can hold many messages: read until it goes quiet.
    tail = read_archive(connection, "last", idle_timeout=0.3, first_timeout=first_timeout, prefetch=2000)
    async with contextlib.aclosing(tail) as messages:
        async for event in messages:
            if last is None or event.offset > last.offset:
                last = event
    if last is None:
        return None
    return ArchiveEnd(last.offset, last.published_at or last.facts.time)


def starts_after_end(start: StreamOffset, end: ArchiveEnd) -> bool:
    """A timestamp past the last message: nothing to read (the broker would just wait for new messages).
    AMQP timestamps have whole seconds, hence the margin."""
    return isinstance(start, datetime) and end.time is not None and start > end.time + timedelta(seconds=1)

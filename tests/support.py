"""Helpers for tests: polling for a condition, reading and measuring queues, sample events (and the TCP proxy that
cuts a dependency off, which lives in ops for the chaos benchmark too)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import aio_pika
import aiohttp
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from contracts import VideoDeletedV1, new_envelope
from contracts.envelope import Envelope
from ops.tcpproxy import TcpProxy

T = TypeVar("T")
__all__ = ["TcpProxy", "deleted_event", "depth", "drain", "eventually", "temp_queue"]


async def eventually(predicate: Callable[[], T | Awaitable[T]], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll a sync or async predicate until it returns a truthy value; fail the test after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        await asyncio.sleep(interval)


def deleted_event(correlation_id: str | None = None) -> Envelope[VideoDeletedV1]:
    data = VideoDeletedV1(video_id=uuid.uuid4(), owner_id=uuid.uuid4(), deleted_at=datetime.now(UTC))
    return new_envelope(data, source="framepipe/tests", correlation_id=correlation_id)


async def drain(
    connection: AbstractRobustConnection, queue: str, expect: int, timeout: float = 10.0
) -> list[AbstractIncomingMessage]:
    """Take `expect` messages off a queue (acking them), or fail after `timeout`."""
    got: list[AbstractIncomingMessage] = []
    async with connection.channel() as channel:
        q = await channel.get_queue(queue, ensure=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(got) < expect:
            message = await q.get(fail=False, no_ack=True)
            if message is None:
                if loop.time() > deadline:
                    raise AssertionError(f"{queue}: got {len(got)} of {expect} messages")
                await asyncio.sleep(0.05)
                continue
            got.append(message)
    return got


async def depth(connection: AbstractRobustConnection, queue: str) -> int:
    async with connection.channel() as channel:
        declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
        return int(count or 0)


async def temp_queue(channel: aio_pika.abc.AbstractChannel, *keys: str) -> aio_pika.abc.AbstractQueue:
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    for key in keys:
        await queue.bind("framepipe.events", routing_key=key)
    return queue


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: Any
    id: str | None


class EventStream:
    """Reads server-sent events off a streaming HTTP response, as a browser's EventSource would (comments and
    `retry:` lines skipped); `data` is decoded as JSON."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        assert response.status == 200, response.status
        assert response.headers["Content-Type"].startswith("text/event-stream"), response.headers
        self.response = response
        self.last_id: str | None = None

    async def next(self, timeout: float = 10.0) -> ServerSentEvent:
        """The next event; fails the test if none comes within `timeout`, or the stream ends."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    raise AssertionError(f"the stream ended (fields so far: {fields})")
                line = raw.decode().rstrip("\n")
                if line == "" and "data" in fields:
                    break
                if line and not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
        if "id" in fields:
            self.last_id = fields["id"]
        return ServerSentEvent(fields.get("event", "message"), json.loads(fields["data"]), fields.get("id"))

    async def until(self, match: Callable[[ServerSentEvent], bool], timeout: float = 10.0) -> ServerSentEvent:
        """Skip events until one matches."""
        async with asyncio.timeout(timeout):
            while not match(event := await self.next(timeout)):
                pass
        return event

    async def ended(self, timeout: float = 10.0) -> bool:
        """The server closed the stream within `timeout` (events still coming in are skipped)."""
        async with asyncio.timeout(timeout):
            while await self.response.content.readline():
                pass
        return True

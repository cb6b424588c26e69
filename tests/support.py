"""Helpers for tests: polling for a condition, reading and measuring queues, sample events."""

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

T = TypeVar("T")


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


class TcpProxy:
    """A loopback TCP proxy a test can cut (close every connection and refuse new ones) and restore, to make a
    real dependency unreachable for one client without stopping it for anyone else."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    async def start(self, port: int = 0) -> TcpProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port or self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        if self._server is None:
            await self.start(self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)
        self._writers.difference_update((writer, up_writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()


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

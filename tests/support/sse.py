"""Server-sent events read off a streaming HTTP response, as a browser's EventSource reads them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp


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

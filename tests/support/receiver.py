"""A webhook receiver for tests and benchmarks: a real aiohttp server on loopback that records every request,
answers as a test scripts it (status codes, a hang, a redirect, a large body), and deduplicates on `webhook-id`
as the integrators' guide asks receivers to: `accepted` holds the first successful delivery of each id."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived
    status: int  # what the receiver answered (0 when it hung up without answering)


@dataclass
class Receiver:
    """`script`: answers for the next requests, in order: an int status, ("hang", seconds), ("redirect", url) or
    ("big", bytes); afterwards `default` (an int status). `failure_rate` fails that share of requests with 500
    (seeded, so a run is repeatable)."""

    script: list[Any] = field(default_factory=list)
    default: int = 204
    failure_rate: float = 0.0
    seed: int = 7
    record_bodies: bool = True
    requests: list[Received] = field(default_factory=list)
    accepted: dict[str, Received] = field(default_factory=dict)
    port: int = 0
    _runner: web.AppRunner | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self.arrived = asyncio.Event()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> Receiver:
        app = web.Application(client_max_size=16 * 1024**2)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Receiver:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    def with_id(self, webhook_id: str) -> list[Received]:
        return [r for r in self.requests if r.headers.get("webhook-id") == webhook_id]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        answer = self.script.pop(0) if self.script else self.default
        if self.failure_rate and self._random.random() < self.failure_rate:
            answer = 500
        received = Received(
            request.path,
            {k.lower(): v for k, v in request.headers.items()},
            body if self.record_bodies else b"",
            time.time(),
            answer if isinstance(answer, int) else 0,
        )
        self.requests.append(received)
        self.arrived.set()
        if isinstance(answer, tuple) and answer[0] == "hang":
            await asyncio.sleep(answer[1])
            return web.Response(status=200)
        if isinstance(answer, tuple) and answer[0] == "redirect":
            raise web.HTTPFound(answer[1])
        if isinstance(answer, tuple) and answer[0] == "big":
            return web.Response(body=b"x" * answer[1])
        if 200 <= answer < 300:
            self.accepted.setdefault(received.headers.get("webhook-id", ""), received)
        return web.Response(status=answer, text="ok" if answer < 400 else "nope")

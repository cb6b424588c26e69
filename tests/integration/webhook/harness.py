"""webhook_svc as the integration tests run it: the real app (create_app) on a queue of the test's own, against the
run's PostgreSQL database and RabbitMQ vhost, and functions that register endpoints and make video events."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from contracts import new_envelope
from contracts.envelope import Envelope
from contracts.events import (
    EventData,
    VideoProcessingProgressV1,
)
from contracts.topology import WEBHOOK_EVENTS
from servicekit.bus import declare_queue
from servicekit.runtime import POOL
from tests.support.events import failed_data, from_processor, processed_data
from tests.support.tokens import JwtKeys, TokenFor
from webhook_svc.app import create_app
from webhook_svc.settings import Settings

LOOPBACK = "127.0.0.0/8,::1/128"


def webhook_settings(database_url: str, amqp_url: str, jwt_keys: JwtKeys, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "amqp_url": amqp_url,
        "db_schema": f"webhook_{uuid.uuid4().hex[:10]}",
        "jwt_public_keys_dir": jwt_keys.public_keys_dir,
        "webhook_allowed_networks": LOOPBACK,
        "webhook_retry_schedule_seconds": "0.3,0.6,1",
        "webhook_timeout_seconds": 1.5,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Webhooks:
    client: TestClient[Any, Any]
    token_for: TokenFor

    @property
    def pool(self) -> asyncpg.Pool:
        return self.client.app[POOL]  # type: ignore[index]

    def auth(self, user: uuid.UUID) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token_for(user, f'{user.hex[:8]}@example.com')}"}

    async def call(self, method: str, path: str, user: uuid.UUID, **kwargs: Any) -> tuple[int, Any]:
        headers = {**self.auth(user), **kwargs.pop("headers", {})}
        response = await self.client.request(method, path, headers=headers, **kwargs)
        body = await response.json() if response.status != 204 else None
        return response.status, body

    async def register(self, user: uuid.UUID, url: str, *types: str) -> dict[str, Any]:
        status, body = await self.call("POST", "/webhooks", user, json={"url": url, "event_types": list(types)})
        assert status == 201, body
        return dict(body)

    async def deliveries(self, user: uuid.UUID, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
        status, body = await self.call("GET", f"/webhooks/{endpoint_id}/deliveries", user, params=params)
        assert status == 200, body
        return list(body["items"])


@contextlib.asynccontextmanager
async def running_webhooks(
    settings: Settings, amqp: AbstractRobustConnection, token_for: TokenFor
) -> AsyncIterator[Webhooks]:
    queue = replace(WEBHOOK_EVENTS, name=f"test.webhook-events.{uuid.uuid4().hex[:6]}", retry_delays_ms=(300, 600))
    async with amqp.channel() as channel:
        await declare_queue(channel, queue)
    app: web.Application = create_app(settings, event_queue=queue)
    async with TestClient(TestServer(app)) as client:
        yield Webhooks(client, token_for)


def now() -> datetime:
    return datetime.now(UTC)


def processed(owner_id: uuid.UUID, video_id: uuid.UUID | None = None) -> Envelope[EventData]:
    return from_processor(processed_data(owner_id, video_id, filename="clip.mp4"))


def failed(owner_id: uuid.UUID) -> Envelope[EventData]:
    return from_processor(failed_data(owner_id))


def progress(owner_id: uuid.UUID) -> Envelope[EventData]:
    data = VideoProcessingProgressV1(video_id=uuid.uuid4(), owner_id=owner_id, progress=0.5, frames_done=3)
    return new_envelope(data, source="framepipe/processor_svc")

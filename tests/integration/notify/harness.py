"""notify_svc as the integration tests run it: the real app (create_app) on the run's database, broker and SMTP server
with queues whose retries come quickly, the events it handles, and what it left behind (notifications, e-mails)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from contracts import new_envelope
from contracts.envelope import Envelope
from contracts.events import (
    EventData,
    FailureCode,
    UserRegisteredV1,
)
from contracts.topology import NOTIFY_USER_DIRECTORY, NOTIFY_VIDEO_OUTCOMES, QueueSpec
from notify_svc.app import create_app
from notify_svc.settings import Settings
from servicekit.bus import declare_queue
from servicekit.runtime import POOL
from tests.support.events import failed_data, from_processor, processed_data
from tests.support.tokens import JwtKeys

INTERNAL_DETAIL = "ffprobe exited 1 reading /var/tmp/job-42/source: moov atom not found"


@dataclass
class Notify:
    client: TestClient[Any, Any]
    outcomes: QueueSpec
    directory: QueueSpec

    @property
    def pool(self) -> asyncpg.Pool:
        return self.client.app[POOL]  # type: ignore[index]


def notify_settings(database_url: str, amqp_url: str, smtp_port: int, jwt_keys: JwtKeys) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,  # type: ignore[arg-type]
        amqp_url=amqp_url,  # type: ignore[arg-type]
        db_schema=f"notify_{uuid.uuid4().hex[:10]}",
        smtp_port=smtp_port,
        smtp_timeout_seconds=3,
        jwt_public_keys_dir=jwt_keys.public_keys_dir,
        app_base_url="https://app.framepipe.test",
    )


def short_delay_queues(max_attempts: int = NOTIFY_VIDEO_OUTCOMES.max_attempts) -> tuple[QueueSpec, QueueSpec]:
    """The contract's queues under names of this test's own, with short retry delays."""
    tag = uuid.uuid4().hex[:6]
    outcomes = replace(
        NOTIFY_VIDEO_OUTCOMES,
        name=f"test.notify-outcomes.{tag}",
        retry_delays_ms=(300, 600, 1_000),
        max_attempts=max_attempts,
    )
    return outcomes, replace(NOTIFY_USER_DIRECTORY, name=f"test.notify-directory.{tag}")


@contextlib.asynccontextmanager
async def running_notify(
    settings: Settings, amqp: AbstractRobustConnection, *, max_attempts: int = NOTIFY_VIDEO_OUTCOMES.max_attempts
) -> AsyncIterator[Notify]:
    outcomes, directory = short_delay_queues(max_attempts)
    async with amqp.channel() as channel:
        await declare_queue(channel, outcomes)
        await declare_queue(channel, directory)
    app: web.Application = create_app(settings, outcome_queue=outcomes, directory_queue=directory)
    async with TestClient(TestServer(app)) as client:
        yield Notify(client, outcomes, directory)


def now() -> datetime:
    return datetime.now(UTC)


def registered(user_id: uuid.UUID, email: str, name: str | None = "Ada Lovelace") -> Envelope[EventData]:
    data = UserRegisteredV1(user_id=user_id, email=email, name=name, registered_at=now())
    return new_envelope(data, source="framepipe/auth_svc")


def processed(
    owner_id: uuid.UUID, video_id: uuid.UUID | None = None, frames: int = 42, filename: str | None = None
) -> Envelope[EventData]:
    data = processed_data(
        owner_id, video_id, frame_count=frames, duration_seconds=4.2, processing_seconds=1.5, filename=filename
    )
    return from_processor(data)


def failed(owner_id: uuid.UUID, code: FailureCode) -> Envelope[EventData]:
    return from_processor(failed_data(owner_id, code=code, message=INTERNAL_DETAIL))


def new_user(domain: str = "example.com") -> tuple[uuid.UUID, str]:
    user_id = uuid.uuid4()
    return user_id, f"user-{user_id.hex[:8]}@{domain}"


async def notification(notify: Notify, event_id: uuid.UUID) -> asyncpg.Record | None:
    async with notify.pool.acquire() as conn:
        row: asyncpg.Record | None = await conn.fetchrow(
            "SELECT status, attempts, subject, last_error, message_id FROM notifications WHERE event_id = $1",
            event_id,
        )
        return row


async def status_of(notify: Notify, event_id: uuid.UUID) -> str | None:
    row = await notification(notify, event_id)
    return row["status"] if row else None


async def has_status(notify: Notify, event_id: uuid.UUID, status: str) -> bool:
    return await status_of(notify, event_id) == status


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


async def recipient_known(notify: Notify, user_id: uuid.UUID) -> bool:
    async with notify.pool.acquire() as conn:
        return bool(await conn.fetchval("SELECT count(*) FROM recipients WHERE user_id = $1", user_id))

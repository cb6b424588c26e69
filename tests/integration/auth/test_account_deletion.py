"""Deleting an account, end to end on one broker: auth_svc deletes the user and revokes their tokens; video_svc
deletes their videos and objects (one `video.deleted.v1` each); notify_svc forgets the recipient and mails nothing
about a deleted account's or a deleted video's outcome that arrives afterwards, while a live user's outcome is
still mailed; webhook_svc deletes their endpoints."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection
from aiohttp.test_utils import TestClient

from contracts import VideoDeletedV1, new_envelope
from ops.dev.localinfra import LocalS3, LocalSMTP, MailSink
from servicekit.bus import Publisher
from tests.integration.auth.harness import (
    PASSWORD,
    auth_client,
    auth_settings,
    bearer,
    code_of,
    log_in,
    new_email,
    refused_by_video,
    register,
)
from tests.integration.notify.harness import Notify, notify_settings, processed, running_notify
from tests.integration.video.harness import (
    Story,
    VideoService,
    clip_fixture,
    running_video_service,
    uploaded_id,
    video_settings,
)
from tests.integration.webhook.harness import Webhooks, running_webhooks, webhook_settings
from tests.support.polling import eventually
from tests.support.tokens import JwtKeys

clip = clip_fixture()
QUIET_SECONDS = 3.0  # how long an e-mail that should not come is waited for, after the control's has come


@pytest.fixture(scope="module")
async def auth(database_url: str, amqp_url: str, jwt_keys: JwtKeys) -> AsyncIterator[TestClient[Any, Any]]:
    async with auth_client(auth_settings(database_url, amqp_url, jwt_keys, login_max_failures=3)) as client:
        yield client


@pytest.fixture(scope="module")
async def video(
    database_url: str, amqp_url: str, local_s3: LocalS3, jwt_keys: JwtKeys, token_for: Callable[..., str]
) -> AsyncIterator[VideoService]:
    settings = video_settings(database_url=database_url, amqp_url=amqp_url, local_s3=local_s3, jwt_keys=jwt_keys)
    async with running_video_service(settings, token_for) as service:
        yield service


@pytest.fixture
async def notify(
    database_url: str, amqp_url: str, smtp_server: LocalSMTP, jwt_keys: JwtKeys, amqp: AbstractRobustConnection
) -> AsyncIterator[Notify]:
    async with running_notify(notify_settings(database_url, amqp_url, smtp_server.port, jwt_keys), amqp) as service:
        yield service


@pytest.fixture
async def webhooks(
    database_url: str, amqp_url: str, jwt_keys: JwtKeys, amqp: AbstractRobustConnection, token_for: Callable[..., str]
) -> AsyncIterator[Webhooks]:
    async with running_webhooks(webhook_settings(database_url, amqp_url, jwt_keys), amqp, token_for) as service:
        yield service


async def new_account(auth: TestClient[Any, Any]) -> tuple[uuid.UUID, str]:
    email = new_email()
    user = await register(auth, email)
    return uuid.UUID(user["id"]), email


async def recipients(notify: Notify, user_id: uuid.UUID) -> int:
    async with notify.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM recipients WHERE user_id = $1", user_id))


async def endpoints(webhooks: Webhooks, user_id: uuid.UUID) -> int:
    async with webhooks.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM endpoints WHERE owner_id = $1", user_id))


async def kept_events(webhooks: Webhooks, user_id: uuid.UUID) -> int:
    async with webhooks.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM events WHERE owner_id = $1", user_id))


async def live_videos(video: VideoService, user_id: uuid.UUID) -> int:
    sql = "SELECT count(*) FROM videos WHERE owner_id = $1 AND deleted_at IS NULL"
    return int(await video.fetchval(sql, user_id))


async def test_deleting_an_account_removes_what_every_service_holds_and_nothing_is_mailed_about_it(
    auth: TestClient[Any, Any],
    video: VideoService,
    notify: Notify,
    webhooks: Webhooks,
    publisher: Publisher,
    mail_sink: MailSink,
    clip: bytes,
) -> None:
    doomed, doomed_email = await new_account(auth)
    alive, alive_email = await new_account(auth)
    token = await log_in(auth, doomed_email)
    done = Story(video, publisher, doomed, await uploaded_id(video, doomed, clip))
    await done.publish(done.started(), await done.processed(previews=(b"\xff\xd8jpeg",)))
    waiting = await uploaded_id(video, doomed, clip)
    kept = await uploaded_id(video, alive, clip)
    assert len(await video.keys(f"sources/{doomed}/")) == 2
    assert len(await video.keys(f"results/{done.video_id}")) == 1
    assert len(await video.keys(f"results/previews/{done.video_id}/")) == 1
    await webhooks.register(doomed, "http://127.0.0.1:9/hook", "video.processed.v1")
    await eventually(lambda: recipients(notify, alive))
    await eventually(lambda: mail_sink.to(doomed_email))  # the finished video's e-mail, while the account lives

    response = await auth.request("DELETE", "/account", json={"password": PASSWORD}, headers=bearer(token))
    assert response.status == 202, await response.text()
    assert (await response.json())["user_id"] == str(doomed)

    assert (await auth.post("/login", json={"email": doomed_email, "password": PASSWORD})).status == 401
    assert await code_of(auth, "/me", bearer(token)) == "token_revoked"
    await eventually(lambda: refused_by_video(video, bearer(token)))

    await eventually(lambda: video.fetchval("SELECT count(*) = 0 FROM videos WHERE owner_id = $1 AND "
                                            "deleted_at IS NULL", doomed))  # fmt: skip
    assert await video.events("video.deleted.v1", str(done.video_id)) == 1
    assert await video.events("video.deleted.v1", waiting) == 1
    assert await video.events("video.deleted.v1", kept) == 0
    assert await live_videos(video, alive) == 1
    await eventually(lambda: _no_keys(video, f"sources/{doomed}/"))
    assert await video.keys(f"results/{done.video_id}") == []
    assert await video.keys(f"results/previews/{done.video_id}/") == []
    assert len(await video.keys(f"sources/{alive}/")) == 1
    await eventually(lambda: _none(recipients(notify, doomed)))
    await eventually(lambda: _none(endpoints(webhooks, doomed)))

    # An outcome of the deleted account's video arrives late; a live user's outcome is the control.
    late = processed(doomed, uuid.UUID(waiting))
    control = processed(alive, uuid.UUID(kept))
    await publisher.publish(late)
    await publisher.publish(control)
    await eventually(lambda: mail_sink.to(alive_email))
    await asyncio.sleep(QUIET_SECONDS)
    assert len(mail_sink.to(doomed_email)) == 1  # nothing since the deletion
    await eventually(lambda: kept_events(webhooks, alive))  # webhook_svc keeps a live user's events...
    assert await kept_events(webhooks, doomed) == 0  # ...and none of a deleted account's, late ones included
    assert len(mail_sink.to(alive_email)) == 1


async def test_an_outcome_of_a_deleted_video_is_not_mailed(
    notify: Notify, publisher: Publisher, mail_sink: MailSink, auth: TestClient[Any, Any]
) -> None:
    owner, email = await new_account(auth)
    await eventually(lambda: recipients(notify, owner))
    gone, live = uuid.uuid4(), uuid.uuid4()
    deleted = VideoDeletedV1(video_id=gone, owner_id=owner, deleted_at=datetime.now(UTC))
    await publisher.publish(new_envelope(deleted, source="framepipe/video_svc"))
    await eventually(lambda: _deleted_video_known(notify, gone))

    await publisher.publish(processed(owner, gone, filename="gone.mp4"))
    await publisher.publish(processed(owner, live, filename="live.mp4"))
    await eventually(lambda: mail_sink.to(email))
    await asyncio.sleep(QUIET_SECONDS)
    mails = mail_sink.to(email)
    assert len(mails) == 1
    assert str(live) in mails[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"password": "not the password"}, 403, "wrong_password"),
        ({}, 422, "validation_error"),
        ({"password": ""}, 422, "validation_error"),
        ("password", 422, "validation_error"),
    ],
)
async def test_an_account_is_not_deleted_without_its_password(
    auth: TestClient[Any, Any], body: Any, status: int, code: str
) -> None:
    _, email = await new_account(auth)
    token = await log_in(auth, email)
    response = await auth.request("DELETE", "/account", json=body, headers=bearer(token))
    assert response.status == status
    assert (await response.json())["code"] == code
    assert await code_of(auth, "/me", bearer(token)) == 200


async def test_deleting_an_account_needs_a_token(auth: TestClient[Any, Any]) -> None:
    response = await auth.request("DELETE", "/account", json={"password": PASSWORD})
    assert response.status == 401
    assert (await response.json())["code"] == "missing_token"


async def _no_keys(video: VideoService, prefix: str) -> bool:
    return await video.keys(prefix) == []


async def _none(count: Any) -> bool:
    return await count == 0


async def _deleted_video_known(notify: Notify, video_id: uuid.UUID) -> bool:
    async with notify.pool.acquire() as conn:
        return bool(await conn.fetchval("SELECT count(*) FROM deleted_videos WHERE video_id = $1", video_id))

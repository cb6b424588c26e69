"""Live video changes as server-sent events: every change of the owner's videos, whichever replica made it, nothing
of anyone else's; a reconnect with Last-Event-ID replays what was missed, terminal states and deletions
included; a lost listener connection is caught up; the stream ends with its token and with the service."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from servicekit.bus import Publisher
from servicekit.sessions import COOKIE
from tests.integration.video.harness import (
    Story,
    TokenFor,
    VideoService,
    clip_fixture,
    uploaded_id,
    video_service_fixture,
)
from tests.support.polling import eventually
from tests.support.sse import EventStream, ServerSentEvent
from tests.support.tokens import JwtKeys, signer_for
from video_svc.api import LIVE
from video_svc.app import create_app

svc = video_service_fixture(max_event_streams_per_user=3)
clip = clip_fixture()


@contextlib.asynccontextmanager
async def events(client: TestClient[Any, Any], headers: dict[str, str], **params: str) -> AsyncIterator[EventStream]:
    response = await client.get("/video/events", headers=headers, params=params)
    try:
        yield EventStream(response)
    finally:
        response.close()


def about(video_id: str, status: str | None = None) -> Any:
    def match(event: ServerSentEvent) -> bool:
        return event.event == "video" and event.data["id"] == video_id and status in (None, event.data["status"])

    return match


@contextlib.asynccontextmanager
async def second_replica(svc: VideoService) -> AsyncIterator[TestClient[Any, Any]]:
    """Another video_svc on the same database and bucket, as a second pod would be."""
    async with TestClient(TestServer(create_app(svc.settings))) as client:
        yield client


async def test_the_owner_sees_each_change_of_a_video_from_upload_to_done_and_nothing_of_others(
    svc: VideoService, publisher: Publisher, clip: bytes
) -> None:
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    async with events(svc.client, svc.auth(owner)) as stream:
        ready = await stream.next()
        assert ready.event == "ready"
        assert ready.id is not None
        await uploaded_id(svc, stranger, clip)
        story = Story(svc, publisher, owner, await uploaded_id(svc, owner, clip))
        video_id = str(story.video_id)
        first = await stream.next()
        assert first.event == "video"  # not the stranger's upload, made before it
        assert (first.data["id"], first.data["status"]) == (video_id, "uploaded")
        assert first.data == await story.video()  # the same rendering as GET /video/{id}
        await story.publish(story.started(), story.progress(0.5))
        assert (await stream.until(about(video_id, "processing"))).data["progress"] in (0, 0.5)
        await story.publish(await story.processed())
        done = await stream.until(about(video_id, "done"))
        assert (done.data["frame_count"], done.data["progress"]) == (10, 1)
        assert int(done.id or 0) > int(ready.id)
        deleted = await svc.client.delete(f"/video/{video_id}", headers=svc.auth(owner))
        assert deleted.status == 204
        gone = await stream.until(lambda e: e.event == "deleted")
        assert gone.data == {"id": video_id}


async def test_a_change_made_by_one_replica_reaches_a_stream_held_by_another(
    svc: VideoService, publisher: Publisher, clip: bytes
) -> None:
    owner = uuid.uuid4()
    async with second_replica(svc) as other, events(other, svc.auth(owner)) as stream:
        assert (await stream.next()).event == "ready"
        story = Story(svc, publisher, owner, await uploaded_id(svc, owner, clip))  # through the first replica
        await stream.until(about(str(story.video_id), "uploaded"))
        await story.publish(story.started(), story.failed())  # whichever replica consumes them
        failed = await stream.until(about(str(story.video_id), "failed"))
        assert failed.data["error"]["code"] == "invalid_media"


async def test_a_reconnect_with_last_event_id_replays_what_changed_while_away(
    svc: VideoService, publisher: Publisher, clip: bytes
) -> None:
    owner = uuid.uuid4()
    done_story = Story(svc, publisher, owner, await uploaded_id(svc, owner, clip))
    deleted_id = await uploaded_id(svc, owner, clip)
    async with events(svc.client, svc.auth(owner)) as stream:
        last = (await stream.next()).id
    assert last is not None
    await done_story.publish(done_story.started(), await done_story.processed())
    assert (await svc.client.delete(f"/video/{deleted_id}", headers=svc.auth(owner))).status == 204

    async with events(svc.client, {**svc.auth(owner), "Last-Event-ID": last}) as stream:
        replayed = []
        while (event := await stream.next()).event != "ready":
            replayed.append(event)
    latest = {e.data["id"]: e for e in replayed}  # a change may come twice; the newest tells the state
    assert latest[str(done_story.video_id)].data["status"] == "done"
    assert latest[deleted_id].event == "deleted"


async def test_a_stream_catches_up_after_its_listener_connection_is_lost(
    svc: VideoService, publisher: Publisher, clip: bytes
) -> None:
    owner = uuid.uuid4()
    story = Story(svc, publisher, owner, await uploaded_id(svc, owner, clip))
    async with events(svc.client, svc.auth(owner)) as stream:
        assert (await stream.next()).event == "ready"
        killed = await svc.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            f"framepipe-{svc.settings.db_schema}.videos-live",
        )
        assert killed == 1
        await story.publish(story.started(), await story.processed())  # while nobody listens
        done = await stream.until(about(str(story.video_id), "done"), timeout=20)
        assert done.data["frame_count"] == 10


async def test_the_stream_ends_when_its_token_expires(svc: VideoService, jwt_keys: JwtKeys) -> None:
    signer = signer_for(jwt_keys, ttl_seconds=2)
    owner = uuid.uuid4()
    started = time.monotonic()
    async with events(svc.client, {"Authorization": f"Bearer {signer.sign(owner, 'x@example.com')}"}) as stream:
        assert (await stream.next()).event == "ready"
        assert await stream.ended(timeout=10)
    assert time.monotonic() - started < 8


async def test_the_session_cookie_opens_a_stream_and_guards_changes_by_origin(
    svc: VideoService, token_for: TokenFor, clip: bytes
) -> None:
    owner = uuid.uuid4()
    cookie = {"Cookie": f"{COOKIE}={token_for(owner, 'c@example.com')}"}
    async with events(svc.client, cookie) as stream:
        assert (await stream.next()).event == "ready"
    video_id = await uploaded_id(svc, owner, clip)
    host = f"127.0.0.1:{svc.port}"
    refused = [
        {},  # no Sec-Fetch-Site, no Origin: not from a page of ours
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain
        {"Origin": "http://evil.example"},
    ]
    for extra in refused:
        response = await svc.client.delete(f"/video/{video_id}", headers={**cookie, **extra})
        assert response.status == 403, extra
        assert (await response.json())["code"] == "cross_origin_request"
    assert await svc.rows(owner) == 1
    response = await svc.client.delete(f"/video/{video_id}", headers={**cookie, "Origin": f"http://{host}"})
    assert response.status == 204


async def test_open_streams_per_user_are_capped_and_bad_input_is_answered(svc: VideoService) -> None:
    owner = uuid.uuid4()
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(3):
            stream = await stack.enter_async_context(events(svc.client, svc.auth(owner)))
            assert (await stream.next()).event == "ready"
        refused = await svc.client.get("/video/events", headers=svc.auth(owner))
        assert refused.status == 429
        assert refused.headers["Retry-After"] == "10"
        assert (await refused.json())["code"] == "too_many_streams"
        other = await stack.enter_async_context(events(svc.client, svc.auth(uuid.uuid4())))
        assert (await other.next()).event == "ready"  # another user is not affected
    for bad in ("yesterday", "-5", "9" * 30):
        response = await svc.client.get("/video/events", headers=svc.auth(owner), params={"since": bad})
        assert response.status == 422, bad
    response = await svc.client.get("/video/events")
    assert response.status == 401
    await eventually(lambda: svc.client.app[LIVE].streams_of(owner) == 0)  # type: ignore[index]


async def test_stopping_the_service_ends_its_streams_at_once(svc: VideoService) -> None:
    owner = uuid.uuid4()
    client = TestClient(TestServer(create_app(svc.settings)))
    await client.start_server()
    stream = EventStream(await client.get("/video/events", headers=svc.auth(owner)))
    assert (await stream.next()).event == "ready"
    started = time.monotonic()
    stopping = asyncio.create_task(client.server.close())  # the service stops; the client stays
    with contextlib.suppress(aiohttp.ClientPayloadError):
        assert await stream.ended(timeout=10)
    await stopping
    assert time.monotonic() - started < 5
    await client.close()


async def test_previews_are_served_to_their_owner_only_and_deleted_with_the_video(
    svc: VideoService, publisher: Publisher, clip: bytes
) -> None:
    owner = uuid.uuid4()
    story = Story(svc, publisher, owner, await uploaded_id(svc, owner, clip))
    url = f"/video/{story.video_id}/previews"
    assert (await svc.client.get(f"{url}/1", headers=svc.auth(owner))).status == 404  # not done yet
    images = (b"\xff\xd8\xff first", b"\xff\xd8\xff second")
    await story.publish(await story.processed(previews=images))
    assert (await story.video())["preview_count"] == 2
    for number, image in enumerate(images, start=1):
        response = await svc.client.get(f"{url}/{number}", headers=svc.auth(owner))
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.headers["Cache-Control"] == "no-store"
        assert await response.read() == image
    for path in (f"{url}/3", f"{url}/0", f"{url}/x", f"{url}/99999999999999999999"):
        response = await svc.client.get(path, headers=svc.auth(owner))
        assert response.status == 404, path
        assert (await response.json())["code"] == "not_found"
    assert (await svc.client.get(f"{url}/1", headers=svc.auth(uuid.uuid4()))).status == 404
    assert (await svc.client.delete(f"/video/{story.video_id}", headers=svc.auth(owner))).status == 204
    assert await svc.keys(f"results/previews/{story.video_id}/") == []


async def test_the_upload_limits_come_from_the_settings_and_the_contract(svc: VideoService) -> None:
    response = await svc.client.get("/video/limits")
    assert response.status == 200
    limits = await response.json()
    assert limits["max_upload_bytes"] == svc.settings.max_upload_bytes
    assert limits["max_files_per_upload"] == svc.settings.max_files_per_upload
    interval = limits["options"]["properties"]["interval_seconds"]
    assert (interval["minimum"], interval["maximum"], interval["default"]) == (0.1, 3600, 1.0)
    assert ".mp4" in {ext for c in limits["containers"] for ext in c["extensions"]}


async def test_a_rolled_back_change_is_never_announced(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    video_id = await uploaded_id(svc, owner, clip)
    async with events(svc.client, svc.auth(owner)) as stream:
        assert (await stream.next()).event == "ready"
        async with svc.pool.acquire() as conn:
            with contextlib.suppress(asyncpg.RaiseError):
                async with conn.transaction():
                    await conn.execute("UPDATE videos SET progress = 0.9 WHERE id = $1", uuid.UUID(video_id))
                    await conn.execute("DO $$ BEGIN RAISE EXCEPTION 'roll back'; END $$")
            await conn.execute(
                "UPDATE videos SET progress = 0.2, updated_at = now() WHERE id = $1", uuid.UUID(video_id)
            )
        change = await stream.next()
    assert change.data["progress"] == pytest.approx(0.2)

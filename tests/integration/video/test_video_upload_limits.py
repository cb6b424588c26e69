"""What keeps one client from exhausting video_svc: encoded bodies refused, a stalled upload cut off and its slot
freed, uploads at once capped per user and per replica, and each user's quotas (uploads per hour, bytes per day,
videos in flight) answered with 429 and Retry-After, storing nothing."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.video.harness import (
    TokenFor,
    VideoService,
    clip_fixture,
    running_video_service,
    uploaded_id,
    video_service_fixture,
    video_settings,
)

svc = video_service_fixture(
    max_concurrent_uploads_per_user=2, max_concurrent_uploads=4, upload_idle_timeout_seconds=1, max_uploads_per_hour=3
)
clip = clip_fixture()
BOUNDARY = "limitsboundary"


@contextlib.asynccontextmanager
async def stalled_upload(svc: VideoService, owner: uuid.UUID, clip: bytes) -> AsyncIterator[asyncio.StreamReader]:
    """An upload that sends its headers and the first 8 KB of a real video, then nothing more."""
    reader, writer = await asyncio.open_connection("127.0.0.1", svc.port)
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode() + clip[:8192]  # fmt: skip
    request = (
        f"POST /video HTTP/1.1\r\nHost: 127.0.0.1\r\n{_auth_line(svc, owner)}"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len(head) + 10_000_000}\r\n\r\n"
    ).encode()
    writer.write(request + head)
    await writer.drain()
    try:
        yield reader
    finally:
        writer.close()


def _auth_line(svc: VideoService, owner: uuid.UUID) -> str:
    (name, value), = svc.auth(owner).items()  # fmt: skip
    return f"{name}: {value}\r\n"


async def status_of(reader: asyncio.StreamReader, timeout: float = 10) -> int:
    line = await asyncio.wait_for(reader.readline(), timeout)
    return int(line.split()[1])


async def problem_of(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = await response.json()
    return body


async def test_a_compressed_body_is_refused_before_it_is_inflated(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    body = gzip.compress(b"x" * 1_000_000)
    response = await svc.client.post(
        "/video",
        data=body,
        headers={
            **svc.auth(owner),
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Encoding": "gzip",
        },
    )
    assert response.status == 415
    assert (await problem_of(response))["code"] == "content_encoding_not_accepted"
    assert await svc.keys(f"sources/{owner}") == []


async def test_a_stalled_upload_is_cut_off_stores_nothing_and_frees_its_slot(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    async with stalled_upload(svc, owner, clip) as first, stalled_upload(svc, owner, clip) as second:
        await asyncio.sleep(0.3)
        refused = await svc.upload(owner, ("third.mp4", clip))  # two of this user's are already running
        assert refused.status == 429
        assert refused.headers["Retry-After"] == "5"
        problem = await problem_of(refused)
        assert (problem["code"], problem["scope"], problem["limit"]) == ("too_many_uploads", "user", 2)
        assert await status_of(first) == 408  # after the idle second, not after the 10 MB it promised
        assert await status_of(second) == 408
    assert await svc.keys(f"sources/{owner}") == []
    assert await svc.rows(owner) == 0
    assert (await svc.upload(owner, ("after.mp4", clip))).status == 202  # the slots are free again


async def test_uploads_at_once_are_capped_for_the_whole_replica_too(svc: VideoService, clip: bytes) -> None:
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(4):  # four users, one stalled upload each: the replica's limit
            await stack.enter_async_context(stalled_upload(svc, uuid.uuid4(), clip))
        await asyncio.sleep(0.3)
        refused = await svc.upload(uuid.uuid4(), ("fifth.mp4", clip))
        assert refused.status == 429
        assert (await problem_of(refused))["scope"] == "service"


async def test_uploads_per_hour_count_deleted_videos_too(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    ids = [await uploaded_id(svc, owner, clip) for _ in range(3)]
    assert (await svc.client.delete(f"/video/{ids[0]}", headers=svc.auth(owner))).status == 204
    refused = await svc.upload(owner, ("fourth.mp4", clip))
    assert refused.status == 429
    problem = await problem_of(refused)
    assert (problem["code"], problem["quota"], problem["limit"]) == ("quota_exceeded", "uploads_per_hour", 3)
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3600
    assert (await svc.upload(uuid.uuid4(), ("someone-else.mp4", clip))).status == 202


@pytest.fixture
async def quota_svc(
    database_url: str, amqp_url: str, local_s3: Any, jwt_keys: Any, token_for: TokenFor, clip: bytes
) -> AsyncIterator[VideoService]:
    settings = video_settings(
        database_url=database_url,
        amqp_url=amqp_url,
        local_s3=local_s3,
        jwt_keys=jwt_keys,
        max_videos_in_flight=2,
        max_upload_bytes_per_day=len(clip) * 5 // 2,
    )
    async with running_video_service(settings, token_for) as service:
        yield service


async def test_videos_in_flight_and_bytes_per_day_are_quotas_of_their_own(quota_svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    first = await uploaded_id(quota_svc, owner, clip)
    await uploaded_id(quota_svc, owner, clip)
    busy = await quota_svc.upload(owner, ("third.mp4", clip))
    assert busy.status == 429
    assert (await problem_of(busy))["quota"] == "videos_in_flight"
    await quota_svc.fetchval("UPDATE videos SET status = 'done' WHERE id = $1 RETURNING 1", uuid.UUID(first))
    # One in flight now, but 2.5 clips a day: the third clip goes past the day's bytes while it streams.
    over = await quota_svc.upload(owner, ("third.mp4", clip), ("fourth.mp4", clip))
    assert over.status == 429
    problem = await problem_of(over)
    assert (problem["code"], problem["quota"]) == ("quota_exceeded", "bytes_per_day")
    assert await quota_svc.rows(owner) == 2  # nothing of the refused request is kept
    assert len(await quota_svc.keys(f"sources/{owner}")) == 2

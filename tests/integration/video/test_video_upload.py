"""POST /video against real PostgreSQL, RabbitMQ and S3: accepted uploads store exact bytes, one row and one
event per file; rejected or interrupted uploads leave no object, no row and no event."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts import ProcessingOptions, decode
from tests.integration.video.harness import (
    VideoService,
    assert_nothing_left,
    make_video,
    video_service_fixture,
)
from tests.support.broker import temp_queue
from tests.support.polling import eventually

LIMIT = 9 * 1024 * 1024  # over S3's 8 MiB part size, so the limit is also met inside a multipart upload
MAX_FILES = 3

svc = video_service_fixture(max_upload_bytes=LIMIT, max_files_per_upload=MAX_FILES)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def clip(media: Path) -> bytes:
    return make_video(media, "clip.mp4")


async def test_one_uploaded_file_gets_a_row_an_identical_object_and_one_event(
    svc: VideoService, clip: bytes, amqp: AbstractRobustConnection
) -> None:
    owner = uuid.uuid4()
    async with amqp.channel() as channel:
        queue = await temp_queue(channel, "video.uploaded.v1")
        response = await svc.upload(owner, ("holiday.mp4", clip))
        assert response.status == 202, await response.text()
        item = (await response.json())["items"][0]
        assert response.headers["Location"] == f"/video/{item['id']}"
        message = await eventually(lambda: queue.get(fail=False, no_ack=True))
        await asyncio.sleep(0.3)
        assert await queue.get(fail=False) is None, "exactly one event"

    assert item["status"] == "uploaded"
    assert item["filename"] == "holiday.mp4"
    assert item["size_bytes"] == len(clip)
    assert item["content_type"] == "video/mp4"
    key = f"sources/{owner}/{item['id']}"
    assert await svc.keys(f"sources/{owner}/") == [key]
    assert hashlib.sha256(await svc.storage.read(key)).hexdigest() == hashlib.sha256(clip).hexdigest()
    assert await svc.rows(owner) == 1
    event = decode(message.body)
    assert event.type == "video.uploaded.v1"
    assert str(event.data.video_id) == item["id"]  # type: ignore[attr-defined]
    assert event.data.source.key == key  # type: ignore[attr-defined]
    assert event.data.size_bytes == len(clip)  # type: ignore[attr-defined]


async def test_three_files_in_one_request_each_get_a_row_an_object_and_one_event(
    svc: VideoService, media: Path
) -> None:
    owner = uuid.uuid4()
    files = [(name, make_video(media, name)) for name in ("a.mp4", "b.mkv", "c.avi")]
    response = await svc.upload(owner, *files, interval_seconds="2.5", image_format="jpg")
    assert response.status == 202, await response.text()
    assert "Location" not in response.headers
    items = (await response.json())["items"]
    assert [i["filename"] for i in items] == ["a.mp4", "b.mkv", "c.avi"]
    assert [i["content_type"] for i in items] == ["video/mp4", "video/x-matroska", "video/x-msvideo"]
    expected = {**ProcessingOptions().model_dump(mode="json"), "interval_seconds": 2.5, "image_format": "jpg"}
    assert all(i["options"] == expected for i in items)
    for item, (_, data) in zip(items, files, strict=True):
        stored = await svc.storage.read(f"sources/{owner}/{item['id']}")
        assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()
        assert await svc.events("video.uploaded.v1", item["id"]) == 1
    assert await svc.rows(owner) == 3
    await eventually(lambda: svc.fetchval("SELECT bool_and(sent_at IS NOT NULL) FROM outbox"))


async def test_a_file_of_exactly_the_limit_is_accepted(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    padded = clip + bytes(LIMIT - len(clip))
    response = await svc.upload(owner, ("big.mp4", padded))
    assert response.status == 202, await response.text()
    item = (await response.json())["items"][0]
    assert item["size_bytes"] == LIMIT
    stored = await svc.storage.read(f"sources/{owner}/{item['id']}")
    assert hashlib.sha256(stored).digest() == hashlib.sha256(padded).digest()


async def test_a_file_one_byte_over_the_limit_is_refused_and_leaves_nothing(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    response = await svc.upload(owner, ("ok.mp4", clip), ("big.mp4", clip + bytes(LIMIT + 1 - len(clip))))
    assert response.status == 413
    assert (await response.json())["code"] == "upload_too_large"
    await assert_nothing_left(svc, owner)


@pytest.mark.parametrize(
    ("files", "fields", "status", "code"),
    [
        ([("notes.mp4", b"just some text, not a video at all" * 10)], {}, 415, "unsupported_media"),
        ([("empty.mp4", b"")], {}, 400, "empty_file"),
        ([], {"interval_seconds": "1"}, 400, "no_file"),
        ([("c.mp4", None)], {"interval_seconds": "0.01"}, 422, "validation_error"),
        ([("c.mp4", None)], {"interval_seconds": "soon"}, 422, "validation_error"),
        ([("c.mp4", None)], {"image_format": "gif"}, 422, "validation_error"),
        ([("c.mp4", None)] * (MAX_FILES + 1), {}, 413, "too_many_files"),
    ],
    ids=[
        "text-named-mp4",
        "zero-bytes",
        "no-file-part",
        "interval-too-small",
        "interval-not-a-number",
        "unknown-image-format",
        "too-many-files",
    ],
)
async def test_a_rejected_upload_leaves_nothing_behind(
    svc: VideoService,
    clip: bytes,
    files: list[tuple[str, bytes | None]],
    fields: dict[str, str],
    status: int,
    code: str,
) -> None:
    owner = uuid.uuid4()
    # A good file first, where the form allows it: what was already stored must be removed as well.
    sent = [("first.mp4", clip)] if code in ("unsupported_media", "empty_file") else []
    sent += [(name, clip if data is None else data) for name, data in files]
    response = await svc.upload(owner, *sent, **fields)
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    assert (await response.json())["code"] == code
    await assert_nothing_left(svc, owner)


async def test_options_sent_after_a_file_are_refused_and_the_file_is_removed(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    body, content_type = multipart([("file", "a.mp4", clip), ("interval_seconds", None, b"2")])
    response = await svc.client.post("/video", data=body, headers={**svc.auth(owner), "Content-Type": content_type})
    assert response.status == 422
    problem = await response.json()
    assert problem["errors"][0]["field"] == "interval_seconds"
    await assert_nothing_left(svc, owner)


async def test_an_upload_needs_a_token_and_a_multipart_body(svc: VideoService, clip: bytes) -> None:
    response = await svc.client.post("/video", data=b"x")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    owner = uuid.uuid4()
    response = await svc.client.post("/video", json={"file": "x"}, headers=svc.auth(owner))
    assert response.status == 415
    await assert_nothing_left(svc, owner)


# --- clients that misbehave on the wire -------------------------------------------------------------------


BOUNDARY = "framepipe-test-boundary"


def multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    chunks = []
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        chunks.append(f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode(), f"multipart/form-data; boundary={BOUNDARY}"


def request_head(svc: VideoService, owner: uuid.UUID, length_header: str) -> bytes:
    return (
        f"POST /video HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {svc.auth(owner)['Authorization']}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{length_header}\r\n\r\n"
    ).encode()


@contextlib.asynccontextmanager
async def raw_connection(svc: VideoService) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", svc.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def send_quietly(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Write, ignoring a server that already answered and closed (it may stop reading early)."""
    with contextlib.suppress(ConnectionError):
        writer.write(data)
        await writer.drain()


async def status_and_body(reader: asyncio.StreamReader) -> tuple[int, dict[str, object]]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    body = await reader.readexactly(length)
    return status, json.loads(body)


async def test_a_content_length_shorter_than_the_body_ends_the_form_early_and_stores_nothing(
    svc: VideoService, clip: bytes
) -> None:
    owner = uuid.uuid4()
    body, _ = multipart([("file", "a.mp4", clip), ("file", "b.mp4", clip + bytes(LIMIT))])
    declared = len(clip) + 500  # the first file and the start of the second, which is really over the limit
    async with raw_connection(svc) as (reader, writer):
        # The server can only trust the declared length: what follows would be read as a next request.
        await send_quietly(writer, request_head(svc, owner, f"Content-Length: {declared}") + body[:declared])
        status, problem = await status_and_body(reader)
    assert status == 400
    assert problem["code"] == "malformed_upload"
    await assert_nothing_left(svc, owner)


async def test_a_chunked_body_without_a_length_is_still_held_to_the_limit(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    body, _ = multipart([("file", "b.mp4", clip + bytes(LIMIT))])
    async with raw_connection(svc) as (reader, writer):
        await send_quietly(writer, request_head(svc, owner, "Transfer-Encoding: chunked"))
        for start in range(0, len(body), 1024 * 1024):
            piece = body[start : start + 1024 * 1024]
            await send_quietly(writer, f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        await send_quietly(writer, b"0\r\n\r\n")
        status, problem = await status_and_body(reader)
    assert status == 413
    assert problem["code"] == "upload_too_large"
    await assert_nothing_left(svc, owner)


async def test_a_declared_length_beyond_every_limit_is_refused_before_reading(svc: VideoService) -> None:
    owner = uuid.uuid4()
    async with raw_connection(svc) as (reader, writer):
        await send_quietly(writer, request_head(svc, owner, f"Content-Length: {MAX_FILES * LIMIT * 2}"))
        status, problem = await status_and_body(reader)
    assert status == 413
    assert problem["code"] == "upload_too_large"


async def test_a_client_that_disconnects_half_way_leaves_nothing_behind(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    second = clip + bytes(LIMIT - len(clip))
    body, _ = multipart([("file", "a.mp4", clip), ("file", "b.mp4", second)])
    cut = len(body) - 512 * 1024  # inside the second file, after S3 received its first part
    async with raw_connection(svc) as (_, writer):
        await send_quietly(writer, request_head(svc, owner, f"Content-Length: {len(body)}") + body[:cut])
        # The first file is stored and the second one is under way before the client goes away.
        await eventually(lambda: _both_in_flight(svc, owner), timeout=30)
    await eventually(lambda: _nothing_stored(svc, owner), timeout=30)
    await assert_nothing_left(svc, owner)


async def _both_in_flight(svc: VideoService, owner: uuid.UUID) -> bool:
    keys = await svc.keys(f"sources/{owner}/")
    return len(keys) == 2 and any(k.startswith("(open upload)") for k in keys)


async def _nothing_stored(svc: VideoService, owner: uuid.UUID) -> bool:
    return await svc.keys(f"sources/{owner}/") == []


# --- Idempotency-Key -------------------------------------------------------------------------------------


async def test_an_idempotency_key_replay_returns_the_same_ids_and_creates_nothing(
    svc: VideoService, clip: bytes
) -> None:
    owner = uuid.uuid4()
    first = await svc.upload(owner, ("a.mp4", clip), headers={"Idempotency-Key": "k-1"})
    again = await svc.upload(owner, ("a.mp4", clip), headers={"Idempotency-Key": "k-1"})
    assert first.status == again.status == 202
    assert await again.json() == await first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await svc.rows(owner) == 1
    assert len(await svc.keys(f"sources/{owner}/")) == 1
    other = await svc.upload(uuid.uuid4(), ("a.mp4", clip), headers={"Idempotency-Key": "k-1"})
    assert (await other.json())["items"][0]["id"] != (await first.json())["items"][0]["id"], "keys are per user"


async def test_concurrent_requests_with_one_idempotency_key_create_once(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    responses = await asyncio.gather(
        *(svc.upload(owner, ("a.mp4", clip), ("b.mp4", clip), headers={"Idempotency-Key": "same"}) for _ in range(4))
    )
    bodies = [await r.json() for r in responses]
    assert all(r.status == 202 for r in responses)
    assert all(b == bodies[0] for b in bodies)
    assert await svc.rows(owner) == 2
    assert await svc.events("video.uploaded.v1", bodies[0]["items"][0]["id"]) == 1
    assert sorted(await svc.keys(f"sources/{owner}/")) == sorted(
        f"sources/{owner}/{i['id']}" for i in bodies[0]["items"]
    )


async def test_an_expired_idempotency_key_is_used_again(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    first = await (await svc.upload(owner, ("a.mp4", clip), headers={"Idempotency-Key": "old"})).json()
    await svc.fetchval(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE owner_id = $1", owner
    )
    second = await (await svc.upload(owner, ("a.mp4", clip), headers={"Idempotency-Key": "old"})).json()
    assert second["items"][0]["id"] != first["items"][0]["id"]
    assert await svc.rows(owner) == 2


async def test_a_malformed_idempotency_key_is_a_validation_error(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    response = await svc.upload(owner, ("a.mp4", clip), headers={"Idempotency-Key": "x" * 300})
    assert response.status == 422
    await assert_nothing_left(svc, owner)


async def test_a_burst_of_concurrent_uploads_is_all_accepted(svc: VideoService, clip: bytes) -> None:
    owners = [uuid.uuid4() for _ in range(10)]

    async def upload_five(owner: uuid.UUID) -> list[int]:
        statuses = []
        for _ in range(5):
            response = await svc.upload(owner, ("a.mp4", clip), headers={"Idempotency-Key": str(uuid.uuid4())})
            statuses.append(response.status)
        return statuses

    results = await asyncio.gather(*(upload_five(owner) for owner in owners))
    assert all(status == 202 for statuses in results for status in statuses), results
    assert sum([await svc.rows(owner) for owner in owners]) == 50

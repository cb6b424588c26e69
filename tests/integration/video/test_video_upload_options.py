"""The processing options of POST /video against real PostgreSQL, RabbitMQ and S3: every option is accepted,
stored with the video, shown by every view and sent in `video.uploaded.v1`; every bad value or combination is a
422 that names its field and stores nothing; a video stored before the options existed reads back with defaults."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts import MAX_DIMENSION, MAX_FRAME_COUNT, MAX_OFFSET_SECONDS, ProcessingOptions, decode
from tests.integration.video.harness import VideoService, assert_nothing_left, clip_fixture, video_service_fixture
from tests.support.broker import temp_queue
from tests.support.polling import eventually
from tests.support.sse import EventStream

svc = video_service_fixture()
clip = clip_fixture()
DEFAULTS = ProcessingOptions().model_dump(mode="json")

ACCEPTED: list[tuple[dict[str, str], dict[str, Any]]] = [
    (
        {
            "mode": "interval",
            "count": "3",
            "start_seconds": "1.5",
            "end_seconds": "9",
            "width": "320",
            "height": "240",
            "image_format": "jpg",
            "quality": "80",
            "skip_black_start": "true",
            "storyboard": "true",
        },
        {
            "mode": "interval",
            "count": 3,
            "start_seconds": 1.5,
            "end_seconds": 9.0,
            "width": 320,
            "height": 240,
            "image_format": "jpg",
            "quality": 80,
            "skip_black_start": True,
            "storyboard": True,
        },
    ),
    (
        {"mode": "keyframes", "max_frames": "5", "image_format": "webp", "quality": "50", "interval_seconds": "2"},
        {"mode": "keyframes", "max_frames": 5, "image_format": "webp", "quality": 50, "interval_seconds": 2.0},
    ),
    (
        {"mode": "scenes", "scene_threshold": "0.45", "max_frames": "7", "height": str(MAX_DIMENSION)},
        {"mode": "scenes", "scene_threshold": 0.45, "max_frames": 7, "height": MAX_DIMENSION},
    ),
]


@pytest.mark.parametrize(("fields", "expected"), ACCEPTED, ids=["interval-count", "keyframes-webp", "scenes"])
async def test_each_option_is_stored_shown_and_sent_in_the_uploaded_event(
    svc: VideoService,
    clip: bytes,
    amqp: AbstractRobustConnection,
    fields: dict[str, str],
    expected: dict[str, Any],
) -> None:
    owner = uuid.uuid4()
    options = {**DEFAULTS, **expected}
    async with amqp.channel() as channel:
        queue = await temp_queue(channel, "video.uploaded.v1")
        response = await svc.upload(owner, ("clip.mp4", clip), **fields)
        assert response.status == 202, await response.text()
        item = (await response.json())["items"][0]
        message = await eventually(lambda: queue.get(fail=False, no_ack=True))
    assert item["options"] == options
    event = decode(message.body)
    assert event.subject == item["id"]
    assert event.data.options.model_dump(mode="json") == options  # type: ignore[attr-defined]

    shown = await (await svc.client.get(f"/video/{item['id']}", headers=svc.auth(owner))).json()
    assert shown["options"] == options
    listed = await (await svc.client.get("/video", headers=svc.auth(owner))).json()
    assert [video["options"] for video in listed["items"]] == [options]


BAD_VALUES = [
    ("interval_seconds", "0"),
    ("image_format", "gif"),
    ("mode", "everything"),
    ("count", "0"),
    ("count", str(MAX_FRAME_COUNT + 1)),
    ("count", "2.5"),
    ("start_seconds", "-1"),
    ("start_seconds", str(MAX_OFFSET_SECONDS + 1)),
    ("end_seconds", "0"),
    ("end_seconds", "nan"),
    ("width", "15"),
    ("height", str(MAX_DIMENSION + 1)),
    ("quality", "101"),
    ("scene_threshold", "1"),
    ("max_frames", "0"),
    ("skip_black_start", "maybe"),
    ("storyboard", "2"),
]
# What each bad value is sent with, so that only the value itself is wrong.
COMPANIONS = {"quality": {"image_format": "jpg"}, "max_frames": {"mode": "scenes"}}


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=[f"{f}={v}" for f, v in BAD_VALUES])
async def test_an_option_out_of_its_bounds_is_refused_naming_it_and_nothing_is_stored(
    svc: VideoService, clip: bytes, field: str, value: str
) -> None:
    owner = uuid.uuid4()
    response = await svc.upload(owner, ("clip.mp4", clip), **COMPANIONS.get(field, {}), **{field: value})
    assert response.status == 422, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["code"] == "validation_error"
    assert [error["field"] for error in problem["errors"]] == [field]
    await assert_nothing_left(svc, owner)


BAD_COMBINATIONS = [
    ({"mode": "keyframes", "count": "3"}, "count"),
    ({"mode": "scenes", "count": "3"}, "count"),
    ({"max_frames": "3"}, "max_frames"),
    ({"mode": "interval", "max_frames": "3"}, "max_frames"),
    ({"start_seconds": "10", "end_seconds": "5"}, "end_seconds"),
    ({"start_seconds": "5", "end_seconds": "5"}, "end_seconds"),
    ({"quality": "80"}, "quality"),
    ({"image_format": "png", "quality": "80"}, "quality"),
]


@pytest.mark.parametrize(("fields", "named"), BAD_COMBINATIONS, ids=["-".join(f) for f, _ in BAD_COMBINATIONS])
async def test_options_that_do_not_go_together_are_refused_naming_them_and_nothing_is_stored(
    svc: VideoService, clip: bytes, fields: dict[str, str], named: str
) -> None:
    owner = uuid.uuid4()
    response = await svc.upload(owner, ("clip.mp4", clip), **fields)
    assert response.status == 422, await response.text()
    problem = await response.json()
    assert problem["code"] == "validation_error"
    assert named in [error["field"] for error in problem["errors"]]
    assert set(error["field"] for error in problem["errors"]) <= set(fields)
    assert all(error["message"] for error in problem["errors"])
    await assert_nothing_left(svc, owner)


async def test_the_live_stream_carries_the_complete_options(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    response = await svc.client.get("/video/events", headers=svc.auth(owner))
    try:
        stream = EventStream(response)
        assert (await stream.next()).event == "ready"
        uploaded = await svc.upload(owner, ("clip.mp4", clip), mode="keyframes", max_frames="2", width="64")
        assert uploaded.status == 202, await uploaded.text()
        event = await stream.until(lambda e: e.event == "video")
    finally:
        response.close()
    assert event.data["options"] == {**DEFAULTS, "mode": "keyframes", "max_frames": 2, "width": 64}


async def test_a_video_stored_before_the_options_existed_reads_back_with_defaults(
    svc: VideoService, clip: bytes
) -> None:
    owner = uuid.uuid4()
    response = await svc.upload(owner, ("old.mp4", clip), interval_seconds="2.5", image_format="jpg")
    video_id = (await response.json())["items"][0]["id"]
    # What a row written before migration 0004 looks like: only the two first options, in their own columns.
    await svc.fetchval("UPDATE videos SET options = NULL WHERE id = $1", uuid.UUID(video_id))
    assert await svc.fetchval("SELECT options FROM videos WHERE id = $1", uuid.UUID(video_id)) is None

    expected = {**DEFAULTS, "interval_seconds": 2.5, "image_format": "jpg"}
    shown = await (await svc.client.get(f"/video/{video_id}", headers=svc.auth(owner))).json()
    assert shown["options"] == expected
    listed = await (await svc.client.get("/video", headers=svc.auth(owner))).json()
    assert listed["items"][0]["options"] == expected


async def test_the_upload_limits_carry_the_contract_bounds_of_every_option(svc: VideoService) -> None:
    limits = await (await svc.client.get("/video/limits")).json()
    properties = limits["options"]["properties"]
    assert set(properties) == set(ProcessingOptions.model_fields)
    assert properties["count"]["maximum"] == MAX_FRAME_COUNT
    assert properties["width"]["minimum"] < properties["width"]["maximum"] == MAX_DIMENSION
    assert properties["end_seconds"]["maximum"] == MAX_OFFSET_SECONDS
    assert properties["image_format"]["enum"] == ["png", "jpg", "webp"]
    assert properties["mode"]["enum"] == ["interval", "keyframes", "scenes"]
    assert properties["quality"] == {**properties["quality"], "type": "integer", "minimum": 1, "maximum": 100}

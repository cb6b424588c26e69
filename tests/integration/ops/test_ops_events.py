"""`framepipe events` against the real archive stream: one aggregate's whole history in order, filters, JSON
lines, and following new events."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import uuid
from datetime import UTC, datetime

import pytest

from contracts import (
    ProcessingOptions,
    VideoProcessedV1,
    VideoProcessingProgressV1,
    VideoProcessingStartedV1,
    VideoUploadedV1,
    new_envelope,
)
from contracts.envelope import Envelope
from contracts.events import EventData, ObjectRef, ResultObject
from ops.bus.archive import ArchiveReadLost, read_archive
from ops.cli import build_parser
from servicekit.bus import Publisher, connect
from tests.integration.ops.harness import framepipe
from tests.support.events import deleted_event
from tests.support.polling import eventually


def video_history(video_id: uuid.UUID, owner_id: uuid.UUID) -> list[Envelope[EventData]]:
    """The events of one video's life, each caused by the one before."""
    now = datetime.now(UTC)
    uploaded = VideoUploadedV1(
        video_id=video_id, owner_id=owner_id, filename="clip.mp4", content_type="video/mp4", size_bytes=1000,
        source=ObjectRef(bucket="uploads", key=f"videos/{video_id}"), options=ProcessingOptions(), uploaded_at=now,
    )  # fmt: skip
    later: list[EventData] = [
        VideoProcessingStartedV1(video_id=video_id, owner_id=owner_id, attempt=1, started_at=now),
        VideoProcessingProgressV1(video_id=video_id, owner_id=owner_id, progress=0.5, frames_done=2),
        VideoProcessedV1(
            video_id=video_id, owner_id=owner_id, frame_count=4, duration_seconds=4.0, processing_seconds=1.0,
            result=ResultObject(bucket="results", key=f"frames/{video_id}.zip", size_bytes=10, sha256="0" * 64),
            finished_at=now,
        ),
    ]  # fmt: skip
    history: list[Envelope[EventData]] = [new_envelope(uploaded, source="framepipe/video_svc")]
    for data in later:
        previous = history[-1]
        history.append(
            new_envelope(
                data,
                source="framepipe/processor_svc",
                correlation_id=previous.correlationid,
                causation_id=str(previous.id),
            )
        )
    return history


async def test_events_for_a_subject_show_that_videos_whole_history_in_order(
    amqp_url: str, publisher: Publisher
) -> None:
    video, other = uuid.uuid4(), uuid.uuid4()
    owner = uuid.uuid4()
    mine, theirs = video_history(video, owner), video_history(other, owner)
    for ours, noise in zip(mine, theirs, strict=True):  # interleaved with another video's events
        await publisher.publish(ours)
        await publisher.publish(noise)

    printed = await framepipe("events", "--subject", str(video), "--json", "--amqp-url", amqp_url)

    lines = [json.loads(line) for line in printed.splitlines()]
    assert [line["event"]["id"] for line in lines] == [str(e.id) for e in mine]
    assert [line["event"]["type"] for line in lines] == [e.type for e in mine]
    offsets = [line["offset"] for line in lines]
    assert offsets == sorted(offsets)


async def test_events_table_filters_by_type_glob_and_correlation(amqp_url: str, publisher: Publisher) -> None:
    history = video_history(uuid.uuid4(), uuid.uuid4())
    for envelope in history:
        await publisher.publish(envelope)

    table = await framepipe(
        "events", "--correlation-id", history[0].correlationid, "--type", "video.processing.*",
        "--amqp-url", amqp_url,
    )  # fmt: skip

    rows = table.splitlines()[1:]
    assert [row.split()[1] for row in rows] == ["video.processing.started.v1", "video.processing.progress.v1"]
    assert str(history[1].id) in rows[0]


async def test_events_since_a_moment_leave_out_what_came_before(amqp_url: str, publisher: Publisher) -> None:
    before = deleted_event(correlation_id="since-test")
    await publisher.publish(before)
    await asyncio.sleep(1.2)
    after = deleted_event(correlation_id="since-test")
    await publisher.publish(after)

    printed = await framepipe(
        "events", "--since", "1s", "--correlation-id", "since-test", "--json", "--amqp-url", amqp_url
    )

    assert [json.loads(line)["event"]["id"] for line in printed.splitlines()] == [str(after.id)]


async def test_events_follow_prints_an_event_published_after_it_started(amqp_url: str, publisher: Publisher) -> None:
    marker = f"follow-{uuid.uuid4().hex[:6]}"
    args = build_parser().parse_args(
        ["events", "--follow", "--json", "--correlation-id", marker, "--amqp-url", amqp_url]
    )
    out = io.StringIO()
    tail = asyncio.create_task(args.run_async(args, out))
    await asyncio.sleep(1.0)  # the follower is reading from the first message on
    live = deleted_event(correlation_id=marker)
    await publisher.publish(live)
    await eventually(lambda: str(live.id) in out.getvalue(), timeout=15)
    tail.cancel()
    await asyncio.gather(tail, return_exceptions=True)
    assert len(out.getvalue().splitlines()) == 1


async def test_a_followed_archive_read_ends_with_an_error_when_the_broker_connection_drops(
    amqp_url: str, publisher: Publisher
) -> None:
    await publisher.publish(deleted_event())
    vhost = amqp_url.rsplit("/", 1)[1]
    connection = await connect(amqp_url, "follow test")
    received: list[str] = []

    async def follow() -> None:
        async with contextlib.aclosing(read_archive(connection, "last")) as archived:
            async for event in archived:
                received.append(event.facts.event_id)

    try:
        following = asyncio.create_task(follow())
        await eventually(lambda: len(received) > 0)
        await asyncio.to_thread(
            subprocess.run,
            ["rabbitmqctl", "-q", "close_all_connections", "-p", vhost, "follow test"],
            check=True,
            timeout=30,
        )
        with pytest.raises(ArchiveReadLost):
            await asyncio.wait_for(following, 15)
    finally:
        await connection.close()

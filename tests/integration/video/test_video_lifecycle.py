"""Processing events move a video forward only, whatever their order or repetition; a dead-lettered job
ends the video `failed` with `retries_exhausted` and tells the user once."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts import (
    FailureCode,
    VideoSegmentRequestedV1,
    decode,
    encode,
    new_envelope,
)
from contracts.topology import (
    DEAD_LETTER_EXCHANGE,
    PROCESSOR_VIDEO_SEGMENTS,
    PROCESSOR_VIDEO_UPLOADED,
    VIDEO_PROCESSING_UPDATES,
)
from servicekit.bus import Publisher
from tests.integration.video.harness import (
    Story,
    VideoService,
    clip_fixture,
    uploaded_id,
    video_service_fixture,
)
from tests.support.broker import depth, drain, temp_queue
from tests.support.polling import eventually

svc = video_service_fixture()
clip = clip_fixture()


@pytest.fixture
async def story(svc: VideoService, publisher: Publisher, clip: bytes) -> Story:
    owner = uuid.uuid4()
    return Story(svc, publisher, owner, await uploaded_id(svc, owner, clip))


async def test_events_in_order_take_a_video_to_done(story: Story) -> None:
    await story.publish(story.started())
    assert (await story.video())["status"] == "processing"
    await story.publish(story.progress(0.3), story.progress(0.6))
    video = await story.video()
    assert (video["status"], video["progress"]) == ("processing", 0.6)
    await story.publish(await story.processed())
    video = await story.video()
    assert video["status"] == "done"
    assert video["progress"] == 1
    assert video["frame_count"] == 10
    assert video["duration_seconds"] == 1.0
    assert video["result_size_bytes"] == 22
    assert video["finished_at"] is not None


async def test_late_and_out_of_order_events_never_move_a_video_back(story: Story) -> None:
    await story.publish(story.progress(0.5), await story.processed())
    await story.publish(story.started(), story.progress(0.2), story.failed())
    video = await story.video()
    assert (video["status"], video["progress"], video["error"]) == ("done", 1, None)


async def test_progress_never_decreases_and_duplicates_change_nothing(story: Story) -> None:
    seen: list[float] = []
    high, low = story.progress(0.7), story.progress(0.4)
    await story.publish(story.started(), high)
    seen.append((await story.video())["progress"])
    await story.publisher.publish(high)  # the same event again: the inbox drops it
    await story.publish(low, story.progress(0.7))
    seen.append((await story.video())["progress"])
    assert seen == [0.7, 0.7]
    assert (await story.video())["status"] == "processing"


async def test_a_late_progress_never_reopens_a_failure_but_a_verified_result_ends_it(story: Story) -> None:
    await story.publish(story.started(), story.failed(FailureCode.NO_VIDEO_STREAM))
    await story.publish(story.started(), story.progress(0.9))
    video = await story.video()
    assert video["status"] == "failed"
    assert video["progress"] == 0
    assert video["error"] == {"code": "no_video_stream", "message": "The file could not be read."}
    result = await story.processed()  # an operator reprocessed the job after a fix
    await story.publish(result)
    video = await story.video()
    assert video["status"] == "done"
    assert video["error"] is None
    assert await story.svc.keys(f"results/{story.video_id}") != []
    await story.publish(story.failed(FailureCode.TIMEOUT))
    assert (await story.video())["status"] == "done"


async def test_a_result_for_a_deleted_video_is_discarded_with_its_object(story: Story) -> None:
    await story.publish(story.started())
    deleted = await story.svc.client.delete(f"/video/{story.video_id}", headers=story.svc.auth(story.owner))
    assert deleted.status == 204
    await story.publish(await story.processed())
    assert await story.svc.keys(f"results/{story.video_id}") == []
    status = await story.svc.fetchval("SELECT status FROM videos WHERE id = $1", story.video_id)
    assert status == "processing"


async def test_events_for_an_unknown_video_are_acknowledged_and_ignored(
    svc: VideoService, publisher: Publisher, amqp: AbstractRobustConnection
) -> None:
    ghost = Story(svc, publisher, uuid.uuid4(), str(uuid.uuid4()))
    await ghost.publish(ghost.started(), ghost.progress(0.5), await ghost.processed(), ghost.failed())
    assert await svc.fetchval("SELECT count(*) FROM videos WHERE id = $1", ghost.video_id) == 0
    assert await depth(amqp, VIDEO_PROCESSING_UPDATES.parking_queue) == 0


async def take_job(amqp: AbstractRobustConnection, video_id: str) -> aio_pika.abc.AbstractIncomingMessage:
    """The `video.uploaded.v1` job for this video, as processor_svc would receive it (unacknowledged)."""
    channel = await amqp.channel()
    queue = await channel.get_queue(PROCESSOR_VIDEO_UPLOADED.name, ensure=False)

    async def find() -> aio_pika.abc.AbstractIncomingMessage | None:
        message = await queue.get(fail=False, no_ack=False)
        if message is not None and decode(message.body).subject != video_id:
            await message.ack()  # another test's job: processor_svc is not running here
            return None
        return message

    return await eventually(find)


async def test_a_dead_lettered_job_fails_the_video_and_tells_the_user_once(
    story: Story, amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    video_id = str(story.video_id)
    job = await take_job(amqp, video_id)
    async with amqp.channel() as channel:
        outcomes = await temp_queue(channel, "video.failed.v1")
        body = job.body
        await job.reject(requeue=False)  # the broker dead-letters it to the parking queue and video.dead-jobs
        await eventually(lambda: story.svc.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'video.dead-jobs'"))
        # The same dead letter again (an operator redrive, a redelivery): nothing more happens.
        await publisher.send_to(
            DEAD_LETTER_EXCHANGE,
            PROCESSOR_VIDEO_UPLOADED.name,
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=job.message_id),
        )
        message = await eventually(lambda: outcomes.get(fail=False, no_ack=True))
        await asyncio.sleep(1.0)
        assert await outcomes.get(fail=False) is None, "video.failed.v1 is published once"

    failed = decode(message.body)
    assert failed.subject == video_id
    assert failed.data.error.code == "retries_exhausted"  # type: ignore[attr-defined]
    assert failed.causationid == str(decode(body).id)
    video = await story.video()
    assert video["status"] == "failed"
    assert video["error"]["code"] == "retries_exhausted"
    assert await story.svc.events("video.failed.v1", video_id) == 1


async def test_a_dead_lettered_segment_of_a_long_video_fails_it_named_by_its_upload(
    story: Story, amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    """A segment whose retries ran out (processor_svc/fanout.py) dies in processor.video-segments: the video
    fails as its whole job would, and the outcome names the uploaded file, which the segment's event does not."""
    video_id = str(story.video_id)
    job = await take_job(amqp, video_id)
    await job.ack()  # the processor split it
    request = VideoSegmentRequestedV1(
        video_id=story.video_id, owner_id=story.owner, run_id=uuid.uuid4(), index=2, segments=4
    )
    async with amqp.channel() as channel:
        outcomes = await temp_queue(channel, "video.failed.v1")
        await publisher.send_to(
            DEAD_LETTER_EXCHANGE,
            PROCESSOR_VIDEO_SEGMENTS.name,
            aio_pika.Message(encode(new_envelope(request, source="framepipe/processor_svc"))),
        )
        message = await eventually(lambda: outcomes.get(fail=False, no_ack=True))

    failed = decode(message.body).data
    assert failed.error.code == "retries_exhausted"  # type: ignore[attr-defined]
    assert failed.filename == (await story.video())["filename"]  # type: ignore[attr-defined]
    assert (await story.video())["status"] == "failed"


async def test_a_dead_letter_after_done_changes_nothing(story: Story, amqp: AbstractRobustConnection) -> None:
    await story.publish(await story.processed())
    job = await take_job(amqp, str(story.video_id))
    envelope_id = decode(job.body).id
    await job.reject(requeue=False)
    await eventually(
        lambda: story.svc.fetchval(
            "SELECT count(*) FROM inbox WHERE consumer = 'video.dead-jobs' AND event_id = $1", envelope_id
        )
    )
    assert (await story.video())["status"] == "done"
    assert await story.svc.events("video.failed.v1", str(story.video_id)) == 0


@pytest.mark.parametrize("forged", ["result", "preview", "bucket"])
async def test_an_outcome_naming_objects_not_its_own_is_parked_and_changes_nothing(
    story: Story, svc: VideoService, publisher: Publisher, clip: bytes, amqp: AbstractRobustConnection, forged: str
) -> None:
    # Someone else's finished video: a forged outcome for our video points at its ZIP or previews.
    victim = Story(svc, publisher, uuid.uuid4(), await uploaded_id(svc, uuid.uuid4(), clip))
    theirs = (await victim.processed(previews=(b"\xff\xd8 their frame",))).data
    ours = await story.processed()
    data = ours.data
    if forged == "result":
        data = data.model_copy(update={"result": theirs.result})
    elif forged == "preview":
        data = data.model_copy(update={"previews": theirs.previews})
    else:
        data = data.model_copy(update={"result": data.result.model_copy(update={"bucket": "someone-elses-bucket"})})
    envelope = ours.model_copy(update={"data": data})
    await publisher.publish(envelope)

    [parked] = await drain(amqp, VIDEO_PROCESSING_UPDATES.parking_queue, 1, timeout=15)
    assert decode(parked.body).id == envelope.id
    video = await story.video()
    assert (video["status"], video["frame_count"]) == ("uploaded", None)
    download = await svc.client.get(f"/video/{story.video_id}/download", headers=svc.auth(story.owner))
    assert download.status == 409, await download.text()
    # The genuine outcome still lands.
    await story.publish(ours)
    assert (await story.video())["status"] == "done"

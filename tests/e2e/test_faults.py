"""Faults a real deployment meets, against the running system: a worker killed in the middle of a job, and every
broker connection dropped while uploads arrive. Accepted videos must still end, once."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from ops.dev.localinfra import MailSink
from ops.dev.stack import DevStack
from tests.e2e.media import frames_in_zip
from tests.e2e.users import TERMINAL, User, mentions
from tests.support.polling import eventually
from tests.support.s3 import s3_client
from tests.support.videos import make_video

pytestmark = pytest.mark.e2e


async def test_a_processor_killed_mid_job_is_replaced_and_the_video_still_ends_done_with_one_zip_and_one_email(
    stack: DevStack, sink: MailSink, alice: User, tmp_path: Path
) -> None:
    # Long enough (hundreds of frames) that the kill lands while ffmpeg is still working.
    video = await alice.upload(make_video(tmp_path / "long.mp4", seconds=60, size="320x240"), interval=0.1)
    await eventually(lambda: _status_is(alice, video["id"], "processing"), timeout=60, interval=0.05)

    for worker in stack.processors:
        worker.kill_group()
        assert await worker.wait(10)
    assert (await alice.api.video(video["id"]))["status"] == "processing"
    await stack.add_processor()

    finished = await alice.finished(video["id"], timeout=100)
    assert finished["status"] == "done", finished
    assert finished["frame_count"] == 600
    assert len(frames_in_zip(await alice.zip_of(video["id"]), ".png")) == 600
    assert len(await _result_objects(stack, video["id"])) == 1
    await eventually(lambda: alice.mail(sink, "done"), timeout=30)
    await asyncio.sleep(1)
    assert len(alice.mail(sink)) == 1


async def test_every_broker_connection_closed_during_a_batch_of_uploads_still_brings_every_video_to_an_end(
    stack: DevStack, sink: MailSink, alice: User, tmp_path: Path
) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=1)
    vhost = stack.settings["AMQP_URL"].rsplit("/", 1)[-1]

    async def close_connections_twice() -> None:
        for _ in range(2):
            await asyncio.sleep(0.4)
            await asyncio.to_thread(_close_all_connections, vhost)

    async def upload_after(index: int) -> dict[str, object]:
        await asyncio.sleep(0.15 * index)
        return await alice.upload(clip, as_name=f"clip-{index}.mp4")

    # Spread over about a second, so the connections drop while uploads and their jobs are still arriving.
    uploads = [upload_after(i) for i in range(8)]
    *videos, _ = await asyncio.gather(*uploads, close_connections_twice())

    finished = await asyncio.gather(*(alice.finished(v["id"], timeout=110) for v in videos))
    assert all(v["status"] in TERMINAL for v in finished), [v["status"] for v in finished]
    await eventually(lambda: len(alice.mail(sink)) >= len(videos), timeout=60)
    await asyncio.sleep(1)
    for video in finished:
        about = [m for m in alice.mail(sink) if mentions(m, video)]
        assert len(about) == 1, (video["id"], [(m["Message-ID"], m["Date"]) for m in about])


async def _status_is(user: User, video_id: str, status: str) -> bool:
    return bool((await user.api.video(video_id))["status"] == status)


def _close_all_connections(vhost: str) -> None:
    subprocess.run(
        ["rabbitmqctl", "-q", "close_all_connections", "-p", vhost, "end-to-end fault test"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


async def _result_objects(stack: DevStack, video_id: str) -> list[str]:
    """Every ZIP in the bucket for this video: a retried job must overwrite its result, never add one."""
    settings = stack.settings
    credentials = settings["AWS_ACCESS_KEY_ID"], settings["AWS_SECRET_ACCESS_KEY"]
    async with s3_client(settings["S3_ENDPOINT_URL"], credentials) as s3:
        listing = await s3.list_objects_v2(Bucket=settings["S3_BUCKET"])
    keys = [obj["Key"] for obj in listing.get("Contents", [])]
    return [key for key in keys if video_id in key and key.endswith(".zip")]

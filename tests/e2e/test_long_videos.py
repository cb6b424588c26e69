"""A long video does not wait for one worker: under `framepipe dev --processors 2` (the e2e stack splits videos of
90 s or more into segments of about 30 s), its segments are extracted by both workers and come back as one ZIP,
numbered continuously, with one outcome and one e-mail; a worker killed in the middle of it changes none of that."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path

import aiohttp
import pytest

from ops.dev.localinfra import MailSink
from ops.dev.process import ServiceProcess
from ops.dev.stack import DevStack
from tests.e2e.users import User, mentions
from tests.support.polling import eventually
from tests.support.videos import make_video

pytestmark = pytest.mark.e2e

SECONDS = 100


async def two_workers(stack: DevStack) -> list[ServiceProcess]:
    """Two running workers, whatever earlier tests of the stack killed."""
    while len([worker for worker in stack.processors if worker.running]) < 2:
        await stack.add_processor()
    return [worker for worker in stack.processors if worker.running]


async def segment_jobs(stack: DevStack) -> dict[str, float]:
    """Each running worker's count of segment jobs (processor_segment_jobs_total, every outcome)."""
    counts = {}
    async with aiohttp.ClientSession() as http:
        for worker in stack.processors:
            if not worker.running:
                continue
            async with http.get(f"{stack.url(worker.name)}/metrics") as response:
                text = await response.text()
            counts[worker.name] = sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("processor_segment_jobs_total{")
            )
    return counts


def contents(data: bytes) -> tuple[list[str], dict[str, object]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return archive.namelist(), json.loads(archive.read("manifest.json"))


async def test_a_long_video_is_shared_by_both_workers_and_comes_back_as_one_zip_and_one_email(
    stack: DevStack, sink: MailSink, alice: User, tmp_path: Path
) -> None:
    await two_workers(stack)
    before = await segment_jobs(stack)
    video = await alice.upload(make_video(tmp_path / "long.mp4", seconds=SECONDS, size="320x240"))
    finished = await alice.finished(video["id"], timeout=120)
    after = await segment_jobs(stack)

    assert finished["status"] == "done", finished
    assert finished["frame_count"] == SECONDS
    names, manifest = contents(await alice.zip_of(video["id"]))
    assert names == [f"frame_{n:06d}.png" for n in range(1, SECONDS + 1)] + ["manifest.json"]
    assert len(manifest["ffmpeg_segments"]) == 3  # type: ignore[arg-type]
    assert len(after) == 2
    assert all(after[name] > before.get(name, 0) for name in after), (before, after)  # both took segments
    await eventually(lambda: alice.mail(sink, "done"), timeout=30)
    await asyncio.sleep(1)
    assert [mentions(m, finished) for m in alice.mail(sink)] == [True]


async def test_a_worker_killed_in_the_middle_of_a_long_video_leaves_it_done_with_every_frame_once(
    stack: DevStack, sink: MailSink, alice: User, tmp_path: Path
) -> None:
    workers = await two_workers(stack)
    # Ten frames a second of 100 s (1000 frames in 3 segments): the kill lands while segments are being extracted.
    video = await alice.upload(make_video(tmp_path / "long.mp4", seconds=SECONDS, size="320x240"), interval=0.1)
    await eventually(lambda: _progressed(alice, video["id"]), timeout=60, interval=0.05)
    victim = workers[0]
    victim.kill_group()
    assert await victim.wait(10)
    await stack.add_processor()

    finished = await alice.finished(video["id"], timeout=150)
    assert finished["status"] == "done", finished
    assert finished["frame_count"] == 10 * SECONDS
    names, _ = contents(await alice.zip_of(video["id"]))
    assert names == [f"frame_{n:06d}.png" for n in range(1, 10 * SECONDS + 1)] + ["manifest.json"]
    await eventually(lambda: alice.mail(sink, "done"), timeout=30)
    await asyncio.sleep(1)
    assert len(alice.mail(sink)) == 1


async def _progressed(alice: User, video_id: str) -> bool:
    """A segment is stored: the video is being extracted by both workers."""
    video = await alice.api.video(video_id)
    return bool(video["status"] == "processing" and (video.get("progress") or 0) > 0)

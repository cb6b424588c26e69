"""A long video split across workers (processor_svc/fanout.py), through two processor services on the real broker
and S3: the gathered ZIP is the single pass's, frame for frame, numbered continuously; the video has one outcome
whatever is redelivered; a segment that fails is retried alone; bad media in a segment fails the video once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contracts.events import FailureCode, ImageFormat, ProcessingOptions
from contracts.topology import QueueSpec
from ops.dev.localinfra import LocalS3
from processor_svc import fanout
from processor_svc.media import MediaRejected
from processor_svc.settings import Settings
from servicekit import objects
from servicekit.bus import declare_queue
from tests.integration.processor.harness import (
    Env,
    manifest,
    processor_env,
    processor_settings,
    result_zip,
    running,
    submit,
)
from tests.support import videos

SECONDS = 24
# Split from 10 s, about 6 s per segment: the 24 s clip goes out as 4 segments.
SPLIT = {"split_min_seconds": 10, "split_segment_seconds": 6}
FINAL_TYPES = ("video.processed.v1", "video.failed.v1")
SETTLE_SECONDS = 2  # long enough for a second outcome to show, if redeliveries were to make one


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """B-frames and a GOP (37 frames at 25 fps) that does not fall on the samples."""
    output = ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-g", "37", "-keyint_min", "37",
              "-sc_threshold", "0", "-pix_fmt", "yuv420p"]  # fmt: skip
    path = tmp_path_factory.mktemp("fanout") / "long.mp4"
    return videos.make_video(path, SECONDS, size="320x240", rate=25, output=output)


def settings_of(amqp_url: str, s3: LocalS3, bucket: str, work: Path, **overrides: Any) -> Settings:
    return processor_settings(amqp_url, s3, bucket, work, ffmpeg_threads=1, **overrides)


@contextlib.asynccontextmanager
async def two_workers(settings: Settings, tmp_path: Path, **kwargs: Any) -> AsyncIterator[None]:
    second = settings.model_copy(update={"work_dir": tmp_path / "work-2"})
    async with running(settings, **kwargs), running(second, **kwargs):
        yield


@pytest.fixture
def segment_jobs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(worker's work dir, segment index) of every segment job that ran, in order."""
    ran: list[tuple[str, int]] = []
    real = fanout.process_segment

    async def recorded(event: Any, ctx: Any, config: Any, storage: Any, publisher: Any) -> Any:
        ran.append((config.work_dir.name, event.index))
        return await real(event, ctx, config, storage, publisher)

    monkeypatch.setattr(fanout, "process_segment", recorded)
    return ran


OPTIONS = ProcessingOptions(interval_seconds=1, image_format=ImageFormat.JPG)


async def processed_zip(env: Env, video_id: uuid.UUID) -> tuple[dict[str, Any], list[bytes]]:
    outcome = await env.outcomes.wait_final(video_id, timeout=90)
    assert outcome.event_type == "video.processed.v1", outcome
    archive = await result_zip(env.storage, outcome.result.key)
    document = manifest(archive)
    return document, [archive.read(entry["file"]) for entry in document["frames"]]


async def test_a_long_video_split_across_two_workers_gives_the_single_passs_zip_and_one_outcome(
    amqp_url: str, local_s3: LocalS3, run_id: str, tmp_path: Path, long_clip: Path, segment_jobs: list[Any]
) -> None:
    bucket = f"fanout-{run_id}"
    single = settings_of(amqp_url, local_s3, bucket, tmp_path / "work-1")
    async with processor_env(single) as env:
        single_id = await submit(env.publisher, env.storage, long_clip, options=OPTIONS)
        alone, alone_frames = await processed_zip(env, single_id)
    assert segment_jobs == []

    split = settings_of(amqp_url, local_s3, bucket, tmp_path / "work-1", **SPLIT)
    async with processor_env(split, start=False) as env, two_workers(split, tmp_path):
        # Delivered twice, as after a lost ack: the same segments, the same one outcome.
        video_id = await submit(env.publisher, env.storage, long_clip, options=OPTIONS, deliveries=2)
        together, together_frames = await processed_zip(env, video_id)
        await asyncio.sleep(SETTLE_SECONDS)
        outcomes = [
            (t, i) for t, i in env.outcomes.ids[str(video_id)] if t in ("video.processed.v1", "video.failed.v1")
        ]
        leftovers = [key for key in objects.segment_keys(video_id) if await env.storage.exists(key)]

    assert len(alone_frames) == SECONDS
    assert together["frame_count"] == SECONDS
    assert [entry["file"] for entry in together["frames"]] == [f"frame_{n:06d}.jpg" for n in range(1, SECONDS + 1)]
    assert together_frames == alone_frames
    assert together["frames"] == alone["frames"]  # times and hashes
    assert together["ffmpeg_command"] == alone["ffmpeg_command"]  # the single pass the segments stand for
    assert len(together["ffmpeg_segments"]) == 4
    assert all("-ss" in command for command in together["ffmpeg_segments"][1:])
    # Every segment was extracted (a redelivered request finds its segment stored), on both workers.
    assert sorted({index for _, index in segment_jobs}) == [0, 1, 2, 3]
    assert {worker for worker, _ in segment_jobs} == {"work-1", "work-2"}
    # One outcome: published once, or again with the very same id (which every consumer's inbox drops).
    assert {event_type for event_type, _ in outcomes} == {"video.processed.v1"}
    assert len({event_id for _, event_id in outcomes}) == 1
    assert leftovers == []  # the segments are removed once gathered


async def test_a_segment_that_fails_is_retried_alone_and_bad_media_in_one_fails_the_video_once(
    amqp_url: str,
    local_s3: LocalS3,
    run_id: str,
    tmp_path: Path,
    long_clip: Path,
    segment_jobs: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = QueueSpec(
        name=f"test.processor-segments.{uuid.uuid4().hex[:6]}",
        owner="tests",
        binds=("video.segment.requested.v1",),
        max_attempts=4,
        retry_delays_ms=(300, 600, 1000),
    )
    settings = settings_of(amqp_url, local_s3, f"fanout-retry-{run_id}", tmp_path / "work-1", **SPLIT)
    real = fanout._extract_segment
    failures = {"transient": {2: 1}, "bad": {1: 1}}
    mode = ["transient"]

    async def flaky(plan: Any, index: int, *args: Any) -> None:
        if failures[mode[0]].get(index, 0) > 0:
            failures[mode[0]][index] -= 1
            if mode[0] == "transient":
                raise OSError("the disk was full for a moment")
            raise MediaRejected(FailureCode.INVALID_MEDIA, "a damaged stretch of the file")
        await real(plan, index, *args)

    monkeypatch.setattr(fanout, "_extract_segment", flaky)
    async with processor_env(settings, start=False) as env:
        async with env.amqp.channel() as channel:
            await declare_queue(channel, spec)
        async with two_workers(settings, tmp_path, segments_queue=spec):
            retried = await submit(env.publisher, env.storage, long_clip, options=OPTIONS)
            document, _ = await processed_zip(env, retried)
            ran_first = Counter(index for _, index in segment_jobs)
            mode[0] = "bad"
            broken = await submit(env.publisher, env.storage, long_clip, options=OPTIONS)
            failed = await env.outcomes.wait_final(broken, timeout=60)
            await asyncio.sleep(SETTLE_SECONDS)

    assert document["frame_count"] == SECONDS
    assert ran_first == {0: 1, 1: 1, 2: 2, 3: 1}  # only the failed segment ran again
    assert failed.event_type == "video.failed.v1"
    assert failed.error.code == "invalid_media"
    assert failed.attempts == 1  # bad media is not retried
    finals = [t for t, _ in env.outcomes.ids[str(broken)] if t in FINAL_TYPES]
    assert finals == ["video.failed.v1"]  # the other segments, stored, never gather a ZIP without segment 1

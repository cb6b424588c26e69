"""Several videos at once: with PROCESSOR_CONCURRENCY=2 a short video submitted after a long one does not wait
for it (the consumer runs one task per message, up to the prefetch), and both complete."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from ops.dev.localinfra import LocalS3
from tests.integration.processor.harness import (
    processor_env,
    processor_settings,
    submit,
    tiny_h264,
)
from tests.support import videos
from tests.support.polling import eventually


async def test_a_short_video_submitted_after_a_long_one_finishes_first(
    amqp_url: str, local_s3: LocalS3, run_id: str, tmp_path: Path
) -> None:
    long_video = videos.make_video(
        tmp_path / "long.mp4", 60, size="640x360", rate=30, output=["-c:v", "libx264", "-preset", "ultrafast"]
    )
    short_video = tiny_h264(tmp_path / "short.mp4", 5)
    settings = processor_settings(amqp_url, local_s3, f"proc-conc-{run_id}", tmp_path / "work", processor_concurrency=2)
    async with processor_env(settings) as env:
        long_id = await submit(env.publisher, env.storage, long_video, interval=0.25)
        await eventually(lambda: env.outcomes.of_type(long_id, "video.processing.started.v1"), timeout=30)
        short_id = await submit(env.publisher, env.storage, short_video)
        short = await env.outcomes.wait_final(short_id, timeout=60)
        assert env.outcomes.final(long_id) is None, "the short video waited for the long one"
        long = await env.outcomes.wait_final(long_id, timeout=100)
    assert (short.event_type, long.event_type) == ("video.processed.v1", "video.processed.v1")
    assert (short.frame_count, long.frame_count) == (5, 240)
    finished = [vid for vid, kind in env.outcomes.order if kind == "video.processed.v1"]
    assert finished == [str(short_id), str(long_id)]
    progress = env.outcomes.of_type(long_id, "video.processing.progress.v1")
    assert progress, "a long job reports progress"
    values = [p.progress for p in progress]
    assert values == sorted(values)
    assert all(b - a >= 0.05 for a, b in itertools.pairwise(values))


pytestmark = pytest.mark.slow

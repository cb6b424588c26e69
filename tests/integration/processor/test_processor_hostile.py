"""Hostile or unacceptable uploads end in one permanent `video.failed.v1` with a precise code: no retry, no
file read or request made on the uploader's behalf, nothing left in the retry or parking queues."""

from __future__ import annotations

import os
import random
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from contracts import decode
from contracts.topology import PROCESSOR_VIDEO_UPLOADED
from ops.dev.localinfra import LocalS3
from processor_svc.failures import MESSAGES
from processor_svc.probing import probe
from servicekit import objects
from tests.integration.processor.harness import (
    LAVFI,
    TOOL_LIMITS,
    Env,
    fails_with,
    make_video,
    processor_env,
    processor_settings,
    stored_upload,
    submit,
    tiny_h264,
)
from tests.support import videos
from tests.support.broker import drain


@pytest.fixture(scope="module")
async def env(
    amqp_url: str, local_s3: LocalS3, run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Env]:
    settings = processor_settings(
        amqp_url,
        local_s3,
        f"proc-hostile-{run_id}",
        tmp_path_factory.mktemp("work"),
        max_duration_seconds=8,  # lowered so a "very long" video stays small
        max_pixels=100_000,  # lowered: 400x300 stands in for 16384x16384, the check is the same ffprobe field
    )
    async with processor_env(settings) as env:
        yield env


async def test_random_bytes_fail_as_invalid_media(env: Env, tmp_path: Path) -> None:
    source = tmp_path / "noise.mp4"
    source.write_bytes(random.Random(7).randbytes(256 * 1024))
    await fails_with(env, source, "invalid_media")


async def test_a_truncated_mp4_fails_as_invalid_media(env: Env, media: Path, tmp_path: Path) -> None:
    whole = tiny_h264(media / "whole.mp4", 6)
    source = tmp_path / "cut.mp4"
    source.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # the index (moov) is at the end: lost
    await fails_with(env, source, "invalid_media")


async def test_a_truncated_mp4_with_its_index_first_does_not_pass_as_a_short_success(
    env: Env, media: Path, tmp_path: Path
) -> None:
    whole = tiny_h264(media / "faststart.mp4", 6, "10", "160x120", "-movflags", "+faststart")
    source = tmp_path / "cut-faststart.mp4"
    source.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])  # index promises 6 s, data has less
    await fails_with(env, source, "invalid_media")


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A loopback TCP listener that records every connection made to it."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[object] = []

    def serve() -> None:
        while True:
            try:
                conn, addr = server.accept()
            except OSError:
                return
            accepted.append(addr)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    server.close()
    thread.join(5)


async def test_an_hls_playlist_named_mp4_makes_no_request(
    env: Env, tmp_path: Path, listener: tuple[int, list[object]]
) -> None:
    port, accepted = listener
    source = tmp_path / "playlist.mp4"
    source.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:2.0,\nhttp://127.0.0.1:{port}/segment0.ts\n#EXT-X-ENDLIST\n"
    )
    await fails_with(env, source, "unsupported_format")
    assert accepted == []


async def test_an_hls_playlist_named_mp4_reads_no_local_file(env: Env, media: Path, tmp_path: Path) -> None:
    # The playlist points at a FIFO: opening it for reading is the only way to release our blocked writer.
    fifo = tmp_path / "secret.ts"
    os.mkfifo(fifo)
    opened = threading.Event()

    def writer() -> None:
        with fifo.open("wb"):
            opened.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    source = tmp_path / "local-playlist.mp4"
    source.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:2.0,\nfile://{fifo}\n#EXTINF:2.0,\n{fifo}\n#EXT-X-ENDLIST\n"
    )
    await fails_with(env, source, "unsupported_format")
    assert not opened.is_set()
    with fifo.open("rb"):  # release the writer
        pass
    thread.join(5)


async def test_an_image_fails_as_unsupported_format(env: Env, media: Path) -> None:
    source = make_video(media / "picture.png", *LAVFI, "testsrc2=size=160x120", "-frames:v", "1")
    await fails_with(env, source, "unsupported_format")


async def test_a_video_over_the_pixel_limit_fails_as_too_large(env: Env, media: Path) -> None:
    source = tiny_h264(media / "huge.mp4", 1, "10", "400x300")
    await fails_with(env, source, "too_large")


async def test_failure_messages_never_quote_a_tool_or_name_a_path(env: Env, media: Path, tmp_path: Path) -> None:
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(random.Random(11).randbytes(64 * 1024))  # ffprobe's error
    whole = tiny_h264(media / "faststart-2.mp4", 6, "10", "160x120", "-movflags", "+faststart")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])  # ffmpeg's error
    for source in (noise, cut):
        video_id = await submit(env.publisher, env.storage, source)
        outcome = await env.outcomes.wait_final(video_id)
        assert outcome.event_type == "video.failed.v1", outcome
        message = outcome.error.message
        assert str(env.settings.work_dir) not in message
        assert "/tmp" not in message
        assert "ffmpeg" not in message
        assert message == MESSAGES[outcome.error.code]


def stream_growing_to_8k(media: Path) -> Path:
    """An MPEG-TS whose first second is 320x240 (all ffprobe looks at) and whose last frame is 7680x4320: the
    two parts are joined into one H.264 stream, remuxed so the file itself is clean."""
    small = videos.make_video(media / "small.ts", 1, size="320x240", output=videos.CODECS["mp4"])
    huge = make_video(media / "huge.ts", *LAVFI, "color=c=blue:size=7680x4320:rate=10", "-frames:v", "1",
                      "-c:v", "libx264", "-preset", "ultrafast", "-output_ts_offset", "1")  # fmt: skip
    parts = media / "parts.txt"
    parts.write_text(f"file '{small}'\nfile '{huge}'\n")
    return make_video(media / "grows.ts", "-f", "concat", "-safe", "0", "-i", str(parts), "-c", "copy")


async def test_a_stream_that_grows_past_the_pixel_limit_after_the_probe_fails_as_too_large(
    env: Env, media: Path
) -> None:
    source = stream_growing_to_8k(media)
    assert source.stat().st_size < 1024 * 1024
    described = await probe(source, media, env.settings.max_pixels, TOOL_LIMITS)
    assert (described.width, described.height) == (320, 240)
    await fails_with(env, source, "too_large")


async def test_a_video_codec_outside_the_allowlist_fails_as_unsupported_format(env: Env, media: Path) -> None:
    source = videos.make_video(media / "prores.mov", 1, output=["-c:v", "prores"])
    await fails_with(env, source, "unsupported_format")


async def test_a_video_over_the_duration_limit_fails_as_too_long(env: Env, media: Path) -> None:
    source = tiny_h264(media / "long.mp4", 9)
    await fails_with(env, source, "too_long")


async def test_a_file_with_hundreds_of_streams_fails_as_too_large(env: Env, media: Path) -> None:
    one = tiny_h264(media / "one-stream.mp4", 1)
    maps = [arg for _ in range(200) for arg in ("-map", "0:v")]
    source = make_video(media / "streams.mkv", "-i", str(one), *maps, "-c", "copy")
    await fails_with(env, source, "too_large")


async def test_a_job_naming_someone_elses_source_is_parked_and_reads_nothing(env: Env, media: Path) -> None:
    # Anyone with broker credentials could publish a job: it names another user's upload as its source.
    theirs = await stored_upload(env.storage, tiny_h264(media / "theirs.mp4"))
    ours = await stored_upload(env.storage, tiny_h264(media / "theirs.mp4"))
    forged = ours.model_copy(update={"data": ours.data.model_copy(update={"source": theirs.data.source})})
    await env.publisher.publish(forged)

    [parked] = await drain(env.amqp, PROCESSOR_VIDEO_UPLOADED.parking_queue, 1, timeout=20)
    assert decode(parked.body).id == forged.id
    assert env.outcomes.of_type(ours.data.video_id, "video.processing.started.v1") == []
    assert await env.storage.exists(objects.result_key(ours.data.video_id)) is False
    # Its genuine job is processed as usual.
    await env.publisher.publish(ours)
    outcome = await env.outcomes.wait_final(ours.data.video_id)
    assert outcome.event_type == "video.processed.v1", outcome

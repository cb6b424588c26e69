"""Shared harness of the processor_svc tests: tiny videos made with ffmpeg's test
sources, the service running on the real broker and S3, jobs submitted as `video.uploaded.v1` and their
outcome events collected."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import uuid
import zipfile
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from aiohttp.test_utils import TestServer

from contracts import EventData, FailureCode, ObjectRef, ProcessingOptions, VideoUploadedV1, decode, new_envelope
from contracts.envelope import Envelope
from contracts.events import ImageFormat
from contracts.topology import PROCESSOR_VIDEO_UPLOADED
from ops.dev.localinfra import LocalS3
from processor_svc.app import create_app
from processor_svc.failures import MESSAGES
from processor_svc.runner import ToolLimits
from processor_svc.settings import GIB, Settings
from servicekit import objects
from servicekit.bus import Publisher, connect, declare_topology
from servicekit.storage import Storage, open_storage
from tests.support import videos
from tests.support.broker import depth, temp_queue

OUTCOME_TYPES = (
    "video.processing.started.v1",
    "video.processing.progress.v1",
    "video.processed.v1",
    "video.failed.v1",
)
LAVFI = ["-f", "lavfi", "-i"]
# The tools' limits for tests that run them without the service: the defaults, with a CPU limit of ten minutes.
TOOL_LIMITS = ToolLimits(address_space_bytes=4 * GIB, cpu_seconds=600, file_bytes=GIB, open_files=256)


def make_video(path: Path, *args: str) -> Path:
    """`path` written by ffmpeg from these arguments: crafted media (several inputs, filters, stream copies, other
    sources); a plain test pattern comes from tests.support.videos."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(path)], check=True, timeout=120)
    return path


def tiny_h264(path: Path, seconds: float = 3, rate: str = "10", size: str = "160x120", *extra: str) -> Path:
    output = ["-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", *extra]
    return videos.make_video(path, seconds, size=size, rate=rate, output=output, timeout=120)


def processor_settings(amqp_url: str, s3: LocalS3, bucket: str, work_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "amqp_url": amqp_url,
        "s3_endpoint_url": s3.endpoint_url,
        "s3_bucket": bucket,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "http_port": 0,
        "work_dir": work_dir,
        "processor_concurrency": 2,
        "shutdown_grace_seconds": 5,
        "log_format": "console",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Outcomes:
    """Every processing event published, by video id, as they arrive."""

    events: dict[str, list[EventData]] = field(default_factory=lambda: defaultdict(list))
    order: list[tuple[str, str]] = field(default_factory=list)
    ids: dict[str, list[tuple[str, uuid.UUID]]] = field(default_factory=lambda: defaultdict(list))  # (type, id)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        envelope = decode(message.body)
        self.events[envelope.subject].append(envelope.data)
        self.order.append((envelope.subject, envelope.type))
        self.ids[envelope.subject].append((envelope.type, envelope.id))
        await message.ack()

    def of_type(self, video_id: uuid.UUID, event_type: str) -> list[Any]:
        return [e for e in self.events[str(video_id)] if e.event_type == event_type]

    def final(self, video_id: uuid.UUID) -> Any | None:
        done = [e for e in self.events[str(video_id)] if e.event_type in ("video.processed.v1", "video.failed.v1")]
        return done[-1] if done else None

    async def wait_final(self, video_id: uuid.UUID, timeout: float = 60) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (outcome := self.final(video_id)) is None:
            assert loop.time() < deadline, f"no outcome for {video_id} within {timeout}s: {self.events[str(video_id)]}"
            await asyncio.sleep(0.05)
        return outcome


@contextlib.asynccontextmanager
async def listening(amqp: AbstractRobustConnection) -> AsyncIterator[Outcomes]:
    outcomes = Outcomes()
    async with amqp.channel() as channel:
        queue = await temp_queue(channel, *OUTCOME_TYPES)
        tag = await queue.consume(outcomes.on_message)
        yield outcomes
        await queue.cancel(tag)


@contextlib.asynccontextmanager
async def running(settings: Settings, **kwargs: Any) -> AsyncIterator[TestServer]:
    """The service as production builds it, started (its consumers take jobs) until the block ends."""
    server = TestServer(create_app(settings, **kwargs))
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def bucket_storage(settings: Settings) -> AsyncIterator[Storage]:
    async with open_storage(settings) as storage:
        await storage.ensure_bucket()
        yield storage


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def submit(
    publisher: Publisher,
    storage: Storage,
    source: Path,
    *,
    interval: float = 1.0,
    image_format: ImageFormat = ImageFormat.PNG,
    filename: str | None = None,
    deliveries: int = 1,
    options: ProcessingOptions | None = None,
) -> uuid.UUID:
    """Store a source as video_svc would and publish its `video.uploaded.v1` (`deliveries` times: the same event
    again, as the broker redelivers a job whose ack was lost). `options`, when given, replace interval and format."""
    envelope = await stored_upload(
        storage, source, interval=interval, image_format=image_format, filename=filename, options=options
    )
    for _ in range(deliveries):
        await publisher.publish(envelope)
    return envelope.data.video_id


async def stored_upload(
    storage: Storage,
    source: Path,
    *,
    interval: float = 1.0,
    image_format: ImageFormat = ImageFormat.PNG,
    filename: str | None = None,
    options: ProcessingOptions | None = None,
) -> Envelope[VideoUploadedV1]:
    """A source stored as video_svc stores it, and the `video.uploaded.v1` event that announces it."""
    video_id, owner_id = uuid.uuid4(), uuid.uuid4()
    key = objects.source_key(owner_id, video_id)
    await storage.put_stream(key, _one_chunk(source.read_bytes()))
    event = VideoUploadedV1(
        video_id=video_id,
        owner_id=owner_id,
        filename=filename or source.name,
        content_type="video/mp4",
        size_bytes=max(1, source.stat().st_size),
        source=ObjectRef(bucket=storage.bucket, key=key),
        options=options or ProcessingOptions(interval_seconds=interval, image_format=image_format),
        uploaded_at=datetime.now(UTC),
    )
    return new_envelope(event, source="framepipe/tests")


async def result_zip(storage: Storage, key: str) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(await storage.read(key)))
    assert archive.testzip() is None
    return archive


def manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(archive.read("manifest.json"))
    return document


def image_size(data: bytes, tmp: Path) -> tuple[int, int]:
    """Decode an image with ffprobe (it must decode) and return its width and height."""
    tmp.write_bytes(data)
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", str(tmp)],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    width, height = out.split(",")
    return int(width), int(height)


def ffmpeg_pids_mentioning(text: str) -> list[int]:
    """Live ffmpeg processes whose command line mentions `text`."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        is_ffmpeg = bool(argv) and Path(argv[0].decode(errors="replace")).name == "ffmpeg"
        if is_ffmpeg and state != "Z" and any(text.encode() in arg for arg in argv):
            pids.append(int(proc.name))
    return pids


@dataclass
class Env:
    settings: Settings
    publisher: Publisher
    storage: Storage
    outcomes: Outcomes
    amqp: AbstractRobustConnection


@contextlib.asynccontextmanager
async def processor_env(settings: Settings, start: bool = True, **kwargs: Any) -> AsyncIterator[Env]:
    """A broker connection, a publisher, the bucket, the outcome listener and (if `start`) the service."""
    connection = await connect(settings.amqp_url.get_secret_value(), "tests")
    await declare_topology(connection)
    publisher = Publisher(connection, "tests", timeout=5)
    await publisher.start()
    try:
        async with bucket_storage(settings) as storage, listening(connection) as outcomes:
            env = Env(settings, publisher, storage, outcomes, connection)
            if start:
                async with running(settings, **kwargs):
                    yield env
            else:
                yield env
    finally:
        await publisher.close()
        await connection.close()


async def fails_with(env: Env, source: Path, code: str, *, interval: float = 1.0) -> uuid.UUID:
    """The job of `source` ends in one permanent failure with `code`: never processed, never retried."""
    video_id = await submit(env.publisher, env.storage, source, interval=interval, filename="holiday.mp4")
    outcome = await env.outcomes.wait_final(video_id)
    assert outcome.event_type == "video.failed.v1", outcome
    assert outcome.error.code == code, outcome.error
    # The user reads the code's fixed sentence, never a tool's stderr (it names the job's directory).
    assert outcome.error.message == MESSAGES[FailureCode(code)]
    assert outcome.attempts == 1
    assert len(env.outcomes.of_type(video_id, "video.processing.started.v1")) == 1
    assert env.outcomes.of_type(video_id, "video.processed.v1") == []
    spec = PROCESSOR_VIDEO_UPLOADED
    for queue in [spec.parking_queue, *(spec.retry_queue(t) for t in range(len(spec.retry_delays_ms)))]:
        assert await depth(env.amqp, queue) == 0, queue
    return video_id


def decoded_frames(path: Path, interval: float) -> list[str]:
    """Reference answer, independent of the service: decode every frame (rgb24 md5 and timestamp, relative to
    the file's start as ffmpeg counts) and pick, for each t = k·interval < duration, the frame on screen at t."""
    probe = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
             "frame=pts_time:format=start_time,duration:stream=duration", "-of", "json", str(path)],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout
    )  # fmt: skip
    start = float(probe["format"]["start_time"])
    times = [float(f["pts_time"]) - start for f in probe["frames"]]
    hashes = [
        line.rsplit(",", 1)[1].strip()
        for line in subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
             "-f", "framemd5", "-pix_fmt", "rgb24", "-"],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout.splitlines()
        if not line.startswith("#")
    ]  # fmt: skip
    assert len(times) == len(hashes)
    duration = float(probe["streams"][0].get("duration") or probe["format"]["duration"])
    picked = []
    k = 0
    while k * interval < duration - 1e-9:
        on_screen = [i for i, t in enumerate(times) if t <= k * interval + 1e-9]
        picked.append(hashes[on_screen[-1] if on_screen else 0])
        k += 1
    return picked


def image_md5(data: bytes, tmp: Path) -> str:
    tmp.write_bytes(data)
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(tmp), "-f", "framemd5", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    return next(line for line in out.splitlines() if not line.startswith("#")).rsplit(",", 1)[1].strip()

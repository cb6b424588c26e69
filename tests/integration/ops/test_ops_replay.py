"""`framepipe replay` against the real broker: dry runs send nothing, a replay to one queue reaches only that
queue with its replay headers and an audit record, the rate is respected, an interrupted job resumes without
sending anything twice, and a consumer's inbox tells redeliver from reprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from contracts import UserRegisteredV1, VideoUploadedV1, new_envelope
from contracts.envelope import Envelope
from contracts.events import EventData, ObjectRef, ProcessingOptions
from contracts.topology import NOTIFY_USER_DIRECTORY, PROCESSOR_VIDEO_UPLOADED, QUEUES
from ops.bus.archive import archive_end, read_archive
from ops.bus.replay import UsageError
from servicekit.bus import Consumer, MessageContext, Publisher
from tests.integration.ops.harness import framepipe
from tests.support.broker import depth, drain
from tests.support.database import SchemaPool
from tests.support.polling import eventually

REPO = Path(__file__).resolve().parents[3]


def registered(correlation_id: str) -> Envelope[EventData]:
    user = uuid.uuid4()
    data = UserRegisteredV1(
        user_id=user, email=f"{user.hex[:8]}@example.com", name=None, registered_at=datetime.now(UTC)
    )
    return new_envelope(data, source="framepipe/auth_svc", correlation_id=correlation_id)


def uploaded(correlation_id: str) -> Envelope[EventData]:
    video = uuid.uuid4()
    data = VideoUploadedV1(
        video_id=video, owner_id=uuid.uuid4(), filename="a.mp4", content_type="video/mp4", size_bytes=10,
        source=ObjectRef(bucket="uploads", key=f"videos/{video}"), options=ProcessingOptions(),
        uploaded_at=datetime.now(UTC),
    )  # fmt: skip
    return new_envelope(data, source="framepipe/video_svc", correlation_id=correlation_id)


async def publish_batch(publisher: Publisher, make: object, count: int) -> tuple[str, list[Envelope[EventData]]]:
    """`count` events sharing a fresh correlation id (the filter each test replays by)."""
    correlation = f"batch-{uuid.uuid4().hex[:8]}"
    batch = [make(correlation) for _ in range(count)]  # type: ignore[operator]
    for envelope in batch:
        await publisher.publish(envelope)
    return correlation, batch


async def archive_ends_with(amqp: AbstractRobustConnection, event_id: str) -> bool:
    end = await archive_end(amqp)
    if end is None:
        return False
    async with contextlib.aclosing(read_archive(amqp, end.offset, idle_timeout=0.5, first_timeout=5)) as events:
        async for event in events:
            return event.facts.event_id == event_id
    return False


async def empty_every_queue(amqp: AbstractRobustConnection) -> None:
    async with amqp.channel() as channel:
        for name in QUEUES:
            queue = await channel.get_queue(name, ensure=False)
            await queue.purge()


async def queue_is_empty(amqp: AbstractRobustConnection, name: str) -> bool:
    return await depth(amqp, name) == 0


async def depths(amqp: AbstractRobustConnection) -> dict[str, int]:
    names = [*QUEUES, *(spec.parking_queue for spec in QUEUES.values())]
    return {name: await depth(amqp, name) for name in names}


async def test_a_dry_run_sends_nothing_and_lists_what_it_would_send(
    amqp_url: str, amqp: AbstractRobustConnection, publisher: Publisher, tmp_path: Path
) -> None:
    correlation, batch = await publish_batch(publisher, registered, 4)
    await eventually(lambda: depth(amqp, NOTIFY_USER_DIRECTORY.name))
    before = await depths(amqp)
    manifest = tmp_path / "manifest.jsonl"

    printed = await framepipe(
        "replay", "--correlation-id", correlation, "--to-queue", NOTIFY_USER_DIRECTORY.name,
        "--manifest", str(manifest), "--audit-log", str(tmp_path / "audit.jsonl"), "--amqp-url", amqp_url,
    )  # fmt: skip

    await asyncio.sleep(0.5)
    assert await depths(amqp) == before
    assert "DRY RUN" in printed
    assert "4  auth.user.registered.v1" in printed
    listed = [json.loads(line)["event_id"] for line in manifest.read_text().splitlines()]
    assert listed == [str(e.id) for e in batch]
    assert not (tmp_path / "audit.jsonl").exists()


async def test_a_replay_to_one_queue_reaches_only_that_queue_with_replay_headers_and_an_audit_record(
    amqp_url: str, amqp: AbstractRobustConnection, publisher: Publisher, tmp_path: Path
) -> None:
    correlation, batch = await publish_batch(publisher, registered, 3)
    await asyncio.sleep(0.3)
    await empty_every_queue(amqp)
    before = await depths(amqp)
    audit = tmp_path / "audit.jsonl"

    await framepipe(
        "replay", "--type", "auth.user.registered.*", "--correlation-id", correlation,
        "--to-queue", NOTIFY_USER_DIRECTORY.name, "--execute", "--reason", "directory wiped",
        "--state-dir", str(tmp_path), "--audit-log", str(audit), "--amqp-url", amqp_url,
    )  # fmt: skip

    received = await drain(amqp, NOTIFY_USER_DIRECTORY.name, 3)
    after = await depths(amqp)
    assert {name: n for name, n in after.items() if n != before[name]} == {}
    assert [m.message_id for m in received] == [str(e.id) for e in batch]
    assert [m.body for m in received] == [e.model_dump_json().encode() for e in batch]
    replay_ids = {m.headers["replay-id"] for m in received}
    assert len(replay_ids) == 1
    assert {m.headers["replay-reason"] for m in received} == {"directory wiped"}
    assert {m.headers["replay-mode"] for m in received} == {"redeliver"}
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [r["status"] for r in records] == ["started", "completed"]
    done = records[-1]
    assert done["replay_id"] == replay_ids.pop()
    assert done["who"]
    assert done["when"]
    assert done["target"] == {"kind": "queue", "name": NOTIFY_USER_DIRECTORY.name}
    assert done["filters"] == {"types": ["auth.user.registered.*"], "correlation_id": correlation}
    assert done["mode"] == "redeliver"
    assert done["counts"]["sent"] == 3


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--to-exchange"], "--yes-all-subscribers"),
        (["--to-queue", "framepipe.archive"], "unknown queue"),
        ([], "a target is required"),
    ],
)
async def test_an_unsafe_or_missing_target_is_refused_before_anything_is_read(
    amqp_url: str, argv: list[str], complaint: str
) -> None:
    with pytest.raises(UsageError, match=complaint):
        await framepipe("replay", *argv, "--execute", "--reason", "x", "--amqp-url", amqp_url)


async def test_execute_without_a_reason_is_refused(amqp_url: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--reason"):
        await framepipe("replay", "--to-queue", NOTIFY_USER_DIRECTORY.name, "--execute", "--amqp-url", amqp_url)


async def test_the_rate_is_respected_within_ten_percent(
    amqp_url: str, amqp: AbstractRobustConnection, publisher: Publisher, tmp_path: Path
) -> None:
    count, rate = 61, 30.0
    correlation, _ = await publish_batch(publisher, registered, count)
    await asyncio.sleep(0.3)
    await empty_every_queue(amqp)
    arrivals: list[float] = []

    async with amqp.channel() as channel:
        queue = await channel.get_queue(NOTIFY_USER_DIRECTORY.name, ensure=False)

        async def note(message: AbstractIncomingMessage) -> None:
            arrivals.append(time.monotonic())
            await message.ack()

        await queue.consume(note)
        await framepipe(
            "replay", "--correlation-id", correlation, "--to-queue", NOTIFY_USER_DIRECTORY.name, "--execute",
            "--reason", "pace", "--rate", f"{rate:g}/s", "--state-dir", str(tmp_path),
            "--audit-log", str(tmp_path / "audit.jsonl"), "--amqp-url", amqp_url,
        )  # fmt: skip
        await eventually(lambda: len(arrivals) == count)

    span = arrivals[-1] - arrivals[0]
    expected = (count - 1) / rate
    assert expected * 0.9 <= span <= expected * 1.1, (span, expected)


async def test_an_interrupted_replay_resumed_sends_no_event_twice(
    amqp_url: str, amqp: AbstractRobustConnection, publisher: Publisher, tmp_path: Path
) -> None:
    count = 80
    correlation, batch = await publish_batch(publisher, registered, count)
    # The replay plans up to the archive's end as it finds it: start only once the whole batch is there.
    await eventually(lambda: archive_ends_with(amqp, str(batch[-1].id)), timeout=30)
    await empty_every_queue(amqp)
    common = ["--state-dir", str(tmp_path), "--audit-log", str(tmp_path / "audit.jsonl"), "--amqp-url", amqp_url]
    job = subprocess.Popen(
        [sys.executable, "-m", "ops.cli", "replay", "--correlation-id", correlation,
         "--to-queue", NOTIFY_USER_DIRECTORY.name, "--execute", "--reason", "resume test", "--rate", "25/s", *common],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    await eventually(lambda: depth(amqp, NOTIFY_USER_DIRECTORY.name), timeout=30, interval=0.01)
    await asyncio.sleep(0.8)
    job.send_signal(signal.SIGINT)
    _, stderr = await asyncio.to_thread(job.communicate, timeout=30)
    assert job.returncode == 130, stderr.decode()
    sent_before = await depth(amqp, NOTIFY_USER_DIRECTORY.name)
    assert 0 < sent_before < count
    (state,) = tmp_path.glob("*.state.jsonl")
    replay_id = state.name.removesuffix(".state.jsonl")
    assert f"--resume {replay_id}" in stderr.decode()

    await framepipe("replay", "--resume", replay_id, *common)

    received = await drain(amqp, NOTIFY_USER_DIRECTORY.name, count)
    await asyncio.sleep(0.5)
    assert await depth(amqp, NOTIFY_USER_DIRECTORY.name) == 0
    ids = [m.message_id for m in received]
    assert sorted(ids) == sorted(str(e.id) for e in batch)
    assert len(set(ids)) == count
    statuses = [json.loads(line)["status"] for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert statuses == ["started", "interrupted", "started", "completed"]


async def test_redeliver_is_dropped_by_the_inbox_and_reprocess_runs_the_handler_again(
    amqp_url: str,
    amqp: AbstractRobustConnection,
    publisher: Publisher,
    schema_pool: SchemaPool,
    tmp_path: Path,
) -> None:
    handled: list[uuid.UUID] = []

    async def on_uploaded(event: VideoUploadedV1, ctx: MessageContext) -> None:
        handled.append(event.video_id)

    await empty_every_queue(amqp)
    consumer = Consumer(
        amqp, PROCESSOR_VIDEO_UPLOADED, {"video.uploaded.v1": on_uploaded}, publisher,
        service="tests", pool=schema_pool.pool,
    )  # fmt: skip
    await consumer.start()
    try:
        correlation, batch = await publish_batch(publisher, uploaded, 5)
        await eventually(lambda: len(handled) == 5)
        common = ["--correlation-id", correlation, "--to-queue", PROCESSOR_VIDEO_UPLOADED.name, "--execute"]
        common += ["--state-dir", str(tmp_path), "--audit-log", str(tmp_path / "a.jsonl"), "--amqp-url", amqp_url]

        await framepipe("replay", *common, "--reason", "no-op check")
        await eventually(lambda: queue_is_empty(amqp, PROCESSOR_VIDEO_UPLOADED.name))
        await eventually(lambda: consumer.in_flight == 0)
        await asyncio.sleep(0.5)
        assert len(handled) == 5

        await framepipe("replay", *common, "--mode", "reprocess", "--reason", "bug fixed")
        await eventually(lambda: len(handled) == 10)
    finally:
        await consumer.stop()
    assert sorted(handled[5:]) == sorted(e.data.video_id for e in batch)  # type: ignore[attr-defined]
    async with schema_pool.pool.acquire() as conn:
        reprocessed = await conn.fetch(
            "SELECT event_id, reprocessed FROM inbox WHERE consumer = $1", PROCESSOR_VIDEO_UPLOADED.name
        )
    assert {str(r["event_id"]): r["reprocessed"] for r in reprocessed} == {str(e.id): 1 for e in batch}


async def test_reprocess_is_honoured_only_from_an_operator_user(
    amqp_url: str,
    amqp: AbstractRobustConnection,
    publisher: Publisher,
    schema_pool: SchemaPool,
    tmp_path: Path,
) -> None:
    handled: list[uuid.UUID] = []

    async def on_uploaded(event: VideoUploadedV1, ctx: MessageContext) -> None:
        handled.append(event.video_id)

    await empty_every_queue(amqp)
    # This broker user (guest) is not one of the consumer's operators: its replay's reprocess header is ignored.
    consumer = Consumer(
        amqp, PROCESSOR_VIDEO_UPLOADED, {"video.uploaded.v1": on_uploaded}, publisher,
        service="tests", pool=schema_pool.pool, operators=frozenset({"framepipe-operator"}),
    )  # fmt: skip
    await consumer.start()
    try:
        correlation, _ = await publish_batch(publisher, uploaded, 3)
        await eventually(lambda: len(handled) == 3)
        common = ["--correlation-id", correlation, "--to-queue", PROCESSOR_VIDEO_UPLOADED.name, "--execute"]
        common += ["--state-dir", str(tmp_path), "--audit-log", str(tmp_path / "a.jsonl"), "--amqp-url", amqp_url]
        await framepipe("replay", *common, "--mode", "reprocess", "--reason", "not an operator")
        await eventually(lambda: queue_is_empty(amqp, PROCESSOR_VIDEO_UPLOADED.name))
        await eventually(lambda: consumer.in_flight == 0)
        await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
    assert len(handled) == 3

"""The operator tooling against the real services: notify_svc's recipient directory, lost with its database, is
rebuilt by replaying the registrations to its queue alone; videos failed by a processor bug reach done when
their uploads are reprocessed after the fix; a parked job, once its cause is gone, is redriven to done."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from contracts import UserRegisteredV1, new_envelope
from contracts.topology import NOTIFY_USER_DIRECTORY, PROCESSOR_VIDEO_UPLOADED, QUEUES, VIDEO_PROCESSING_UPDATES
from notify_svc.app import create_app
from ops.dev.localinfra import LocalS3, LocalSMTP
from servicekit.bus import Publisher
from servicekit.runtime import POOL
from tests.integration.notify.harness import notify_settings
from tests.integration.ops.harness import framepipe
from tests.integration.processor.harness import processor_settings, running
from tests.integration.video.harness import VideoService, clip_fixture, uploaded_id, video_service_fixture
from tests.support.broker import depth
from tests.support.polling import eventually
from tests.support.tokens import JwtKeys

svc = video_service_fixture()
clip = clip_fixture()


async def every_depth(amqp: AbstractRobustConnection) -> dict[str, int]:
    names = [*QUEUES, *(spec.parking_queue for spec in QUEUES.values())]
    return {name: await depth(amqp, name) for name in names}


async def test_a_wiped_recipient_directory_is_rebuilt_by_a_replay_that_reaches_no_other_queue(
    database_url: str,
    amqp_url: str,
    amqp: AbstractRobustConnection,
    publisher: Publisher,
    smtp_server: LocalSMTP,
    jwt_keys: JwtKeys,
    tmp_path: Path,
) -> None:
    users = {uuid.uuid4(): f"user{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(3)}
    app = create_app(notify_settings(database_url, amqp_url, smtp_server.port, jwt_keys))
    async with TestClient(TestServer(app)) as client:
        pool = client.app[POOL]

        async def directory() -> dict[uuid.UUID, str]:
            async with pool.acquire() as conn:
                return {r["user_id"]: r["email"] for r in await conn.fetch("SELECT user_id, email FROM recipients")}

        for user_id, email in users.items():
            data = UserRegisteredV1(user_id=user_id, email=email, name=None, registered_at=datetime.now(UTC))
            await publisher.publish(new_envelope(data, source="framepipe/auth_svc"))
        await eventually(lambda: _has_all(directory, users), timeout=15)

        async with pool.acquire() as conn:  # the database is lost: directory and inbox alike
            await conn.execute("DELETE FROM recipients")
            await conn.execute("DELETE FROM inbox WHERE consumer = $1", NOTIFY_USER_DIRECTORY.name)
        before = await every_depth(amqp)

        await framepipe(
            "replay", "--type", "auth.user.registered.*", "--to-queue", NOTIFY_USER_DIRECTORY.name, "--execute",
            "--reason", "directory lost", "--state-dir", str(tmp_path), "--audit-log", str(tmp_path / "audit.jsonl"),
            "--amqp-url", amqp_url,
        )  # fmt: skip

        await eventually(lambda: _has_all(directory, users), timeout=20)
        assert await directory() == users
        after = await every_depth(amqp)
    assert {name: n for name, n in after.items() if n != before[name]} == {}


async def _has_all(directory: Callable[[], Awaitable[dict[uuid.UUID, str]]], users: dict[uuid.UUID, str]) -> bool:
    current = await directory()
    return all(current.get(user_id) == email for user_id, email in users.items())


async def video_of(svc: VideoService, owner: uuid.UUID, video_id: str) -> dict[str, Any]:
    response = await svc.client.get(f"/video/{video_id}", headers=svc.auth(owner))
    assert response.status == 200, await response.text()
    video: dict[str, Any] = await response.json()
    return video


async def all_in(svc: VideoService, owner: uuid.UUID, video_ids: list[str], status: str) -> bool:
    return all([(await video_of(svc, owner, v))["status"] == status for v in video_ids])


def duplicates_dropped(event_type: str) -> float:
    """How many `event_type` messages video_svc's processing-updates consumer recognised in its inbox and dropped."""
    labels = {"service": "video_svc", "queue": VIDEO_PROCESSING_UPDATES.name, "type": event_type}
    return REGISTRY.get_sample_value("bus_messages_consumed_total", labels | {"outcome": "duplicate"}) or 0.0


def job_options(tmp_path: Path, amqp_url: str) -> list[str]:
    return ["--state-dir", str(tmp_path), "--audit-log", str(tmp_path / "audit.jsonl"), "--amqp-url", amqp_url]


async def test_videos_failed_by_a_processor_bug_reach_done_when_their_uploads_are_reprocessed_after_the_fix(
    svc: VideoService, clip: bytes, amqp_url: str, amqp: AbstractRobustConnection, local_s3: LocalS3, tmp_path: Path
) -> None:
    owner = uuid.uuid4()
    work = tmp_path / "work"
    buggy = processor_settings(amqp_url, local_s3, svc.settings.s3_bucket, work, max_duration_seconds=0.5)
    async with running(buggy):  # the "bug": every clip is judged too long
        videos = [await uploaded_id(svc, owner, clip, f"clip{i}.mp4") for i in range(5)]
        await eventually(lambda: all_in(svc, owner, videos, "failed"), timeout=40, interval=0.2)
    assert {(await video_of(svc, owner, v))["error"]["code"] for v in videos} == {"too_long"}
    subjects = [arg for v in videos for arg in ("--subject", v)]
    options = job_options(tmp_path, amqp_url)

    async with running(processor_settings(amqp_url, local_s3, svc.settings.s3_bucket, work)):  # the fix
        # The processor keeps no inbox (it has no database), so a redeliver of the uploads to its queue would run
        # the jobs again exactly like a reprocess. "Redeliver changes nothing" holds where an inbox is: the same
        # videos' outcomes redelivered to video_svc are recognised and dropped, and the videos stay failed.
        before = [await video_of(svc, owner, v) for v in videos]
        dropped = duplicates_dropped("video.failed.v1")
        printed = await framepipe(
            "replay", "--type", "video.failed.*", *subjects, "--to-queue", VIDEO_PROCESSING_UPDATES.name,
            "--execute", "--reason", "check the inbox", *options,
        )  # fmt: skip
        assert "sent 5 " in printed, printed
        await eventually(lambda: duplicates_dropped("video.failed.v1") - dropped >= 5, timeout=20, interval=0.2)
        assert [await video_of(svc, owner, v) for v in videos] == before
        assert await depth(amqp, PROCESSOR_VIDEO_UPLOADED.name) == 0

        printed = await framepipe(
            "replay", "--type", "video.uploaded.*", *subjects, "--to-queue", PROCESSOR_VIDEO_UPLOADED.name,
            "--mode", "reprocess", "--execute", "--reason", "duration limit fixed", *options,
        )  # fmt: skip
        assert "sent 5 " in printed, printed
        await eventually(lambda: all_in(svc, owner, videos, "done"), timeout=40, interval=0.2)
    for video in [await video_of(svc, owner, v) for v in videos]:
        assert (video["error"], video["frame_count"]) == (None, 1), video


async def test_a_parked_job_is_explained_and_once_its_cause_is_gone_a_redrive_brings_the_video_to_done(
    svc: VideoService, clip: bytes, amqp_url: str, amqp: AbstractRobustConnection, local_s3: LocalS3, tmp_path: Path
) -> None:
    owner = uuid.uuid4()
    parking = PROCESSOR_VIDEO_UPLOADED.parking_queue
    video_id = await uploaded_id(svc, owner, clip)
    await eventually(lambda: depth(amqp, PROCESSOR_VIDEO_UPLOADED.name), timeout=20, interval=0.2)
    [source_key] = await svc.keys(f"sources/{owner}/{video_id}")
    source = await svc.storage.read(source_key)
    await svc.storage.delete(source_key)  # the cause: the job's source is gone when the processor gets it

    # The production queue (so the job parks in processor.video-uploaded.dlq and reaches video.dead-jobs), with
    # two attempts instead of four: one retry after the first backoff tier (2 s) instead of 42 s of backoff.
    queue = dataclasses.replace(PROCESSOR_VIDEO_UPLOADED, max_attempts=2)
    settings = processor_settings(amqp_url, local_s3, svc.settings.s3_bucket, tmp_path / "work")
    async with running(settings, queue=queue):
        await eventually(lambda: depth(amqp, parking), timeout=30, interval=0.2)
        await eventually(lambda: all_in(svc, owner, [video_id], "failed"), timeout=20, interval=0.2)
        assert (await video_of(svc, owner, video_id))["error"]["code"] == "retries_exhausted"

        shown = await framepipe("dlq", "show", PROCESSOR_VIDEO_UPLOADED.name, "--amqp-url", amqp_url)
        assert f"video.uploaded.v1  subject {video_id}" in shown, shown
        assert f"reason retries_exhausted (count 2) in {PROCESSOR_VIDEO_UPLOADED.name}" in shown, shown
        assert "first error: NoSuchKey" in shown, shown

        await svc.s3.put_object(Bucket=svc.settings.s3_bucket, Key=source_key, Body=source)  # the cause removed
        printed = await framepipe(
            "dlq", "redrive", PROCESSOR_VIDEO_UPLOADED.name, "--execute", "--reason", "source restored",
            "--audit-log", str(tmp_path / "audit.jsonl"), "--amqp-url", amqp_url,
        )  # fmt: skip
        assert f"1 message(s) redriven to {PROCESSOR_VIDEO_UPLOADED.name}" in printed, printed
        await eventually(lambda: all_in(svc, owner, [video_id], "done"), timeout=30, interval=0.2)
    assert (await video_of(svc, owner, video_id))["error"] is None
    assert await depth(amqp, parking) == 0

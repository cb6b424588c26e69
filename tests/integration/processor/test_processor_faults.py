"""processor_svc under faults: a worker killed with -9 in the middle of ffmpeg, S3 gone for a while or for
good, a job over its time limit. Jobs complete exactly once, nothing is left running or on disk, and a job
that cannot succeed is parked after its attempts, spaced by the backoff, not retried in a hot loop."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contracts.envelope import amqp_headers, encode
from contracts.topology import EVENTS_EXCHANGE, QueueSpec
from ops.dev.localinfra import LocalS3, free_port, wait_for_port
from ops.dev.tcpproxy import TcpProxy
from processor_svc.jobdir import JOBS_SUBDIR
from servicekit.bus import declare_queue
from servicekit.bus.publisher import build_message
from tests.integration.processor.harness import (
    ffmpeg_pids_mentioning,
    processor_env,
    processor_settings,
    running,
    stored_upload,
    submit,
    tiny_h264,
)
from tests.support import s3 as support_s3
from tests.support import videos
from tests.support.broker import depth
from tests.support.polling import eventually

pytestmark = pytest.mark.slow

REPROCESS = {"replay-id": "test-replay", "replay-mode": "reprocess"}  # the headers of `replay --mode reprocess`


@pytest.fixture(scope="module")
def heavy_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Long enough that ffmpeg is still running when we strike (about 4 s of raw ffmpeg at interval 0.1 s)."""
    path = tmp_path_factory.mktemp("heavy") / "heavy.mp4"
    return videos.make_video(path, 40, size="1920x1080", rate=25, output=["-c:v", "libx264", "-preset", "ultrafast"])


@pytest.fixture
async def proxy(local_s3: LocalS3) -> AsyncIterator[TcpProxy]:
    proxy = await TcpProxy(local_s3.host, local_s3.port).start()
    yield proxy
    await proxy.cut()


async def test_s3_unavailable_for_a_while_is_retried_with_backoff_and_completes(
    amqp_url: str, local_s3: LocalS3, run_id: str, tmp_path: Path, proxy: TcpProxy
) -> None:
    direct = processor_settings(amqp_url, local_s3, f"proc-faults-{run_id}", tmp_path / "work")
    via_proxy = direct.model_copy(update={"s3_endpoint_url": f"http://127.0.0.1:{proxy.port}"})
    async with processor_env(direct, start=False) as env, running(via_proxy):
        await proxy.cut()
        video_id = await submit(env.publisher, env.storage, tiny_h264(tmp_path / "v.mp4", 2))
        # S3's client retries a little by itself; once the job has failed and come back, S3 returns
        await eventually(lambda: len(env.outcomes.of_type(video_id, "video.processing.started.v1")) >= 2, timeout=40)
        await proxy.restore()
        outcome = await env.outcomes.wait_final(video_id, timeout=60)
    assert outcome.event_type == "video.processed.v1"
    attempts = [s.attempt for s in env.outcomes.of_type(video_id, "video.processing.started.v1")]
    assert attempts[0] == 1
    assert attempts[-1] >= 2


async def test_s3_gone_for_good_parks_the_job_after_its_attempts_spaced_by_the_backoff(
    amqp_url: str, local_s3: LocalS3, run_id: str, tmp_path: Path, proxy: TcpProxy
) -> None:
    spec = QueueSpec(
        name=f"test.processor-jobs.{uuid.uuid4().hex[:6]}",
        owner="tests",
        binds=("video.uploaded.v1",),
        max_attempts=4,
        retry_delays_ms=(500, 1000, 2000),  # the production tiers (2 s, 10 s, 30 s), scaled down
    )
    direct = processor_settings(amqp_url, local_s3, f"proc-faults-{run_id}", tmp_path / "work")
    via_proxy = direct.model_copy(update={"s3_endpoint_url": f"http://127.0.0.1:{proxy.port}"})
    async with processor_env(direct, start=False) as env:
        async with env.amqp.channel() as channel:
            await declare_queue(channel, spec)
        await proxy.cut()
        async with running(via_proxy, queue=spec):
            video_id = await submit(env.publisher, env.storage, tiny_h264(tmp_path / "v.mp4", 2))
            await eventually(lambda: depth(env.amqp, spec.parking_queue), timeout=60, interval=0.2)
            await asyncio.sleep(1)  # nothing more may happen once it is parked
    started = env.outcomes.of_type(video_id, "video.processing.started.v1")
    assert [s.attempt for s in started] == [1, 2, 3, 4]
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in itertools.pairwise(started)]
    assert [round(g, 1) >= d / 1000 for g, d in zip(gaps, spec.retry_delays_ms, strict=True)] == [True] * 3, gaps
    assert env.outcomes.final(video_id) is None  # the dead-lettered job is video_svc's to mark failed


async def test_a_job_over_its_time_limit_fails_with_timeout_and_leaves_nothing_behind(
    amqp_url: str, local_s3: LocalS3, run_id: str, tmp_path: Path, heavy_video: Path
) -> None:
    work = tmp_path / "work"
    settings = processor_settings(amqp_url, local_s3, f"proc-faults-{run_id}", work, job_timeout_seconds=1)
    async with processor_env(settings) as env:
        video_id = await submit(env.publisher, env.storage, heavy_video, interval=0.1)
        outcome = await env.outcomes.wait_final(video_id, timeout=60)
        assert outcome.event_type == "video.failed.v1"
        assert outcome.error.code == "timeout"
        assert ffmpeg_pids_mentioning(str(work)) == []
        assert list((work / JOBS_SUBDIR).iterdir()) == []
        assert not await env.storage.exists(f"results/{video_id}.zip")


async def test_a_job_run_twice_for_one_upload_publishes_its_outcome_once_under_one_event_id(
    amqp_url: str, local_s3: LocalS3, run_id: str, tmp_path: Path, heavy_video: Path
) -> None:
    settings = processor_settings(amqp_url, local_s3, f"proc-faults-{run_id}", tmp_path / "work")
    async with processor_env(settings) as env:
        video_id = await submit(env.publisher, env.storage, heavy_video, interval=5, deliveries=2)
        await eventually(lambda: len(outcome_ids(env, video_id)) == 2, timeout=90)
        (first_type, first_id), (second_type, second_id) = outcome_ids(env, video_id)
        assert first_type == second_type == "video.processed.v1"
        assert first_id == second_id  # consumers' inboxes drop the second copy: one outcome, one e-mail
        started = [i for t, i in env.outcomes.ids[str(video_id)] if t == "video.processing.started.v1"]
        assert len(started) == 2
        assert started[0] != started[1]


def frames_written(work: Path) -> bool:
    """Some frames of a job are on disk (a job's directory can vanish while we look)."""
    try:
        return any((work / JOBS_SUBDIR).rglob("*.png"))
    except FileNotFoundError:
        return False


def outcome_ids(env: Any, video_id: uuid.UUID) -> list[tuple[str, uuid.UUID]]:
    return [(t, i) for t, i in env.outcomes.ids[str(video_id)] if t in ("video.processed.v1", "video.failed.v1")]


def start_worker(env_vars: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "processor_svc"], env=env_vars, stdout=out, stderr=subprocess.STDOUT
        )


async def test_a_worker_killed_mid_ffmpeg_leaves_no_orphan_and_the_job_completes_once(
    amqp_url: str, local_s3: LocalS3, run_id: str, tmp_path: Path, heavy_video: Path
) -> None:
    work = tmp_path / "work"
    settings = processor_settings(amqp_url, local_s3, f"proc-faults-{run_id}", work)
    port = free_port()
    env_vars = {
        **os.environ,
        "AMQP_URL": amqp_url,
        "S3_ENDPOINT_URL": local_s3.endpoint_url,
        "S3_BUCKET": settings.s3_bucket,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "HTTP_PORT": str(port),
        "WORK_DIR": str(work),
        "PROCESSOR_CONCURRENCY": "1",
        "LOG_FORMAT": "json",
    }
    log = tmp_path / "worker.log"
    async with processor_env(settings, start=False) as env:
        first = start_worker(env_vars, log)
        try:
            wait_for_port("127.0.0.1", port)
            video_id = await submit(env.publisher, env.storage, heavy_video, interval=0.1)
            orphans = await eventually(lambda: ffmpeg_pids_mentioning(str(work)), timeout=60)
            await eventually(lambda: frames_written(work), timeout=30)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            await eventually(lambda: not any(Path(f"/proc/{pid}").exists() for pid in orphans), timeout=10)
            assert list((work / JOBS_SUBDIR).iterdir()) != []  # the dead worker's directory is still there
        finally:
            first.kill()
        second = start_worker(env_vars, log)
        try:
            outcome = await env.outcomes.wait_final(video_id, timeout=90)
            await asyncio.sleep(1)  # a duplicate outcome would show up now
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
        stored = await env.storage.read(f"results/{video_id}.zip")
    assert outcome.event_type == "video.processed.v1", log.read_text()[-3000:]
    assert len(env.outcomes.of_type(video_id, "video.processed.v1")) == 1
    assert len(env.outcomes.of_type(video_id, "video.processing.started.v1")) == 2
    assert outcome.frame_count == 400
    assert outcome.result.sha256 == hashlib.sha256(stored).hexdigest()
    assert ffmpeg_pids_mentioning(str(work)) == []
    assert list((work / JOBS_SUBDIR).iterdir()) == []


@pytest.mark.parametrize(
    ("replay_headers", "receipt_cut_short", "writes"),
    [({}, False, 1), ({}, True, 1), (REPROCESS, False, 2)],
    ids=["redelivered", "redelivered-before-its-receipt-was-complete", "reprocessed"],
)
async def test_a_job_run_again_for_an_upload_whose_result_is_stored_publishes_that_result_without_writing_it_again(
    amqp_url: str,
    local_s3: LocalS3,
    run_id: str,
    tmp_path: Path,
    replay_headers: dict[str, str],
    receipt_cut_short: bool,
    writes: int,
) -> None:
    bucket = f"proc-rerun-{run_id}-{writes}{'c' if receipt_cut_short else ''}"
    settings = processor_settings(amqp_url, local_s3, bucket, tmp_path / "work", processor_concurrency=1)
    async with processor_env(settings) as env:
        async with s3_client(local_s3) as s3:
            await s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        upload = await stored_upload(env.storage, tiny_h264(tmp_path / "v.mp4", 2))
        video_id, key = upload.data.video_id, f"results/{upload.data.video_id}.zip"
        await env.publisher.publish(upload)
        first = await env.outcomes.wait_final(video_id)
        if receipt_cut_short:  # the job was cut off after the ZIP was stored, before its summary was tagged
            await env.storage.tag(key, {"framepipe-upload-event": str(upload.id)})
        # The same upload event again, as the broker redelivers a job whose ack or outcome confirm was lost (or as
        # an operator's `replay --mode reprocess` sends it).
        message = build_message(encode(upload), str(upload.id), upload.type, {**amqp_headers(upload), **replay_headers})
        message.user_id = "guest"  # this broker user: the operators' on the dev broker, and the broker checks it
        await env.publisher.send_to(EVENTS_EXCHANGE, upload.type, message)
        await eventually(lambda: len(outcome_ids(env, video_id)) == 2, timeout=60)
        async with s3_client(local_s3) as s3:
            listing = await s3.list_object_versions(Bucket=bucket, Prefix=key)
    second = env.outcomes.final(video_id)
    assert first.event_type == second.event_type == "video.processed.v1"
    assert second.frame_count == first.frame_count
    assert len(first.previews) == 2  # one per frame of the 2-second video
    assert second.previews == first.previews  # the page keeps showing them, whichever run answered
    assert len(listing.get("Versions", [])) == writes
    if writes == 1:
        assert second.result == first.result  # the stored ZIP's own size and digest


def s3_client(s3: LocalS3) -> Any:
    return support_s3.s3_client(s3.endpoint_url, ("testing", "testing"))

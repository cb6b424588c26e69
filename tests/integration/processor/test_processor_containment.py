"""ffmpeg and ffprobe run contained: none of the worker's environment (broker URL, S3 credentials), kernel limits
on memory, CPU time, file size and open files, and a cap on the result ZIP. A video that runs into a limit ends in
one permanent `video.failed.v1` with a stable code, and nothing is stored."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ops.dev.localinfra import LocalS3
from processor_svc.runner import TOOL_ENVIRONMENT, run_tool
from processor_svc.settings import GIB
from servicekit import objects
from tests.integration.processor.harness import (
    TOOL_LIMITS,
    Env,
    fails_with,
    ffmpeg_pids_mentioning,
    processor_env,
    processor_settings,
    stored_upload,
    tiny_h264,
)

MARKER = "FRAMEPIPE_CONTAINMENT_MARKER"


@pytest.fixture
def settings_with(
    amqp_url: str, local_s3: LocalS3, run_id: str, tmp_path: Path
) -> Callable[..., contextlib.AbstractAsyncContextManager[Env]]:
    """The service running with some settings changed, for one test."""

    def start(**overrides: Any) -> contextlib.AbstractAsyncContextManager[Env]:
        bucket = f"proc-contain-{run_id}"
        return processor_env(processor_settings(amqp_url, local_s3, bucket, tmp_path / "work", **overrides))

    return start


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode().partition("=")[::2] for item in raw.split(b"\0") if item)


def limits_of(pid: int) -> dict[str, tuple[str, str]]:
    """/proc/<pid>/limits: name -> (soft, hard)."""
    rows = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    found = (re.match(r"(.+?)\s{2,}(\S+)\s+(\S+)", row) for row in rows)
    return {match[1]: (match[2], match[3]) for match in found if match}


async def watch_ffmpeg(mentioning: str) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """The environment and limits of the first live ffmpeg whose command line mentions `mentioning`."""
    while True:
        for pid in ffmpeg_pids_mentioning(mentioning):
            with contextlib.suppress(OSError):  # it may end between the scan and the read
                return environ_of(pid), limits_of(pid)
        await asyncio.sleep(0.002)


async def test_a_tool_gets_only_its_own_environment_and_its_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MARKER, "worker-secret")
    environment = await run_tool(["cat", "/proc/self/environ"], tmp_path / "env.log", TOOL_LIMITS)
    assert environment.returncode == 0
    assert dict(item.partition("=")[::2] for item in environment.stdout.decode().split("\0") if item) == (
        TOOL_ENVIRONMENT
    )
    limits = await run_tool(["cat", "/proc/self/limits"], tmp_path / "limits.log", TOOL_LIMITS)
    assert f"{TOOL_LIMITS.open_files}" in limits.stdout.decode()


async def test_a_running_ffmpeg_sees_none_of_the_workers_environment_and_runs_under_the_configured_limits(
    settings_with: Callable[..., contextlib.AbstractAsyncContextManager[Env]],
    media: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(MARKER, "worker-secret")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/token")
    limits = {
        "ffmpeg_max_address_space_bytes": 3 * GIB,
        "ffmpeg_max_cpu_seconds": 900,
        "ffmpeg_max_file_bytes": 512 * 1024 * 1024,
        "ffmpeg_max_open_files": 128,
    }
    source = tiny_h264(media / "watched.mp4", 20, "25", "320x240")
    async with settings_with(**limits) as env:
        upload = await stored_upload(env.storage, source, interval=0.1)  # 200 frames: ffmpeg runs a while
        watcher = asyncio.ensure_future(watch_ffmpeg(str(upload.data.video_id)))
        await env.publisher.publish(upload)
        environment, seen = await asyncio.wait_for(watcher, 30)
        outcome = await env.outcomes.wait_final(upload.data.video_id)
    assert outcome.event_type == "video.processed.v1", outcome
    assert environment == TOOL_ENVIRONMENT
    expected = {
        "Max address space": str(limits["ffmpeg_max_address_space_bytes"]),
        "Max cpu time": str(limits["ffmpeg_max_cpu_seconds"]),
        "Max file size": str(limits["ffmpeg_max_file_bytes"]),
        "Max open files": str(limits["ffmpeg_max_open_files"]),
    }
    assert {name: seen[name] for name in expected} == {name: (value, value) for name, value in expected.items()}


async def test_a_tiny_file_size_limit_fails_a_normal_video_as_too_large(
    settings_with: Callable[..., contextlib.AbstractAsyncContextManager[Env]], media: Path
) -> None:
    async with settings_with(ffmpeg_max_file_bytes=4096) as env:
        await fails_with(env, tiny_h264(media / "normal.mp4"), "too_large")


async def test_a_tiny_address_space_limit_fails_a_normal_video_as_too_large(
    settings_with: Callable[..., contextlib.AbstractAsyncContextManager[Env]], media: Path
) -> None:
    async with settings_with(ffmpeg_max_address_space_bytes=64 * 1024 * 1024) as env:
        await fails_with(env, tiny_h264(media / "normal.mp4"), "too_large")


async def test_a_tool_out_of_cpu_time_fails_the_video_as_timeout(
    settings_with: Callable[..., contextlib.AbstractAsyncContextManager[Env]], media: Path
) -> None:
    source = tiny_h264(media / "busy.mp4", 20, "25", "1920x1080", "-preset", "ultrafast")
    async with settings_with(ffmpeg_max_cpu_seconds=1) as env:
        await fails_with(env, source, "timeout", interval=0.1)  # 200 1080p PNG frames: about 3.5 s of CPU


def frame_sizes(source: Path, out_dir: Path) -> list[int]:
    """The PNG frames the job will produce, made independently of the service."""
    out_dir.mkdir()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(source), "-vf", "fps=1:round=up", str(out_dir / "%03d.png")],
        check=True, timeout=60,
    )  # fmt: skip
    return [frame.stat().st_size for frame in out_dir.iterdir()]


async def test_a_result_over_max_result_bytes_fails_as_too_large_and_nothing_is_stored(
    settings_with: Callable[..., contextlib.AbstractAsyncContextManager[Env]], media: Path, tmp_path: Path
) -> None:
    source = tiny_h264(media / "six.mp4", 6)
    sizes = frame_sizes(source, tmp_path / "frames")
    # Each frame fits (so the file size limit, never above this one, is not what stops it); all of them do not.
    cap = (max(sizes) + sum(sizes)) // 2
    assert max(sizes) < cap < sum(sizes)
    async with settings_with(max_result_bytes=cap) as env:
        video_id = await fails_with(env, source, "too_large")
        assert await env.storage.exists(objects.result_key(video_id)) is False

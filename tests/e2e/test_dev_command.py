"""`framepipe dev` itself, as `make run` runs it: it says where everything is once every service is ready, and
Ctrl-C stops every process it started."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ops.dev.env import DEFAULTS, LOCAL_S3_CREDENTIALS, Ports
from ops.dev.localinfra import free_port
from ops.dev.stack import DevConfig, DevStack, DevStackError
from tests.support.broker import drop_vhost, make_vhost
from tests.support.database import database_url_on
from tests.support.settings import AMQP_BASE, PG_ADMIN_DSN, RUN_ID

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LOCAL_CREDENTIALS = {k.lower(): v for k, v in LOCAL_S3_CREDENTIALS.items()}
SERVICE_OFFSETS = (0, 1, 2, 3, 4, 9)  # gateway, auth, video, notify, processor-1, webhook


def free_port_block(size: int) -> int:
    """A base port whose next `size` ports are all free right now."""
    for _ in range(50):
        base = free_port()
        try:
            sockets = [socket.create_server(("127.0.0.1", base + i)) for i in range(1, size + 1)]
        except OSError:
            continue
        for sock in sockets:
            sock.close()
        return base
    raise AssertionError("no block of free ports")


@pytest.fixture
def dev_env() -> Iterator[dict[str, str]]:
    vhost = make_vhost("dev_command")
    env = {**os.environ, **DEFAULTS}
    env.pop("S3_ENDPOINT_URL", None)
    env.update(
        DATABASE_URL=database_url_on(PG_ADMIN_DSN, f"fp_test_{RUN_ID}_dev"),
        AMQP_URL=f"{AMQP_BASE}/{vhost}",
        SMTP_PORT=str(free_port()),
        S3_BUCKET=f"fp-dev-{RUN_ID}",  # its own mirror under var/s3/, removed below
    )
    yield env
    drop_vhost(vhost)
    shutil.rmtree(ROOT / "var" / "s3" / env["S3_BUCKET"], ignore_errors=True)
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force",
                    f"fp_test_{RUN_ID}_dev"], check=False, capture_output=True)  # fmt: skip


def read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} not seen; output:\n" + "\n".join(lines[-40:]))


def start_runner(env: dict[str, str], base: int) -> tuple[subprocess.Popen[str], list[str]]:
    runner = subprocess.Popen(
        [sys.executable, "-m", "ops.cli", "dev", "--ports-base", str(base)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        return runner, read_until(runner, "Ctrl-C stops everything.", timeout=100)
    except BaseException:
        os.killpg(runner.pid, signal.SIGKILL)
        raise


def stop_runner(runner: subprocess.Popen[str]) -> str:
    """Ctrl-C, as a developer would; returns what it printed while stopping."""
    rest: list[str] = []
    assert runner.stdout is not None
    drain = threading.Thread(target=lambda: rest.extend(runner.stdout or []), daemon=True)  # never a full pipe
    drain.start()
    runner.send_signal(signal.SIGINT)
    try:
        assert runner.wait(60) == 0
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
    drain.join(10)
    return "".join(rest)


def s3_url(output: list[str]) -> str:
    match = re.search(r"S3\s+(http://\S+)", "\n".join(output))
    assert match, output
    return match.group(1)


def test_make_run_reports_the_urls_once_ready_and_ctrl_c_stops_every_process(dev_env: dict[str, str]) -> None:
    base = free_port_block(9)
    runner, output = start_runner(dev_env, base)
    try:
        text = "\n".join(output)
        assert f"  web app      http://127.0.0.1:{base}/" in text
        assert f"  auth         http://127.0.0.1:{base + 1}\n" in text
        assert f"  processor-1  http://127.0.0.1:{base + 4}/metrics\n" in text
        assert f"  webhook      http://127.0.0.1:{base + 9}\n" in text
        assert f"export FRAMEPIPE_URL=http://127.0.0.1:{base}" in text
        assert any(line.startswith("video       |") for line in output)
        with urllib.request.urlopen(f"http://127.0.0.1:{base}/app/", timeout=5) as page:
            assert b'<script type="module"' in page.read()
        for offset in SERVICE_OFFSETS:
            with urllib.request.urlopen(f"http://127.0.0.1:{base + offset}/readyz", timeout=5) as ready:
                assert ready.status == 200
        store(s3_url(output), dev_env["S3_BUCKET"], "results/kept.zip", b"frames of a run before")
    finally:
        assert "framepipe dev: stopped." in stop_runner(runner)
    for offset in SERVICE_OFFSETS:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", base + offset), timeout=1).close()

    # The next run's local S3 (a new server, on another port) still has what the last one stored.
    runner, output = start_runner(dev_env, base)
    try:
        assert fetch(s3_url(output), dev_env["S3_BUCKET"], "results/kept.zip") == b"frames of a run before"
    finally:
        stop_runner(runner)


def _s3(url: str) -> Any:
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", **LOCAL_CREDENTIALS)


def store(url: str, bucket: str, key: str, body: bytes) -> None:
    _s3(url).put_object(Bucket=bucket, Key=key, Body=body)


def fetch(url: str, bucket: str, key: str) -> bytes:
    data: bytes = _s3(url).get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


def test_without_ffmpeg_make_run_stops_at_once_and_says_how_to_install_it(dev_env: dict[str, str]) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "ops.cli", "dev", "--ports-base", str(free_port_block(4))],
        cwd=ROOT, env={**dev_env, "PATH": "/nonexistent"}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert time.monotonic() - started < 20
    assert "ffmpeg and ffprobe not found on the PATH" in result.stderr
    assert "apt-get install ffmpeg" in result.stderr


async def test_a_service_that_cannot_start_is_named_with_its_last_lines_and_nothing_is_left_running(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    settings = {**dev_env, "MAX_UPLOAD_BYTES": "not a number"}
    stack = DevStack(DevConfig(settings=settings, root=ROOT, var_dir=tmp_path, ports=Ports(base=None), output=None))

    with pytest.raises(DevStackError) as error:
        await stack.start()

    assert "video exited with code" in str(error.value)
    assert "max_upload_bytes" in str(error.value).lower()
    assert not any(process.running for process in stack.processes.values())

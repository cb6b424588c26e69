"""`framepipe dev` itself, as `make run` runs it: it says where everything is once every service is ready, and
Ctrl-C stops every process it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.dev_env import DEFAULTS, Ports
from ops.devstack import DevConfig, DevStack, DevStackError
from ops.localinfra import free_port
from tests.conftest import AMQP_BASE, PG_ADMIN_DSN, RUN_ID, drop_vhost, make_vhost

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SERVICE_OFFSETS = (1, 2, 3, 4, 9)  # auth, video, notify, processor-1, webhook


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
        DATABASE_URL=PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/fp_test_{RUN_ID}_dev",
        AMQP_URL=f"{AMQP_BASE}/{vhost}",
        SMTP_PORT=str(free_port()),
    )
    yield env
    drop_vhost(vhost)
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


def test_make_run_reports_the_urls_once_ready_and_ctrl_c_stops_every_process(dev_env: dict[str, str]) -> None:
    base = free_port_block(9)
    runner = subprocess.Popen(
        [sys.executable, "-m", "ops.cli", "dev", "--ports-base", str(base)],
        cwd=ROOT, env=dev_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        output = read_until(runner, "Ctrl-C stops everything.", timeout=100)
        text = "\n".join(output)
        assert f"  auth         http://127.0.0.1:{base + 1}\n" in text
        assert f"  processor-1  http://127.0.0.1:{base + 4}/metrics\n" in text
        assert f"  webhook      http://127.0.0.1:{base + 9}\n" in text
        assert f"export FRAMEPIPE_AUTH_URL=http://127.0.0.1:{base + 1}" in text
        assert any(line.startswith("video       |") for line in output)
        for offset in SERVICE_OFFSETS:
            with urllib.request.urlopen(f"http://127.0.0.1:{base + offset}/readyz", timeout=5) as ready:
                assert ready.status == 200

        # Keep reading: a runner blocked on a full pipe could not stop.
        rest: list[str] = []
        assert runner.stdout is not None
        drain = threading.Thread(target=lambda: rest.extend(runner.stdout or []), daemon=True)
        drain.start()
        runner.send_signal(signal.SIGINT)
        assert runner.wait(60) == 0
        drain.join(10)
        assert "framepipe dev: stopped." in "".join(rest)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
    for offset in SERVICE_OFFSETS:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", base + offset), timeout=1).close()


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

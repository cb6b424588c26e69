"""docs/integrators.md works as written: its examples are taken from the page itself and run against the real
broker (a user made with the page's own commands, consumers with and without the contract package) and a real
webhook_svc delivering to the page's Python and Node receivers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import aiohttp
import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts.events import FailureCode
from ops.dev.localinfra import free_port
from servicekit.bus import Publisher
from tests.integration.webhook.harness import TokenFor, failed, processed, progress, running_webhooks, webhook_settings
from tests.support.polling import eventually
from tests.support.settings import AMQP_BASE, RUN_ID
from tests.support.tokens import JwtKeys

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "integrators.md"
EPOCH = "2020-01-01T00:00:00Z"


def example(name: str) -> str:
    """The fenced block that follows `<!-- example: NAME -->` in the guide."""
    found = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w*\n(.*?)\n```", GUIDE.read_text(), re.DOTALL)
    assert found, f"no example {name!r} in {GUIDE}"
    return found.group(1) + "\n"


class Running:
    """An example running as its own process, its output lines collected as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.lines.append(line.decode().rstrip())

    def saw(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(2)  # SIGINT, as Ctrl-C
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await asyncio.gather(self._reader, return_exceptions=True)


@contextlib.asynccontextmanager
async def run_example(path: Path, *command: str, env: dict[str, str]) -> AsyncIterator[Running]:
    process = await asyncio.create_subprocess_exec(
        *command, str(path), cwd=ROOT, env={**os.environ, **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    running = Running(process)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def broker_user(amqp_url: str) -> tuple[str, str, str]:
    """The guide's own commands, run as the administrator, for a user of this test (removed afterwards)."""
    name, password, vhost = f"fp_test_{RUN_ID}_acme", uuid.uuid4().hex, amqp_url.rsplit("/", 1)[1]
    script = example("broker-user").replace(
        "NAME=acme PASSWORD='a-long-random-password' VHOST=/", f"NAME={name} PASSWORD={password} VHOST={vhost}"
    )
    subprocess.run(["bash", "-euo", "pipefail", "-c", script], check=True, capture_output=True, timeout=120)
    yield name, password, vhost
    subprocess.run(["rabbitmqctl", "-q", "delete_user", name], check=False, capture_output=True, timeout=60)


async def test_the_guides_consumers_read_their_own_queues_once_per_event_with_the_guides_user(
    broker_user: tuple[str, str, str], amqp: AbstractRobustConnection, publisher: Publisher, tmp_path: Path
) -> None:
    name, password, vhost = broker_user
    host = AMQP_BASE.rsplit("@", 1)[1]
    env = {"FRAMEPIPE_AMQP_URL": f"amqp://{name}:{password}@{host}/{vhost}", "PYTHONPATH": str(ROOT)}
    (tmp_path / "with_contracts.py").write_text(example("consumer-contracts"))
    (tmp_path / "with_schemas.py").write_text(example("consumer-jsonschema"))
    owner = uuid.uuid4()
    outcome, failure, ignored = processed(owner), failed(owner), progress(owner)
    async with (
        run_example(tmp_path / "with_contracts.py", sys.executable, env={**env, "QUEUE": f"{name}.outcomes"}) as typed,
        run_example(tmp_path / "with_schemas.py", sys.executable, env={**env, "QUEUE": f"{name}.raw"}) as raw,
    ):
        await eventually(lambda: typed.saw("consuming") and raw.saw("consuming"), timeout=20)
        for envelope in (outcome, ignored, failure, outcome):  # the outcome twice: a redelivered copy
            await publisher.publish(envelope)
        await eventually(lambda: len(typed.saw("(event")) >= 2 and len(raw.saw("(event")) >= 2, timeout=20)
        await asyncio.sleep(0.5)  # time for a wrong third line to show up
        refused = await publish_as(env["FRAMEPIPE_AMQP_URL"])

    assert typed.saw("(event") == [
        f"processed {outcome.data.video_id}: 5 frames (event {outcome.id})",  # type: ignore[attr-defined]
        f"failed {failure.data.video_id}: {FailureCode.NO_VIDEO_STREAM} (event {failure.id})",  # type: ignore[attr-defined]
    ]
    assert raw.saw("(event") == [
        f"video.processed.v1 {outcome.data.video_id}: 5 frames (event {outcome.id})",  # type: ignore[attr-defined]
        f"video.failed.v1 {failure.data.video_id}: no_video_stream (event {failure.id})",  # type: ignore[attr-defined]
    ]
    assert "ACCESS_REFUSED" in refused  # the guide's user reads events; it cannot publish them


async def publish_as(url: str) -> str:
    """Try to publish to framepipe.events as the integrator's user; the broker's answer."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange("framepipe.events", ensure=False)
        await exchange.publish(aio_pika.Message(b"{}"), routing_key="video.processed.v1")
        await asyncio.sleep(0.5)
        await channel.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await connection.close()
    return "published"


needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node runs the guide's Node receiver")


@needs_node
async def test_the_guides_python_and_node_receivers_verify_real_deliveries_and_reject_forgeries(
    database_url: str,
    amqp_url: str,
    jwt_keys: JwtKeys,
    amqp: AbstractRobustConnection,
    publisher: Publisher,
    token_for: TokenFor,
    tmp_path: Path,
) -> None:
    settings = webhook_settings(database_url, amqp_url, jwt_keys)
    (tmp_path / "receiver.py").write_text(example("webhook-python"))
    (tmp_path / "receiver.mjs").write_text(example("webhook-node"))
    user = uuid.uuid4()
    ports = {"python": free_port(), "node": free_port()}
    async with running_webhooks(settings, amqp, token_for) as hooks:
        endpoints = {
            kind: await hooks.register(user, f"http://127.0.0.1:{port}/framepipe", "video.processed.v1")
            for kind, port in ports.items()
        }
        async with (
            run_example(tmp_path / "receiver.py", sys.executable,
                        env={"WEBHOOK_SECRET": endpoints["python"]["secret"], "PORT": str(ports["python"])}) as py,
            run_example(tmp_path / "receiver.mjs", "node",
                        env={"WEBHOOK_SECRET": endpoints["node"]["secret"], "PORT": str(ports["node"])}) as js,
        ):  # fmt: skip
            await eventually(lambda: all(_listening(port) for port in ports.values()), timeout=20)
            event = processed(user)
            await publisher.publish(event)
            await eventually(lambda: py.saw("verified") and js.saw("verified"), timeout=20)
            await eventually(lambda: _delivered(hooks, user, endpoints, times=1), timeout=20)
            replays = [  # the same event again: acknowledged, not handled twice
                await hooks.call("POST", f"/webhooks/{endpoints[kind]['id']}/replay", user, json={"since": EPOCH})
                for kind in ports
            ]
            await eventually(lambda: _delivered(hooks, user, endpoints, times=2), timeout=20)
            forged = {kind: await _forge(port, str(event.id)) for kind, port in ports.items()}
            await eventually(lambda: py.saw("rejected") and js.saw("rejected"), timeout=10)

    expected = f"verified video.processed.v1 {event.id} video {event.data.video_id}"  # type: ignore[attr-defined]
    assert py.saw("verified") == [expected]
    assert js.saw("verified") == [expected]
    assert replays == [(202, {"queued": 1})] * 2
    assert forged == {"python": 401, "node": 401}


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


async def _delivered(hooks: object, user: uuid.UUID, endpoints: dict[str, dict[str, str]], times: int) -> bool:
    """Every endpoint's one delivery is logged as succeeded after `times` attempts."""
    for endpoint in endpoints.values():
        [delivery] = await hooks.deliveries(user, endpoint["id"])  # type: ignore[attr-defined]
        if delivery["status"] != "succeeded" or delivery["attempts"] < times:
            return False
    return True


async def _forge(port: int, event_id: str) -> int:
    """A request signed with a secret that is not the endpoint's."""
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": "v1,bm90IHRoZSBzaWduYXR1cmUgb2YgdGhpcyBib2R5IGF0IGFsbA==",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{port}/framepipe", data=b'{"type": "video.processed.v1"}', headers=headers
        ) as response,
    ):
        return response.status

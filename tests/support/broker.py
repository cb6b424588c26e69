"""Scratch RabbitMQ vhosts (created for a run, a module or a benchmark and deleted afterwards), and reading and
measuring the queues in them."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
from collections.abc import Iterator

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from tests.support.settings import RUN_ID


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def add_vhost(name: str) -> str:
    """A new vhost the guest user may do anything in."""
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return name


def make_vhost(label: str) -> str:
    """A vhost of this test run's own, named after `label`."""
    return add_vhost(f"fp_test_{RUN_ID}_{label}")


def drop_vhost(name: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], check=False, capture_output=True, timeout=60)


@contextlib.contextmanager
def scratch_vhost(amqp_base: str, prefix: str) -> Iterator[str]:
    """A vhost named `prefix` and a random suffix; yields its AMQP URL under `amqp_base`, deletes it afterwards."""
    vhost = add_vhost(f"{prefix}_{uuid.uuid4().hex[:8]}")
    try:
        yield f"{amqp_base}/{vhost}"
    finally:
        drop_vhost(vhost)


async def drain(
    connection: AbstractRobustConnection, queue: str, expect: int, timeout: float = 10.0
) -> list[AbstractIncomingMessage]:
    """Take `expect` messages off a queue (acking them), or fail after `timeout`."""
    got: list[AbstractIncomingMessage] = []
    async with connection.channel() as channel:
        q = await channel.get_queue(queue, ensure=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(got) < expect:
            message = await q.get(fail=False, no_ack=True)
            if message is None:
                if loop.time() > deadline:
                    raise AssertionError(f"{queue}: got {len(got)} of {expect} messages")
                await asyncio.sleep(0.05)
                continue
            got.append(message)
    return got


async def depth(connection: AbstractRobustConnection, queue: str) -> int:
    async with connection.channel() as channel:
        declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
        return int(count or 0)


async def temp_queue(channel: aio_pika.abc.AbstractChannel, *keys: str) -> aio_pika.abc.AbstractQueue:
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    for key in keys:
        await queue.bind("framepipe.events", routing_key=key)
    return queue

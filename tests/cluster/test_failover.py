"""servicekit's failover connection against a real cluster: the node a connection uses, which also leads its quorum
queue, is killed -9; the connection moves on, the queue elects a new leader, and nothing confirmed is lost."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

from aio_pika.abc import AbstractIncomingMessage

from ops.dev.localcluster import LocalRabbitCluster
from servicekit.bus import Publisher, connect
from servicekit.bus.publisher import build_message
from tests.support.polling import eventually


async def test_a_consumer_and_a_publisher_go_on_through_the_kill_of_the_node_leading_their_queue(
    cluster: LocalRabbitCluster,
) -> None:
    first = cluster.nodes[0]
    connection = await connect(cluster.urls(), "tests", first=0)
    assert connection.node == f"127.0.0.1:{first.amqp_port}"
    channel = await connection.channel()
    queue = await channel.declare_queue(
        f"test.failover.{uuid.uuid4().hex[:6]}", durable=True, arguments={"x-queue-type": "quorum"}
    )
    await cluster.wait_replicated()
    assert {q["name"]: q["leader"] for q in await cluster.queues()}[queue.name] == first.name

    received: set[bytes] = set()

    async def on_message(message: AbstractIncomingMessage) -> None:
        received.add(message.body)
        await message.ack()

    await queue.consume(on_message)
    publisher = Publisher(connection, "tests", timeout=5)
    await publisher.start()
    confirmed: list[tuple[float, bytes]] = []

    async def publish_forever() -> None:
        for number in range(100_000):
            body = str(number).encode()
            with contextlib.suppress(Exception):
                await publisher.send_to("", queue.name, build_message(body, str(number), "test", {}))
                confirmed.append((time.monotonic(), body))
            await asyncio.sleep(0.05)

    publishing = asyncio.create_task(publish_forever())
    await eventually(lambda: len(confirmed) > 5)
    killed = time.monotonic()
    cluster.kill(first)

    await eventually(
        lambda: connection.connected.is_set() and connection.node != f"127.0.0.1:{first.amqp_port}", timeout=20
    )
    await eventually(lambda: any(at > killed for at, _ in confirmed), timeout=30)
    failover = min(at for at, _ in confirmed if at > killed) - killed
    await cluster.restart(first)
    await cluster.wait_cluster()
    publishing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await publishing

    await eventually(lambda: {body for _, body in confirmed} <= received, timeout=30)
    assert failover < 15, failover
    await queue.delete(if_unused=False, if_empty=False)
    await connection.close()

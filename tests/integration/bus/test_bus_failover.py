"""A broker address of several nodes, against the real broker reached through two TCP proxies that stand for two
nodes: a connection opens on a node that answers, moves to the other when its node goes away, and its consumer and
publisher keep working there. (tests/cluster does the same against a real three-node cluster.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from aio_pika.abc import AbstractIncomingMessage

from ops.dev.localinfra import free_port
from ops.dev.tcpproxy import TcpProxy
from servicekit.bus import Publisher, PublishError, connect, declare_topology
from servicekit.bus.connection import FailoverConnection
from servicekit.bus.publisher import build_message
from tests.support.polling import eventually


@pytest.fixture
async def nodes() -> AsyncIterator[list[TcpProxy]]:
    proxies = [await TcpProxy("127.0.0.1", 5672).start() for _ in range(2)]
    yield proxies
    for proxy in proxies:
        await proxy.cut()


def address(amqp_url: str, *ports: int) -> str:
    vhost = amqp_url.rsplit("/", 1)[-1]
    return ",".join(f"amqp://guest:guest@127.0.0.1:{port}/{vhost}" for port in ports)


async def test_a_connection_opens_on_a_node_that_answers_whichever_node_it_tries_first(amqp_url: str) -> None:
    silent = free_port()  # nothing listens there
    url = address(amqp_url, silent, 5672)
    for _ in range(6):  # the first node tried is random: both orders come up
        connection = await connect(url, "tests")
        assert isinstance(connection, FailoverConnection)
        assert connection.node == "127.0.0.1:5672"
        await connection.close()


async def test_connecting_fails_when_no_node_answers(amqp_url: str) -> None:
    with pytest.raises(ConnectionError):
        await connect(address(amqp_url, free_port(), free_port()), "tests")


async def test_when_its_node_goes_away_a_connection_moves_to_the_next_and_its_consumer_and_publisher_go_on(
    amqp_url: str, nodes: list[TcpProxy]
) -> None:
    connection = await connect(address(amqp_url, *(n.port for n in nodes)), "tests")
    assert isinstance(connection, FailoverConnection)
    await declare_topology(connection)
    publisher = Publisher(connection, "tests", timeout=5)
    await publisher.start()
    received: list[bytes] = []
    channel = await connection.channel()
    queue = await channel.declare_queue(f"test.failover.{uuid.uuid4().hex[:6]}", durable=True)

    async def on_message(message: AbstractIncomingMessage) -> None:
        received.append(message.body)
        await message.ack()

    await queue.consume(on_message)
    first = connection.node
    await publisher.send_to("", queue.name, build_message(b"before", "1", "test", {}))
    await eventually(lambda: received == [b"before"])

    await next(n for n in nodes if f"127.0.0.1:{n.port}" == first).cut()
    await eventually(lambda: connection.connected.is_set() and connection.node != first, timeout=15)
    await eventually(lambda: _publish(publisher, queue.name), timeout=15)
    await eventually(lambda: b"after" in received, timeout=15)

    await queue.delete(if_unused=False, if_empty=False)
    await publisher.close()
    await connection.close()


async def test_a_publish_fails_within_its_timeout_while_no_node_answers(amqp_url: str, nodes: list[TcpProxy]) -> None:
    connection = await connect(address(amqp_url, *(n.port for n in nodes)), "tests")
    publisher = Publisher(connection, "tests", timeout=2)
    await publisher.start()
    for node in nodes:
        await node.cut()
    await eventually(lambda: not connection.connected.is_set())
    started = time.monotonic()
    with pytest.raises(PublishError):
        await publisher.send_to("", "amq.rabbitmq.reply-to.none", build_message(b"x", "1", "test", {}))
    assert time.monotonic() - started < 4
    for node in nodes:
        await node.restore()
    await eventually(connection.connected.is_set, timeout=15)
    await publisher.close()
    await connection.close()


async def _publish(publisher: Publisher, queue: str) -> bool:
    try:
        await publisher.send_to("", queue, build_message(b"after", "2", "test", {}))
    except PublishError:
        await asyncio.sleep(0.2)
        return False
    return True

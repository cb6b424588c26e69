"""A robust AMQP connection: it reconnects by itself and restores its channels, queues and consumers."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractRobustConnection


async def connect(url: str, name: str) -> AbstractRobustConnection:
    return await aio_pika.connect_robust(
        url,
        client_properties={"connection_name": name},
        reconnect_interval=1,
        fail_fast=True,
    )


async def check_broker(connection: AbstractRobustConnection) -> None:
    """Readiness: the connection is open right now (a robust connection reports closed while it reconnects)."""
    if connection.is_closed or not connection.connected.is_set():
        raise ConnectionError("broker connection is down")

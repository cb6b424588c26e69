"""A robust AMQP connection to one node of a RabbitMQ cluster: it reconnects by itself, moving on to the next node
of its list whenever its node is lost or refuses it, and restores its channels, queues and consumers there.

The broker's address is one URL or several, separated by commas (AMQP_URL), one per node of the same cluster
(docs/decisions/0012). Each connection starts at a random node, so clients spread over the cluster, and goes round
the list from there: a lost connection is retried at once on the next node, then every `reconnect_interval`."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

import structlog
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from aio_pika.robust_connection import RobustConnection
from yarl import URL

from servicekit.metrics import BROKER_CONNECTS

log = structlog.get_logger(__name__)

SCHEMES = ("amqp", "amqps")
RECONNECT_INTERVAL = 1.0
CONNECT_TIMEOUT = 10.0  # per attempt: a node that accepts TCP but never answers is given up, the next one tried


class BrokerAddressError(ValueError):
    """AMQP_URL is not one or more comma-separated amqp:// or amqps:// URLs."""


def broker_urls(value: str) -> list[str]:
    """The node URLs of a broker address: one URL, or several separated by commas."""
    urls = [part.strip() for part in value.split(",") if part.strip()]
    if not urls:
        raise BrokerAddressError("no broker URL given")
    for url in urls:
        parsed = URL(url)
        if parsed.scheme not in SCHEMES or not parsed.host:
            raise BrokerAddressError(f"not an amqp:// or amqps:// URL with a host: {safe_url(url)}")
    return urls


def broker_user(url: str) -> str:
    """The broker user a connection to `url` authenticates as (AMQP's default when the URL names none)."""
    return URL(broker_urls(url)[0]).user or "guest"


def safe_url(url: str) -> str:
    """A URL (or a comma-separated list of them) for logs and messages: passwords replaced."""
    return ",".join(_without_password(part) for part in url.split(","))


def _without_password(url: str) -> str:
    parsed = URL(url.strip())
    return str(parsed.with_password("***")) if parsed.password else url


def node_of(url: URL) -> str:
    return f"{url.host}:{url.port}"


class FailoverConnection(RobustConnection):
    """aio-pika's robust connection, over a list of nodes. aio-pika reconnects to `self.url`, and calls
    `_on_connection_close` both when an open connection is lost and when an attempt fails, right before it
    schedules the next attempt: that is where the next node is chosen."""

    def __init__(self, urls: Sequence[str], start: int, service: str, **kwargs: Any) -> None:
        self._nodes = [URL(url) for url in urls]
        self._current = start % len(self._nodes)
        self._service = service
        for node in self._nodes:  # every node's series from 0, so the first move to a node counts as an increase
            BROKER_CONNECTS.labels(service, node_of(node))
        super().__init__(self._nodes[self._current], **kwargs)

    @property
    def node(self) -> str:
        """host:port of the node this connection uses (or tries next)."""
        return node_of(self.url)

    async def _on_connected(self) -> None:
        await super()._on_connected()
        BROKER_CONNECTS.labels(self._service, self.node).inc()
        log.info("broker_connected", node=self.node, attempt=self.connection_attempt)

    async def _on_connection_close(self, closing: asyncio.Future[Any]) -> None:
        if not (self.close_called or self.is_closed):
            failed, was_connected = self.node, self.connected.is_set()
            self._current = (self._current + 1) % len(self._nodes)
            self.url = self._nodes[self._current]
            event = "broker_connection_lost" if was_connected else "broker_connect_failed"
            log.warning(event, node=failed, next_node=self.node, error=_reason(closing))
        await super()._on_connection_close(closing)


async def connect(url: str, name: str, *, first: int | None = None) -> FailoverConnection:
    """A failover connection named `name` (the service), open on the first node that answers: each node of
    `url` is tried once, from node number `first` (random by default); fails only when none answers."""
    urls = broker_urls(url)
    if first is None:
        first = random.randrange(len(urls))  # noqa: S311 - spreading clients, not security
    error: BaseException | None = None
    for offset in range(len(urls)):
        connection = FailoverConnection(
            urls,
            first + offset,
            name,
            client_properties={"connection_name": name},
            reconnect_interval=RECONNECT_INTERVAL,
            fail_fast=True,
        )
        try:
            await connection.connect(timeout=CONNECT_TIMEOUT)
        except (*CONNECTION_EXCEPTIONS, TimeoutError) as exc:
            error = exc
            await connection.close()
            continue
        return connection
    assert error is not None
    raise error


async def check_broker(connection: AbstractRobustConnection) -> None:
    """Readiness: the connection is open right now (a robust connection reports closed while it reconnects)."""
    if connection.is_closed or not connection.connected.is_set():
        raise ConnectionError("broker connection is down")


def _reason(closing: asyncio.Future[Any]) -> str:
    if closing.cancelled():
        return "cancelled"
    exc = closing.exception()
    return f"{type(exc).__name__}: {exc}"[:300] if exc is not None else "closed"

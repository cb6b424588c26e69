"""The one way events leave a process: persistent, confirmed, mandatory, with a timeout.

A confirm alone does not mean "queued": the channel is opened with `on_return_raises`, so an unroutable
message raises. Publishing while the broker is unreachable would otherwise hang, hence the timeout."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aio_pika
import aiormq
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractRobustConnection,
    HeadersType,
)
from pamqp.commands import Basic

from contracts.envelope import CONTENT_TYPE, Envelope, amqp_headers, encode
from contracts.registry import EVENT_TYPES
from contracts.topology import EVENTS_EXCHANGE
from servicekit import tracing
from servicekit.metrics import MESSAGES_PUBLISHED

log = structlog.get_logger(__name__)

# aiormq's channel can skip waiting for the frame to be written before waiting for its confirm (one future less per
# publish); the confirm is awaited anyway. Not part of aiormq's abstract interface, hence the check.
_NO_WRITE_WAIT: dict[str, Any] = (
    {"wait": False} if "wait" in inspect.signature(aiormq.Channel.basic_publish).parameters else {}
)


class PublishError(Exception):
    """The broker did not confirm the message as routed (nack, return, timeout or connection loss)."""


def build_message(body: bytes, event_id: str, event_type: str, headers: Mapping[str, Any]) -> aio_pika.Message:
    hdrs: HeadersType = dict(headers)
    return aio_pika.Message(
        body,
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event_id,
        type=event_type,
        correlation_id=str(headers.get("ce-correlationid", "")) or None,
        timestamp=datetime.now(UTC),
        headers=hdrs,
    )


def copy_message(message: AbstractIncomingMessage, headers: HeadersType) -> aio_pika.Message:
    """A persistent copy of a received message with new headers (for retries, parking and redrives)."""
    return aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        correlation_id=message.correlation_id,
        timestamp=message.timestamp,
    )


class Publisher:
    def __init__(self, connection: AbstractRobustConnection, service: str, *, timeout: float = 10.0) -> None:
        self._connection = connection
        self._service = service
        self._timeout = timeout
        self._channel: AbstractChannel | None = None

    async def start(self) -> None:
        self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    async def publish(self, envelope: Envelope[Any]) -> None:
        envelope = tracing.stamp(envelope)
        await self.publish_raw(encode(envelope), str(envelope.id), envelope.type, amqp_headers(envelope))

    async def publish_raw(self, body: bytes, event_id: str, event_type: str, headers: Mapping[str, Any]) -> None:
        """Publish an already-encoded event to the events exchange (used by the outbox relay)."""
        if event_type not in EVENT_TYPES:
            raise PublishError(f"refusing to publish {event_type!r}: not a type of the contract")
        await self.send_to(EVENTS_EXCHANGE, event_type, build_message(body, event_id, event_type, headers))
        MESSAGES_PUBLISHED.labels(self._service, event_type).inc()

    async def send_to(self, exchange: str, routing_key: str, message: aio_pika.Message) -> None:
        """Publish to a named exchange ("" is the default exchange: direct to one queue)."""
        await self.send_properties(exchange, routing_key, message.body, message.properties)

    async def send_properties(
        self, exchange: str, routing_key: str, body: bytes, properties: aiormq.spec.Basic.Properties
    ) -> None:
        """`send_to` with the AMQP properties already built, for bulk copies (a replay) that would otherwise
        build an aio_pika.Message only to have it turned into these. Published on aiormq's channel under the
        robust one: the same confirms and returns (`on_return_raises`), bounded by aiormq's own
        asyncio.timeout rather than asyncio.wait_for, which would run every publish in a task of its own."""
        try:
            channel = await self._underlay_channel()
            confirmation = await channel.basic_publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                properties=properties,
                mandatory=True,
                timeout=self._timeout,
                **_NO_WRITE_WAIT,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise PublishError(f"publish of {routing_key} failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(confirmation, Basic.Ack):
            raise PublishError(f"publish of {routing_key} was not confirmed: {confirmation!r}")

    async def _underlay_channel(self) -> aiormq.abc.AbstractChannel:
        """The open aiormq channel. While the connection is moving to another node this waits for it, within the
        publish timeout: a publish fails rather than hangs when no node answers."""
        assert self._channel is not None, "Publisher.start() was not awaited"
        if self._connection.connected.is_set():
            return await self._channel.get_underlay_channel()
        async with asyncio.timeout(self._timeout):
            return await self._channel.get_underlay_channel()

"""Idempotent declaration of the whole topology (contracts.topology). Every service declares all of it at
start-up, so an event is never unroutable because its consumer has not started yet."""

from __future__ import annotations

import aiormq
import structlog
from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractConnection

from contracts.registry import EVENT_TYPES
from contracts.topology import (
    ARCHIVE_MAX_AGE,
    ARCHIVE_STREAM,
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    QUEUES,
    REVOCATION_TYPES,
    REVOCATIONS_MAX_AGE,
    REVOCATIONS_STREAM,
    QueueSpec,
)

log = structlog.get_logger(__name__)

_QUORUM = {"x-queue-type": "quorum"}


async def declare_topology(connection: AbstractConnection) -> None:
    async with connection.channel() as channel:
        events = await channel.declare_exchange(EVENTS_EXCHANGE, ExchangeType.TOPIC, durable=True)
        await channel.declare_exchange(DEAD_LETTER_EXCHANGE, ExchangeType.TOPIC, durable=True)
        # The archive binds each known type rather than '#', so a type outside the contract stays unroutable
        # and the publisher's `mandatory` flag still catches it.
        archive = await channel.declare_queue(
            ARCHIVE_STREAM,
            durable=True,
            arguments={"x-queue-type": "stream", "x-max-age": ARCHIVE_MAX_AGE},
        )
        for event_type in EVENT_TYPES:
            await archive.bind(events, routing_key=event_type)
        revocations = await channel.declare_queue(
            REVOCATIONS_STREAM,
            durable=True,
            arguments={"x-queue-type": "stream", "x-max-age": REVOCATIONS_MAX_AGE},
        )
        for event_type in REVOCATION_TYPES:
            await revocations.bind(events, routing_key=event_type)
        for spec in QUEUES.values():
            await declare_queue(channel, spec)


async def declare_queue(channel: AbstractChannel, spec: QueueSpec) -> None:
    """A consumer queue with its bindings, its retry tiers and its parking queue."""
    queue = await channel.declare_queue(
        spec.name,
        durable=True,
        arguments={
            **_QUORUM,
            "x-delivery-limit": spec.delivery_limit,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": spec.name,
            **spec.extra_args,  # type: ignore[dict-item]
        },
    )
    for key in spec.binds:
        await queue.bind(EVENTS_EXCHANGE, routing_key=key)
    for key in spec.dead_letter_binds:
        await queue.bind(DEAD_LETTER_EXCHANGE, routing_key=key)
    parking = await channel.declare_queue(spec.parking_queue, durable=True, arguments=dict(_QUORUM))
    await parking.bind(DEAD_LETTER_EXCHANGE, routing_key=spec.name)
    # Retries come back through the dead-letter exchange under a key of their own.
    await queue.bind(DEAD_LETTER_EXCHANGE, routing_key=return_key(spec))
    for tier, delay_ms in enumerate(spec.retry_delays_ms):
        await _declare_retry_queue(channel, spec, tier, delay_ms)


def return_key(spec: QueueSpec) -> str:
    return f"{spec.name}.return"


async def _declare_retry_queue(channel: AbstractChannel, spec: QueueSpec, tier: int, delay_ms: int) -> None:
    """A message waits out its delay here, then expires back into the consumer queue. It comes in and goes back
    through the dead-letter exchange, where a service's broker user may publish only its own queues' keys: no
    service needs the default exchange, which would let it put anything into any queue (ops/bus/brokerusers.py)."""
    name = spec.retry_queue(tier)
    try:
        retry = await channel.declare_queue(
            name,
            durable=True,
            arguments={
                **_QUORUM,
                "x-message-ttl": delay_ms,
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": return_key(spec),
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
    except aiormq.exceptions.ChannelPreconditionFailed:
        # Declared by an earlier version (expiring through the default exchange): it still returns what it
        # holds to the consumer queue, so it is kept as it is rather than deleted with messages in it.
        log.warning("retry_queue_kept_as_declared_before", queue=name)
        await channel.reopen()
        retry = await channel.declare_queue(name, passive=True)
    await retry.bind(DEAD_LETTER_EXCHANGE, routing_key=name)

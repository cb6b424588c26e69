"""Parking queues (`<queue>.dlq`): reading them, explaining why each message is there, and moving messages back.

Reading without losing order: RabbitMQ 3.10 quorum queues put a requeued message at the TAIL, so peeking at the
head and requeueing it would rotate the queue. A scan therefore takes every message (basic.get, unacked, up to
the depth it had when the scan began) and returns the ones it keeps with a single nack(multiple, requeue),
which puts them back in their original relative order. Each scan adds one to their `x-delivery-count`; that is
harmless because parking queues have no delivery limit and no dead-letter exchange.

A message in `<queue>.dlq` died in `<queue>`: the parking queue is bound to the dead-letter exchange with that
queue's name only, both when the consumer wrapper parks it and when the broker dead-letters it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from contracts.topology import PARKING_SUFFIX, QUEUES
from ops.bus.filters import EventFacts, facts_of
from servicekit.bus.consumer import (
    ATTEMPT_HEADER,
    ERROR_HEADER,
    FAILED_QUEUE_HEADER,
    FIRST_ERROR_HEADER,
    PARK_REASON_HEADER,
)
from servicekit.bus.publisher import copy_message

REDRIVE_ID_HEADER = "redrive-id"
REDRIVE_COUNT_HEADER = "x-framepipe-redrives"
SCAN_LIMIT = 10_000
# The history of the last failure: a redriven message starts a fresh retry budget and a fresh story.
_FAILURE_HEADERS = (ATTEMPT_HEADER, ERROR_HEADER, FIRST_ERROR_HEADER, PARK_REASON_HEADER, FAILED_QUEUE_HEADER)
_BROKER_HEADERS = (
    *("x-death", "x-delivery-count"),
    *("x-first-death-reason", "x-first-death-queue", "x-first-death-exchange"),
    *("x-last-death-reason", "x-last-death-queue", "x-last-death-exchange"),
)


class UnknownQueue(ValueError):
    """Not a consumer queue of the topology."""


def origin_queue(name: str) -> str:
    """`processor.video-uploaded` or `processor.video-uploaded.dlq` → `processor.video-uploaded`."""
    base = name.removesuffix(PARKING_SUFFIX)
    if base not in QUEUES:
        raise UnknownQueue(f"unknown queue {name!r}; one of: {', '.join(QUEUES)}")
    return base


@dataclass(frozen=True)
class ParkedMessage:
    message: AbstractIncomingMessage
    facts: EventFacts
    reason: str
    count: int
    error: str | None
    first_error: str | None
    failed_queue: str | None

    def age(self, now: datetime | None = None) -> timedelta | None:
        born = self.message.timestamp or self.facts.time
        return None if born is None else (now or datetime.now(UTC)) - born


def _latest_death(headers: dict[str, Any]) -> dict[str, Any]:
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return deaths[0]  # the broker keeps the most recent death first
    return {}


def explain(message: AbstractIncomingMessage) -> ParkedMessage:
    """Why it is parked: the consumer wrapper's headers when it parked the message, else the broker's x-death."""
    headers = dict(message.headers)
    death = _latest_death(headers)
    parked_by_consumer = PARK_REASON_HEADER in headers
    reason = headers[PARK_REASON_HEADER] if parked_by_consumer else death.get("reason", "unknown")
    count = headers.get(ATTEMPT_HEADER) if parked_by_consumer else death.get("count", 0)
    error = headers.get(ERROR_HEADER)
    first_error = headers.get(FIRST_ERROR_HEADER)
    failed_queue = headers.get(FAILED_QUEUE_HEADER) or death.get("queue")
    return ParkedMessage(
        message=message,
        facts=facts_of(headers, message.body),
        reason=str(reason),
        count=int(str(count or 0)),
        error=None if error is None else str(error),
        first_error=None if first_error is None else str(first_error),
        failed_queue=None if failed_queue is None else str(failed_queue),
    )


async def depth(channel: AbstractChannel, queue: str) -> int:
    declared = await channel.declare_queue(queue, passive=True)
    return int(declared.declaration_result.message_count or 0)


@contextlib.asynccontextmanager
async def scan(
    connection: AbstractRobustConnection, parking_queue: str, limit: int = SCAN_LIMIT
) -> AsyncIterator[list[ParkedMessage]]:
    """The parked messages, head first, held unacked on a channel of their own. The caller may ack some
    (after copying them elsewhere); the rest go back in their order when the block ends."""
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(parking_queue, passive=True)
        expected = min(int(queue.declaration_result.message_count or 0), limit)
        held: list[ParkedMessage] = []
        while len(held) < expected:  # stop at the depth we saw: never chase messages parked during the scan
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            held.append(explain(message))
        yield held
        await _return_unsettled(held)
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


async def _return_unsettled(held: list[ParkedMessage]) -> None:
    kept = [parked.message for parked in held if not parked.message.processed]
    if kept:
        await kept[-1].nack(multiple=True, requeue=True)


def redrive_copy(parked: ParkedMessage, redrive_id: str) -> aio_pika.Message:
    message = parked.message
    headers = {
        key: value
        for key, value in message.headers.items()
        if key not in _FAILURE_HEADERS and key not in _BROKER_HEADERS
    }
    headers[REDRIVE_ID_HEADER] = redrive_id
    headers[REDRIVE_COUNT_HEADER] = int(str(message.headers.get(REDRIVE_COUNT_HEADER, 0))) + 1
    return copy_message(message, headers)

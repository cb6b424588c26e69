"""The batched consumer: the messages waiting on a queue handled together, in one call and one transaction.

For handlers whose cost is mostly round trips per message (notify_svc: BEGIN, the inbox claim, the recipient
lookup, the log row, the outbox row, COMMIT), handling what is waiting together makes those round trips per
batch. Each message still gets the Consumer's policy on its own (decision 0008):

- Two batches run at once (`slots`). A batch is what is waiting when a slot is free, up to `prefetch` messages:
  nothing waits for a batch to fill, so a lone message is handled at once; under load batches grow by
  themselves. The broker delivers one batch ahead, so the next is there when a slot frees.
- Malformed and unhandled messages are parked one by one before the batch starts.
- One transaction: the batch's inbox rows are claimed in one statement; redeliveries (and a second copy of an
  event in the same batch) are acked as duplicates without reaching the handler.
- The handler returns one result per item, None (done) or that item's exception. The inbox rows of failed
  items are released in the same transaction and the rest commit; then failed items are retried or parked,
  each by its own attempt count, and the rest are acked with one `multiple` ack that reaches only up to the
  lowest delivery tag not yet settled (the other slot's batch may hold lower tags: its own ack covers both).
  The handler's side of the contract: an item it reports as failed has written nothing through the shared
  connection.
- An exception out of the handler or the database rolls the whole batch back; every item is then retried.
- A message replayed with mode `reprocess` runs in a batch of its own: its inbox row updates an earlier one,
  which only a rollback can undo. These run first, each acked on its own."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from opentelemetry.trace import Span

from contracts.envelope import Envelope
from contracts.events import EventData
from contracts.topology import QueueSpec
from servicekit import inbox, tracing
from servicekit.bus.consumer import (
    DEFAULT_OPERATORS,
    REPLAY_ID_HEADER,
    Consumer,
    MessageContext,
    bind_log_context,
    reprocess_requested,
)
from servicekit.bus.publisher import Publisher
from servicekit.metrics import BATCH_SIZE, HANDLER_LATENCY

log = structlog.get_logger(__name__)

SLOTS = 2  # batches running at once: a slow batch (an SMTP timeout) does not stop the queue
BatchItem = tuple[Any, MessageContext]
BatchHandler = Callable[[Sequence[BatchItem]], Awaitable[Sequence[Exception | None]]]


@dataclass(frozen=True)
class Batched:
    """A queue's handlers that take batches: `{event type: batch handler}` (several types may share one)."""

    handlers: Mapping[str, BatchHandler]


@dataclass(frozen=True)
class _Item:
    message: AbstractIncomingMessage
    envelope: Envelope[EventData]
    attempt: int
    span: Span  # this message's own span in its producer's trace, ended when the batch is settled
    reprocess: bool  # an operator's replay, to be handled although the inbox has seen it

    def context(self, queue: str, conn: asyncpg.Connection) -> MessageContext:
        trace = tracing.in_span(self.span)
        redelivered = bool(self.message.redelivered)
        return MessageContext(self.envelope, queue, self.attempt, redelivered, conn, trace, self.reprocess)


class _Acks:
    """The delivery tags of the current channel that are not settled yet, to acknowledge handled messages with
    one `multiple` ack once every lower tag is settled (messages settled on their own, by a retry or parking,
    are acked on their own first; a multiple ack covers only what is still outstanding)."""

    def __init__(self) -> None:
        self._channel: object = None
        self._unsettled: set[int] = set()
        self._owed: dict[int, AbstractIncomingMessage] = {}

    def delivered(self, message: AbstractIncomingMessage) -> None:
        if message.channel is not self._channel:  # a new channel after a reconnection: a new tag sequence
            self._channel, self._unsettled, self._owed = message.channel, set(), {}
        self._unsettled.add(message.delivery_tag or 0)

    def settled(self, message: AbstractIncomingMessage) -> None:
        if message.channel is self._channel:
            self._unsettled.discard(message.delivery_tag or 0)

    def handled(self, message: AbstractIncomingMessage) -> None:
        if message.channel is self._channel:
            self._unsettled.discard(message.delivery_tag or 0)
            self._owed[message.delivery_tag or 0] = message

    def ready(self) -> AbstractIncomingMessage | None:
        """The message to ack with `multiple` now (the highest handled tag below every unsettled one), if any."""
        lowest = min(self._unsettled, default=None)
        due = [tag for tag in self._owed if lowest is None or tag < lowest]
        if not due:
            return None
        message = self._owed[max(due)]
        for tag in due:
            del self._owed[tag]
        return message


class BatchConsumer(Consumer):
    def __init__(
        self,
        connection: AbstractRobustConnection,
        spec: QueueSpec,
        handlers: Batched,
        publisher: Publisher,
        *,
        service: str,
        pool: asyncpg.Pool,
        prefetch: int = 10,
        slots: int = SLOTS,
        operators: frozenset[str] = DEFAULT_OPERATORS,
    ) -> None:
        # `prefetch` is the largest batch; `slots` batches run at once and one more is delivered ahead.
        super().__init__(
            connection,
            spec,
            {},
            publisher,
            service=service,
            pool=pool,
            prefetch=(slots + 1) * prefetch,
            operators=operators,
        )
        self._batch_handlers = dict(handlers.handlers)
        self._db = pool
        self._slots = slots
        self._max_batch = prefetch
        self._waiting: list[AbstractIncomingMessage] = []
        self._draining = 0
        self._stopping = False
        self._acks = _Acks()

    async def stop(self, grace: float = 10.0) -> None:
        """Waiting messages go back to the queue at once; running batches finish within `grace`."""
        self._stopping = True
        waiting, self._waiting = self._waiting, []
        for message in waiting:
            with contextlib.suppress(Exception):  # a closed channel returns them anyway
                await message.nack(requeue=True)
            self._acks.settled(message)
        await self._ack_due()
        await super().stop(grace)

    def handles(self, event_type: str) -> bool:
        return event_type in self._batch_handlers

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        if self._stopping:
            return
        self._acks.delivered(message)
        self._waiting.append(message)
        if self._draining < self._slots:
            self._draining += 1
            task = asyncio.create_task(self._drain())
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # deliveries read from the same socket chunk join this batch
            while self._waiting and not self._stopping:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                await self._process_batch(batch)
        finally:
            self._draining -= 1

    async def _process_batch(self, messages: list[AbstractIncomingMessage]) -> None:
        items: list[_Item] = []
        for message in messages:
            structlog.contextvars.clear_contextvars()
            decoded = await self.decode_delivery(message)
            if decoded is None:
                self._acks.settled(message)  # parked
            else:
                envelope, attempt = decoded
                span = tracing.start_consuming(envelope, self.spec.name)
                items.append(_Item(message, envelope, attempt, span, reprocess_requested(message, self._operators)))
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(queue=self.spec.name)
        for item in [i for i in items if i.reprocess]:
            await self._run_batch([item], reprocess=True)
        ordinary = [i for i in items if not i.reprocess]
        if ordinary:
            await self._run_batch(ordinary, reprocess=False)
        structlog.contextvars.clear_contextvars()
        await self._ack_due()

    async def _ack_due(self) -> None:
        due = self._acks.ready()
        if due is not None:
            await self.ack(due, multiple=True)

    async def _run_batch(self, items: list[_Item], *, reprocess: bool) -> None:
        BATCH_SIZE.labels(self._service, self.spec.name).observe(len(items))
        started = time.perf_counter()
        try:
            results = await self._handle(items, reprocess)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            results = [exc] * len(items)
        finally:
            elapsed = time.perf_counter() - started
            for item in items:
                HANDLER_LATENCY.labels(self._service, self.spec.name, item.envelope.type).observe(elapsed)
        handled: list[tuple[_Item, str]] = []
        for item, result in zip(items, results, strict=True):
            bind_log_context(item.envelope, self.spec.name)
            if isinstance(result, Exception):
                tracing.failed(item.span, result)
            item.span.end()
            if isinstance(result, Exception):
                await self.failed(item.message, result, item.envelope.type, item.attempt)
                self._acks.settled(item.message)
            elif reprocess:
                await self.settle(item.message, item.envelope.type, result)
                self._acks.settled(item.message)
            else:
                handled.append((item, result))
                self._acks.handled(item.message)
        for item, outcome in handled:
            bind_log_context(item.envelope, self.spec.name)
            self.count_settled(item.envelope.type, outcome)

    async def _handle(self, items: list[_Item], reprocess: bool) -> list[Exception | str]:
        """One transaction for the batch; returns per item "ack", "duplicate" or the item's exception."""
        results: list[Exception | str] = ["ack"] * len(items)
        async with self._db.acquire() as conn, conn.transaction():
            if reprocess:
                item = items[0]
                await inbox.claim_for_reprocess(conn, self.spec.name, item.envelope.id, item.envelope.type)
                log.info("message_reprocessed", replay_id=str(item.message.headers.get(REPLAY_ID_HEADER)))
                fresh = list(range(len(items)))
            else:
                fresh = await self._claim(conn, items, results)
            outcomes = await self._call_handlers(conn, [items[i] for i in fresh])
            failed: list[Exception] = []
            for index, outcome in zip(fresh, outcomes, strict=True):
                if outcome is not None:
                    results[index] = outcome
                    failed.append(outcome)
            if failed and reprocess:
                raise failed[0]  # the reprocess claim goes back with the rollback
            if failed:
                released = [items[i].envelope.id for i in fresh if isinstance(results[i], Exception)]
                await inbox.release_many(conn, self.spec.name, released)
        return results

    async def _claim(self, conn: asyncpg.Connection, items: list[_Item], results: list[Exception | str]) -> list[int]:
        """Claims the batch's inbox rows; marks duplicates in `results` and returns the indexes of the rest."""
        claimed = await inbox.claim_many(conn, self.spec.name, [(i.envelope.id, i.envelope.type) for i in items])
        fresh: list[int] = []
        for index, item in enumerate(items):
            if item.envelope.id in claimed:
                claimed.discard(item.envelope.id)  # a second copy in this batch is a duplicate
                fresh.append(index)
            else:
                results[index] = "duplicate"
        return fresh

    async def _call_handlers(self, conn: asyncpg.Connection, items: list[_Item]) -> list[Exception | None]:
        """Each handler once, with its items (types sharing a handler go together); results in item order."""
        groups: dict[int, list[int]] = {}
        for index, item in enumerate(items):
            groups.setdefault(id(self._batch_handlers[item.envelope.type]), []).append(index)
        outcomes: list[Exception | None] = [None] * len(items)
        for indexes in groups.values():
            handler = self._batch_handlers[items[indexes[0]].envelope.type]
            answers = await handler([(items[i].envelope.data, items[i].context(self.spec.name, conn)) for i in indexes])
            if len(answers) != len(indexes):
                raise RuntimeError(f"batch handler answered {len(answers)} results for {len(indexes)} items")
            for index, answer in zip(indexes, answers, strict=True):
                outcomes[index] = answer
        return outcomes

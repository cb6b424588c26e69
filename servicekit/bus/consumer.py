"""The consumer wrapper: the one place that decodes envelopes, deduplicates through the inbox, binds log
context, counts metrics and applies the ack / retry-with-backoff / dead-letter policy.

Policy, per message:
- malformed body, unknown type or a handler's PermanentError: parked at once in `<queue>.dlq`;
- any other exception: retried after the backoff of its tier (`<queue>.retry.<tier>`), then parked once
  `max_attempts` is reached; a message that keeps killing its consumer is dead-lettered by the broker after
  `x-delivery-limit` redeliveries;
- success: acked after the handler's transaction (inbox row included) committed.
Retries and parking are published with confirms before the original is acked, so nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection
from opentelemetry import context as otel_context
from opentelemetry.context import Context

from contracts.envelope import Envelope, MalformedEvent, decode, new_envelope
from contracts.events import EventData
from contracts.topology import DEAD_LETTER_EXCHANGE, QueueSpec
from servicekit import inbox, tracing
from servicekit.bus.publisher import Publisher, copy_message
from servicekit.metrics import HANDLER_LATENCY, MESSAGES_CONSUMED

log = structlog.get_logger(__name__)

ATTEMPT_HEADER = "x-framepipe-attempt"
ERROR_HEADER = "x-framepipe-error"
FIRST_ERROR_HEADER = "x-framepipe-first-error"
FAILED_QUEUE_HEADER = "x-framepipe-failed-queue"
PARK_REASON_HEADER = "x-framepipe-park-reason"
DELIVERY_COUNT = "x-delivery-count"
REPLAY_ID_HEADER = "replay-id"
REPLAY_MODE_HEADER = "replay-mode"
# The broker users whose replays may ask for `reprocess` (BUS_OPERATOR_USERS): the dev broker's only user.
DEFAULT_OPERATORS = frozenset({"guest"})


class PermanentError(Exception):
    """Retrying cannot help (the message is wrong for this consumer): park it at once."""


@dataclass(frozen=True)
class MessageContext:
    """What a handler knows about the message it handles. `conn` is the open transaction (inbox row
    included) for consumers with a database, None otherwise. `reprocess`: an operator replayed the event to be
    handled again even if it was handled before (a handler that skips work it finds done must not skip it)."""

    envelope: Envelope[EventData]
    queue: str
    attempt: int
    redelivered: bool
    conn: asyncpg.Connection | None
    trace: Context | None = None  # the span handling this message: events it causes continue its trace
    reprocess: bool = False

    @property
    def db(self) -> asyncpg.Connection:
        assert self.conn is not None, "this consumer has no database"
        return self.conn

    def follow_up(
        self, data: EventData, source: str, *, once_per_cause: bool = False, event_id: uuid.UUID | None = None
    ) -> Envelope[EventData]:
        """An event caused by this one: same correlation id, causation id = this event's id.

        `once_per_cause`: the event id is derived from this event's id and the new event's type (`once_id`), so
        handling this event again (a redelivery after a lost ack, a retry after a lost confirm) publishes the very
        same event, which every consumer's inbox then drops, instead of a second one. `event_id`: an id derived
        by the caller, from an earlier event of the chain."""
        if once_per_cause:
            event_id = once_id(self.envelope.id, data.event_type)
        envelope = new_envelope(
            data,
            source=source,
            correlation_id=self.envelope.correlationid,
            causation_id=str(self.envelope.id),
            event_id=event_id,
        )
        return tracing.stamp(envelope, self.trace)


def once_id(cause: uuid.UUID, name: str) -> uuid.UUID:
    """The id of the one event named `name` (its type, and what tells it from its siblings) that `cause` leads to."""
    return uuid.uuid5(cause, name)


Handler = Callable[[Any, MessageContext], Awaitable[None]]


class Consumer:
    """Consumes one queue: each delivery decoded, handled (through the inbox when the service has a database),
    then acknowledged, retried or parked.

    The steps of a delivery are the surface a subclass composes: `on_message` (the broker's callback) and `handles`
    (which types it takes) are what it may override; `decode_delivery`, `failed`, `settle`, `count_settled` and
    `ack` are what it calls. BatchConsumer gathers deliveries this way and handles them in one transaction."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        spec: QueueSpec,
        handlers: Mapping[str, Handler],
        publisher: Publisher,
        *,
        service: str,
        pool: asyncpg.Pool | None = None,
        prefetch: int = 10,
        operators: frozenset[str] = DEFAULT_OPERATORS,
    ) -> None:
        self._connection = connection
        self._operators = operators
        self.spec = spec
        self._handlers = dict(handlers)
        self._publisher = publisher
        self._service = service
        self._pool = pool
        self._prefetch = prefetch
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def start(self) -> None:
        self._channel = await self._connection.channel()
        await self._channel.set_qos(prefetch_count=self._prefetch)
        # Declared (passively) rather than fetched: a robust channel restores consumers only on queues it declared.
        self._queue = await self._channel.declare_queue(self.spec.name, passive=True)
        self._tag = await self._queue.consume(self.on_message)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking messages, let running handlers finish within `grace`, then cancel the rest (their
        messages are not acked, so the broker redelivers them)."""
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._queue.cancel(self._tag), 5)
        if self._in_flight:
            _, pending = await asyncio.wait(set(self._in_flight), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._channel.close(), 5)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        # aiormq cancels delivery callbacks when their channel closes. A consumer with an inbox must not be cut
        # off half-way (an e-mail sent, its transaction rolled back, then sent again on redelivery): its
        # handler runs in a task of our own and finishes, and the redelivery is dropped by the inbox. A
        # consumer without one (a stateless job) is better stopped: its redelivery starts it again cleanly.
        task = asyncio.create_task(self._process(message))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        await (asyncio.shield(task) if self._pool is not None else task)

    async def _process(self, message: AbstractIncomingMessage) -> None:
        structlog.contextvars.clear_contextvars()
        decoded = await self.decode_delivery(message)
        if decoded is None:
            return
        envelope, attempt = decoded
        handler = self._handlers[envelope.type]
        started = time.perf_counter()
        with tracing.consuming(envelope, self.spec.name) as span:
            try:
                outcome = await self._run(handler, envelope, message, attempt)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                tracing.failed(span, exc)
                await self.failed(message, exc, envelope.type, attempt)
                return
            finally:
                elapsed = time.perf_counter() - started
                HANDLER_LATENCY.labels(self._service, self.spec.name, envelope.type).observe(elapsed)
            await self.settle(message, envelope.type, outcome)

    async def decode_delivery(self, message: AbstractIncomingMessage) -> tuple[Envelope[EventData], int] | None:
        """The message's envelope and attempt number, with its log context bound; None when it was parked
        instead (malformed, or a type this consumer has no handler for)."""
        # Handler starts so far: retries carry our attempt header; crashes and lost connections show up in
        # the broker's delivery count (quorum queues) of the same message.
        attempt = (
            _int_header(message.headers.get(ATTEMPT_HEADER)) + _int_header(message.headers.get(DELIVERY_COUNT)) + 1
        )
        try:
            envelope = decode(message.body)
        except MalformedEvent as exc:
            log.error("message_malformed", queue=self.spec.name, error=str(exc)[:500])
            await self._park(message, "malformed", str(exc), "unknown", attempt)
            return None
        bind_log_context(envelope, self.spec.name)
        if not self.handles(envelope.type):
            await self._park(message, "unhandled_type", f"no handler for {envelope.type}", envelope.type, attempt)
            return None
        return envelope, attempt

    def handles(self, event_type: str) -> bool:
        return event_type in self._handlers

    async def failed(self, message: AbstractIncomingMessage, exc: Exception, event_type: str, attempt: int) -> None:
        """A handler failed on this message: park it (PermanentError) or retry it."""
        if isinstance(exc, PermanentError):
            log.error("handler_permanent_error", error=str(exc)[:500], attempt=attempt)
            await self._park(message, "permanent_error", str(exc), event_type, attempt)
        else:
            await self._retry_or_park(message, exc, event_type, attempt)

    async def _run(
        self, handler: Handler, envelope: Envelope[EventData], message: AbstractIncomingMessage, attempt: int
    ) -> str:
        reprocess = reprocess_requested(message, self._operators)
        current = otel_context.get_current()
        if self._pool is None:
            context = MessageContext(
                envelope, self.spec.name, attempt, bool(message.redelivered), None, current, reprocess
            )
            await handler(envelope.data, context)
            return "ack"
        async with self._pool.acquire() as conn, conn.transaction():
            if reprocess:
                await inbox.claim_for_reprocess(conn, self.spec.name, envelope.id, envelope.type)
                log.info("message_reprocessed", replay_id=str(message.headers.get(REPLAY_ID_HEADER)))
            elif not await inbox.claim(conn, self.spec.name, envelope.id, envelope.type):
                return "duplicate"
            context = MessageContext(
                envelope, self.spec.name, attempt, bool(message.redelivered), conn, current, reprocess
            )
            await handler(envelope.data, context)
        return "ack"

    async def settle(self, message: AbstractIncomingMessage, event_type: str, outcome: str) -> None:
        await self.ack(message)
        self.count_settled(event_type, outcome)

    def count_settled(self, event_type: str, outcome: str) -> None:
        """The metric and log line of a handled message (its log context is bound)."""
        MESSAGES_CONSUMED.labels(self._service, self.spec.name, event_type, outcome).inc()
        log.info("message_handled", outcome=outcome)

    async def _retry_or_park(
        self, message: AbstractIncomingMessage, exc: Exception, event_type: str, attempt: int
    ) -> None:
        error = f"{type(exc).__name__}: {exc}"[:1000]
        if attempt >= self.spec.max_attempts:
            log.error("handler_retries_exhausted", error=error, attempt=attempt)
            await self._park(message, "retries_exhausted", error, event_type, attempt)
            return
        tier = self.spec.retry_tier(attempt)
        log.warning(
            "handler_failed_will_retry",
            error=error,
            attempt=attempt,
            delay_ms=self.spec.retry_delays_ms[tier],
        )
        headers = {**message.headers, ATTEMPT_HEADER: attempt, ERROR_HEADER: error}
        headers.setdefault(FIRST_ERROR_HEADER, error)
        if await self._republish(message, DEAD_LETTER_EXCHANGE, self.spec.retry_queue(tier), headers):
            MESSAGES_CONSUMED.labels(self._service, self.spec.name, event_type, "retry").inc()

    async def _park(
        self, message: AbstractIncomingMessage, reason: str, error: str, event_type: str, attempt: int
    ) -> None:
        headers = {
            **message.headers,
            ATTEMPT_HEADER: attempt,
            ERROR_HEADER: error[:1000],
            PARK_REASON_HEADER: reason,
            FAILED_QUEUE_HEADER: self.spec.name,
        }
        headers.setdefault(FIRST_ERROR_HEADER, error[:1000])
        if await self._republish(message, DEAD_LETTER_EXCHANGE, self.spec.name, headers):
            MESSAGES_CONSUMED.labels(self._service, self.spec.name, event_type, "parked").inc()

    async def _republish(
        self, message: AbstractIncomingMessage, exchange: str, routing_key: str, headers: dict[str, Any]
    ) -> bool:
        """Copy the message elsewhere with confirms, then ack the original. If the copy fails the original is
        requeued, so the message is never lost (at worst it is handled again, and the inbox drops it)."""
        copy = copy_message(message, headers)
        try:
            await self._publisher.send_to(exchange, routing_key, copy)
        except Exception as exc:
            log.warning("republish_failed", target=routing_key, error=f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(Exception):
                await asyncio.sleep(1)
                await message.nack(requeue=True)
            return False
        await self.ack(message)
        return True

    async def ack(self, message: AbstractIncomingMessage, *, multiple: bool = False) -> None:
        try:
            await message.ack(multiple=multiple)
        except Exception as exc:  # channel lost: the broker redelivers and the inbox drops the duplicate
            log.warning("ack_failed", error=f"{type(exc).__name__}: {exc}")


def bind_log_context(envelope: Envelope[EventData], queue: str) -> None:
    """The message's identity on every log line written while it is handled."""
    structlog.contextvars.bind_contextvars(
        event_id=str(envelope.id),
        event_type=envelope.type,
        correlation_id=envelope.correlationid,
        subject=envelope.subject,
        queue=queue,
    )


def reprocess_requested(message: AbstractIncomingMessage, operators: frozenset[str]) -> bool:
    """An operator replayed this message to be handled again although the inbox has seen it. Only an operator
    may: the message's `user_id` property, which the broker checks against the publishing connection's own
    user, must be one of `operators`. A reprocess header from anyone else is ignored (the inbox applies)."""
    if message.headers.get(REPLAY_MODE_HEADER) != "reprocess" or REPLAY_ID_HEADER not in message.headers:
        return False
    if message.user_id in operators:
        return True
    log.warning("reprocess_refused", user_id=str(message.user_id)[:100], queue=message.routing_key)
    return False


def _int_header(value: object) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0

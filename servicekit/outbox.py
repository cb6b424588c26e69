"""The transactional outbox: events are written in the caller's transaction and published by a relay.

The relay claims unsent rows with `FOR UPDATE SKIP LOCKED` (several relays never publish the same row at
once, and a row committed late is never skipped, unlike an "id > last sent" cursor), publishes them with
confirms, and marks them sent in the same transaction only after the broker confirmed. A relay that dies
between confirm and mark publishes the row again; consumers' inboxes drop the duplicate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog

from contracts.envelope import Envelope, amqp_headers, encode
from servicekit import inbox, tracing
from servicekit.bus.publisher import Publisher, PublishError
from servicekit.cancellation import wait_at_most
from servicekit.metrics import OUTBOX_OLDEST_AGE, OUTBOX_PENDING
from servicekit.pglisten import wake_on_notify

log = structlog.get_logger(__name__)


async def enqueue(conn: asyncpg.Connection, envelope: Envelope[Any]) -> None:
    """Add an event to the outbox inside the caller's transaction."""
    await enqueue_many(conn, [envelope])


async def enqueue_many(conn: asyncpg.Connection, envelopes: Sequence[Envelope[Any]]) -> None:
    """Add several events to the outbox in one round trip, in this order, each carrying the trace it was made in."""
    envelopes = [tracing.stamp(e) for e in envelopes]
    await conn.execute(
        "INSERT INTO outbox (event_id, event_type, body, headers) "
        "SELECT e.id, e.type, e.body, e.headers "
        "FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::jsonb[]) "
        "WITH ORDINALITY AS e(id, type, body, headers, n) "
        "ORDER BY e.n",
        [e.id for e in envelopes],
        [e.type for e in envelopes],
        [encode(e) for e in envelopes],
        [json.dumps(amqp_headers(e)) for e in envelopes],
    )


async def claim_outbox_batch(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, event_id, event_type, body, headers FROM outbox WHERE sent_at IS NULL "
        "ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )
    return rows


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher,
        *,
        dsn: str,
        schema: str,
        service: str,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        retention_hours: float = 72,
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._dsn = dsn
        self._channel = f"{schema}_outbox"
        self._service = service
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._retention_hours = retention_hours
        self._wake = asyncio.Event()
        self._last_housekeeping = 0.0

    async def run(self) -> None:
        """Publish until cancelled. Survives broker and database outages, and any error: it backs off and retries."""
        listener = asyncio.create_task(self._listen())
        try:
            backoff = 0.1
            while True:
                try:
                    published = await self.publish_pending()
                    await self._housekeeping()
                    backoff = 0.1
                except Exception as exc:
                    # Whatever the database, its driver or the broker throws, the relay lives on: a relay that died
                    # would leave every committed event unpublished, silently. (A PostgreSQL restart in the middle of
                    # a query made asyncpg raise InternalClientError, which is none of its usual exception types.)
                    log.warning("outbox_relay_error", error=f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if published < self._batch_size:
                    await wait_at_most(self._wake, self._poll_interval)
                    self._wake.clear()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many rows were published and marked."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await claim_outbox_batch(conn, self._batch_size)
            if not rows:
                return 0
            results = await asyncio.gather(
                *(
                    self._publisher.publish_raw(
                        r["body"], str(r["event_id"]), r["event_type"], json.loads(r["headers"])
                    )
                    for r in rows
                ),
                return_exceptions=True,
            )
            for res in results:
                if isinstance(res, BaseException) and not isinstance(res, PublishError):
                    raise res  # not a broker refusal: roll back, nothing is marked
            sent = [r["id"] for r, res in zip(rows, results, strict=True) if res is None]
            failed = [(r["id"], repr(res)[:500]) for r, res in zip(rows, results, strict=True) if res is not None]
            if sent:
                await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", sent)
            if failed:
                await conn.executemany(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1", failed
                )
                log.warning("outbox_publish_failed", count=len(failed), first_error=failed[0][1])
        if failed:
            await asyncio.sleep(0.5)  # the broker is struggling; do not spin on the same rows
        return len(sent)

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_housekeeping < 5:
            return
        self._last_housekeeping = now
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age "
                "FROM outbox WHERE sent_at IS NULL"
            )
            OUTBOX_PENDING.labels(self._service).set(row["n"])
            OUTBOX_OLDEST_AGE.labels(self._service).set(float(row["age"] or 0))
            await conn.execute(
                "DELETE FROM outbox WHERE sent_at < now() - make_interval(hours => $1)", self._retention_hours
            )
            await inbox.prune(conn)

    async def _listen(self) -> None:
        """The relay also polls, so a lost notification only costs latency, never an event."""
        await wake_on_notify(self._dsn, self._channel, self._wake)

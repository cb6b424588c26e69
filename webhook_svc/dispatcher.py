"""The delivery loop: claims due deliveries from the database, posts them concurrently, and records the results
in batches. Several replicas share the work: a claim locks rows with SKIP LOCKED and leases them for the length
of an attempt, so a replica that dies mid-attempt only delays its deliveries until the lease ends.

- At most `concurrency` attempts run at once, and at most `per_endpoint` for one endpoint, so a slow or hanging
  endpoint cannot take every slot from the others. Up to as many again are claimed ahead, so a freed slot starts
  the next attempt at once instead of after a round trip to the database.
- The loop wakes on commit of new deliveries (LISTEN/NOTIFY), when enough slots free up, and every second for
  retries that came due.
- Results are written by one recorder, as many as have finished at once in one transaction; if that fails the
  leases run out and the deliveries are attempted again (receivers deduplicate on `webhook-id`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass

import asyncpg
import structlog
from prometheus_client import Counter as Metric

from servicekit.cancellation import wait_at_most
from servicekit.pglisten import wake_on_notify
from webhook_svc import service, store
from webhook_svc.sender import AttemptResult, Sender
from webhook_svc.signing import webhook_headers

log = structlog.get_logger(__name__)

DELIVERY_ATTEMPTS = Metric("webhook_delivery_attempts_total", "Webhook delivery attempts by result", ["result"])
_DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
RECORD_GATHER_SECONDS = 0.01


@dataclass(frozen=True)
class DispatchConfig:
    concurrency: int
    per_endpoint: int
    schedule: tuple[float, ...]
    disable_after_seconds: float
    lease_seconds: float
    retention_days: float
    poll_seconds: float = 1.0


class Dispatcher:
    def __init__(self, pool: asyncpg.Pool, sender: Sender, config: DispatchConfig, *, dsn: str, schema: str) -> None:
        self._pool = pool
        self._sender = sender
        self._config = config
        self._dsn = dsn
        self._channel = f"{schema}_deliveries"
        self._wake = asyncio.Event()
        self._running: dict[asyncio.Task[None], uuid.UUID] = {}
        self._ready: deque[store.Claimed] = deque()  # claimed, waiting for a free slot
        self._held: Counter[uuid.UUID] = Counter()  # per endpoint: running + ready
        self._running_to: Counter[uuid.UUID] = Counter()  # per endpoint: running
        self._finished: list[tuple[store.Claimed, AttemptResult]] = []
        self._recorded = asyncio.Event()
        self._last_prune = 0.0

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def run(self) -> None:
        """Deliver until cancelled; database outages back off and retry."""
        listener = asyncio.create_task(wake_on_notify(self._dsn, self._channel, self._wake))
        recorder = asyncio.create_task(self._record_forever())
        try:
            await self._claim_forever()
        finally:
            for task in (listener, recorder, *self._running):
                task.cancel()
            await asyncio.gather(listener, recorder, *self._running, return_exceptions=True)

    def _room(self) -> int:
        """How many more deliveries to claim: enough to keep every slot busy for one more round."""
        return 2 * self._config.concurrency - len(self._running) - len(self._ready)

    async def _claim_forever(self) -> None:
        backoff = 0.1
        while True:
            if self._room() > 0:
                try:
                    await self._claim(self._room())
                    await self._housekeeping()
                    backoff = 0.1
                except _DB_ERRORS as exc:
                    log.warning("webhook_claim_error", error=f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
            self._start_ready()
            await wait_at_most(self._wake, self._config.poll_seconds)
            self._wake.clear()

    async def _claim(self, room: int) -> None:
        # An endpoint may have twice its share claimed here (running or waiting), so one busy endpoint cannot
        # fill the buffer; past that its deliveries are left for later (or for another replica).
        full = [endpoint for endpoint, held in self._held.items() if held >= 2 * self._config.per_endpoint]
        async with self._pool.acquire() as conn:
            claimed = await store.claim_due(conn, room, full, self._config.lease_seconds)
        for delivery in claimed:
            self._held[delivery.endpoint_id] += 1
            self._ready.append(delivery)

    def _start_ready(self) -> None:
        """Start claimed deliveries while slots are free, skipping endpoints at their limit."""
        waiting: deque[store.Claimed] = deque()
        while self._ready and len(self._running) < self._config.concurrency:
            delivery = self._ready.popleft()
            if self._running_to[delivery.endpoint_id] >= self._config.per_endpoint:
                waiting.append(delivery)
                continue
            self._running_to[delivery.endpoint_id] += 1
            task = asyncio.create_task(self._attempt(delivery))
            self._running[task] = delivery.endpoint_id
            task.add_done_callback(self._done)
        self._ready.extendleft(reversed(waiting))

    async def _attempt(self, delivery: store.Claimed) -> None:
        headers = webhook_headers(delivery.secrets, str(delivery.event_id), delivery.body)
        result = await self._sender.post(delivery.url, delivery.body, headers)
        DELIVERY_ATTEMPTS.labels("succeeded" if result.succeeded else "failed").inc()
        self._finished.append((delivery, result))
        self._recorded.set()

    def _done(self, task: asyncio.Task[None]) -> None:
        endpoint = self._running.pop(task, None)
        if endpoint is not None:
            for counts in (self._held, self._running_to):
                counts[endpoint] -= 1
                if counts[endpoint] <= 0:
                    del counts[endpoint]
        if self._ready:
            self._start_ready()  # the next one goes out now, without waiting for the database
        # Claim again once half the buffer is free: one query for many deliveries, not one per attempt.
        if self._room() >= self._config.concurrency or not self._running:
            self._wake.set()

    async def _record_forever(self) -> None:
        while True:
            await self._recorded.wait()
            # Results that finish together are written together: a short wait (it delays only the log, never a
            # delivery) turns many one-row statements into one, which the database pays for per statement.
            await asyncio.sleep(RECORD_GATHER_SECONDS)
            self._recorded.clear()
            batch, self._finished = self._finished, []
            if not batch:
                continue
            try:
                await service.record_attempts(
                    self._pool, batch, self._config.schedule, self._config.disable_after_seconds
                )
            except _DB_ERRORS as exc:
                # Their leases run out and they are attempted again; receivers drop the copies by webhook-id.
                log.warning("webhook_record_error", count=len(batch), error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.5)
            self._wake.set()

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_prune >= 3600:
            self._last_prune = now
            await service.prune(self._pool, self._config.retention_days)

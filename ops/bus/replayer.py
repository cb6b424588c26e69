"""Executing a replay: archived events that match the job are copied to its target with publisher confirms,
paced by the token bucket, a window of publishes in flight, every confirm recorded in the state file.

Replayed copies keep the event id and body and carry `replay-id`, `replay-reason` and `replay-mode`. An event
seen twice in the archive (an outbox republish after a crash sits close to the first copy) is sent once; copies
that earlier replays sent to the events exchange are skipped unless the job asks for them."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import aio_pika
import aiormq
from aio_pika.abc import AbstractRobustConnection

from contracts.envelope import CONTENT_TYPE
from ops.bus.archive import ArchivedEvent, read_archive
from ops.bus.pacing import Progress, TokenBucket
from ops.bus.replaystate import ReplayJob, ResumePoint, StateFile
from ops.bus.selection import IDLE_TIMEOUT, start_of
from servicekit.bus import Publisher, PublishError
from servicekit.bus.consumer import REPLAY_ID_HEADER, REPLAY_MODE_HEADER

REPLAY_REASON_HEADER = "replay-reason"
WINDOW = 128  # publishes awaiting their confirm
CHECKPOINT_EVERY = 500
RECENT_IDS = 10_000
PUBLISH_TIMEOUT = 30.0
PERSISTENT = aio_pika.DeliveryMode.PERSISTENT.value


class ReplayFailed(RuntimeError):
    """A publish was not confirmed; what was confirmed is in the state file and the job can be resumed."""


@dataclass
class ReplayCounts:
    matched: int = 0
    sent: int = 0
    skipped_sent_before: int = 0
    skipped_duplicates: int = 0
    skipped_replayed_copies: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class RecentIds:
    """The last `size` event ids seen: bounded memory however long the archive is."""

    def __init__(self, size: int = RECENT_IDS) -> None:
        self._size = size
        self._order: deque[str] = deque()
        self._ids: set[str] = set()

    def seen_before(self, event_id: str) -> bool:
        if event_id in self._ids:
            return True
        self._ids.add(event_id)
        self._order.append(event_id)
        if len(self._order) > self._size:
            self._ids.discard(self._order.popleft())
        return False


def replay_properties(event: ArchivedEvent, job: ReplayJob, user_id: str) -> aiormq.spec.Basic.Properties:
    """The AMQP properties of a replayed copy (built directly: this runs once per replayed event). `user_id` is
    the connection's own broker user: the broker refuses any other, so a consumer can trust it to be an
    operator's when it honours `replay-mode: reprocess`."""
    # Broker-set headers (x-stream-offset, x-death, …) describe the archived copy, not the event.
    headers = {key: value for key, value in event.headers.items() if not key.startswith("x-")}
    headers[REPLAY_ID_HEADER] = job.replay_id
    headers[REPLAY_REASON_HEADER] = job.reason
    headers[REPLAY_MODE_HEADER] = job.mode
    return aiormq.spec.Basic.Properties(
        headers=headers,
        content_type=event.content_type or CONTENT_TYPE,
        delivery_mode=PERSISTENT,
        message_id=event.facts.event_id,
        message_type=event.facts.event_type,
        correlation_id=event.facts.correlation_id or None,
        timestamp=datetime.now(UTC),
        user_id=user_id,
    )


class Replayer:
    def __init__(
        self,
        connection: AbstractRobustConnection,
        job: ReplayJob,
        state: StateFile,
        resume: ResumePoint | None = None,
        progress: Progress | None = None,
        *,
        user_id: str,
    ) -> None:
        self._connection = connection
        self._user_id = user_id
        self._job = job
        self._state = state
        self._resume = resume
        self._progress = progress
        self.counts = ReplayCounts()
        self._recent = RecentIds()
        self._window = asyncio.Semaphore(WINDOW)
        self._pending: set[int] = set()  # archive offsets sent but not yet confirmed
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_done = resume.checkpoint if resume and resume.checkpoint is not None else -1
        self._first_offset: int | None = None
        self._failure: Exception | None = None

    async def run(self) -> ReplayCounts:
        if self._job.end_offset is None:  # the archive was empty when the job was planned
            return self.counts
        publisher = Publisher(self._connection, "framepipe-ops", timeout=PUBLISH_TIMEOUT)
        await publisher.start()
        try:
            await self._send_all(publisher)
        finally:
            # Also on interruption: wait for the confirms in flight so the state file knows what was sent.
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=PUBLISH_TIMEOUT + 5)
            self._write_checkpoint()
            self._show_progress(final=True)
            with contextlib.suppress(Exception):
                await publisher.close()
        if self._failure is not None:
            raise ReplayFailed(str(self._failure))
        return self.counts

    def _start(self) -> int | str | datetime:
        if self._resume is not None and self._resume.checkpoint is not None:
            return self._resume.checkpoint + 1
        return start_of(self._job.event_filter)

    async def _send_all(self, publisher: Publisher) -> None:
        bucket = TokenBucket(self._job.rate) if self._job.rate else None
        reader = read_archive(
            self._connection, self._start(), end_offset=self._job.end_offset, idle_timeout=IDLE_TIMEOUT
        )
        async with contextlib.aclosing(reader) as archived:
            async for event in archived:
                if self._failure is not None:
                    return
                if self._first_offset is None:
                    self._first_offset = event.offset
                if self._wanted(event):
                    if bucket is not None:
                        await bucket.take()
                    await self._window.acquire()
                    self._pending.add(event.offset)
                    task = asyncio.create_task(self._send(publisher, event))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                # Only now is this offset dispatched or skipped: an interruption before it must not pass it.
                self._last_done = event.offset
                self._show_progress()

    def _wanted(self, event: ArchivedEvent) -> bool:
        if not self._job.event_filter.matches(event.facts):
            return False
        self.counts.matched += 1
        if event.replay_id is not None and not self._job.include_replayed:
            self.counts.skipped_replayed_copies += 1
            return False
        event_id = event.facts.event_id
        if self._resume is not None and event_id in self._resume.sent_after:
            self.counts.skipped_sent_before += 1
            return False
        if self._recent.seen_before(event_id):
            self.counts.skipped_duplicates += 1
            return False
        return True

    async def _send(self, publisher: Publisher, event: ArchivedEvent) -> None:
        target = self._job.target
        try:
            await publisher.send_properties(
                target.exchange,
                target.routing_key(event.facts.event_type),
                event.body,
                replay_properties(event, self._job, self._user_id),
            )
        except PublishError as exc:
            # The offset stays pending, so no checkpoint passes it and a resume sends it again.
            self._failure = self._failure or exc
            return
        finally:
            self._window.release()
        self._pending.discard(event.offset)
        self._state.sent(event.facts.event_id)
        self.counts.sent += 1
        if self.counts.sent % CHECKPOINT_EVERY == 0:
            self._write_checkpoint()

    def _write_checkpoint(self) -> None:
        """Every matching event at or below the checkpoint offset was confirmed (or deliberately skipped)."""
        done = min(self._pending) - 1 if self._pending else self._last_done
        if done >= 0:
            self._state.checkpoint(done)

    def _show_progress(self, final: bool = False) -> None:
        if self._progress is None:
            return
        fraction = None
        end = self._job.end_offset
        if end is not None and self._first_offset is not None and end > self._first_offset:
            fraction = (self._last_done - self._first_offset) / (end - self._first_offset)
        skipped = self.counts.skipped_sent_before + self.counts.skipped_duplicates
        self._progress.update(self.counts.sent, skipped + self.counts.skipped_replayed_copies, fraction, final=final)

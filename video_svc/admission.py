"""Who may upload now, decided before a byte of the body is read: uploads running at once (per user and per replica,
counted in memory: each holds up to three 8 MiB parts), and the user's quotas (uploads per hour, bytes per day,
videos still processing: counted in the database, deleted videos included, so deleting does not reset them)."""

from __future__ import annotations

import contextlib
import math
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg

from video_svc import store

BUSY_RETRY_SECONDS = 5
IN_FLIGHT_RETRY_SECONDS = 30


class TooManyUploads(Exception):
    """Too many uploads are running: the user's own (`scope` user) or the replica's (`scope` service)."""

    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(f"{scope}: {limit} uploads at once")
        self.scope, self.limit, self.retry_after = scope, limit, BUSY_RETRY_SECONDS


class QuotaExceeded(Exception):
    """A quota of the user's is used up until `retry_after` seconds from now."""

    def __init__(self, quota: str, limit: int, retry_after: int) -> None:
        super().__init__(f"{quota}: {limit}")
        self.quota, self.limit, self.retry_after = quota, limit, max(1, retry_after)


class UploadSlots:
    def __init__(self, per_user: int, total: int) -> None:
        self._per_user, self._total = per_user, total
        self._running: Counter[uuid.UUID] = Counter()

    @contextlib.contextmanager
    def hold(self, owner_id: uuid.UUID) -> Iterator[None]:
        if sum(self._running.values()) >= self._total:
            raise TooManyUploads("service", self._total)
        if self._running[owner_id] >= self._per_user:
            raise TooManyUploads("user", self._per_user)
        self._running[owner_id] += 1
        try:
            yield
        finally:
            self._running[owner_id] -= 1
            if not self._running[owner_id]:
                del self._running[owner_id]


@dataclass(frozen=True)
class Quotas:
    uploads_per_hour: int
    bytes_per_day: int
    videos_in_flight: int


@dataclass(frozen=True)
class Budget:
    bytes_left: int  # what the user may still upload today
    spent: QuotaExceeded  # the answer when an upload goes past it


async def todays_budget(conn: asyncpg.Connection, owner_id: uuid.UUID, quotas: Quotas) -> Budget:
    """Refuses (QuotaExceeded) when a quota is used up; otherwise what the user may still upload today."""
    usage = await store.upload_usage(conn, owner_id, quotas.uploads_per_hour)
    if usage.in_flight >= quotas.videos_in_flight:
        raise QuotaExceeded("videos_in_flight", quotas.videos_in_flight, IN_FLIGHT_RETRY_SECONDS)
    if usage.hour_frees_at is not None:  # the limit-th upload of the last hour is still inside it
        raise QuotaExceeded("uploads_per_hour", quotas.uploads_per_hour, math.ceil(usage.hour_frees_at))
    spent = QuotaExceeded("bytes_per_day", quotas.bytes_per_day, math.ceil(usage.day_frees_at or 86400))
    left = quotas.bytes_per_day - usage.bytes_today
    if left <= 0:
        raise spent
    return Budget(left, spent)

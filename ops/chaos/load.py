"""What runs during a chaos run besides the faults: users uploading at a steady rate (each upload timed), probes that
publish with confirms through every node (the failover clock), and a watch on the outboxes' oldest unsent event."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import structlog

from ops.client.api import Api, ApiError, BaseUrls
from servicekit.bus import Publisher
from servicekit.bus.connection import FailoverConnection, broker_urls, connect
from servicekit.bus.publisher import build_message

log = structlog.get_logger(__name__)

PROBE_QUEUE = "chaos.probe"
OUTBOX_SCHEMAS = ("auth", "video", "notify")


@dataclass
class Upload:
    started: float
    ended: float = 0.0
    status: int = 0  # HTTP status; 0 = no answer
    video_id: str | None = None
    user: int = 0

    @property
    def accepted(self) -> bool:
        return self.status == 202 and self.video_id is not None


@dataclass(frozen=True)
class Clips:
    steady: Path  # what users upload all along (a second of video: a job of a fraction of a second)
    long: Path  # a job long enough to be caught in the middle (tens of seconds of video, see `LONG_INTERVAL`)


LONG_INTERVAL = 0.1  # frames of the long clip every 0.1 s: ffmpeg works for seconds


class UploadLoad:
    """`users` users uploading the steady clip one upload every `every` seconds in turn (an open loop: an upload
    that hangs does not hold the next one back)."""

    def __init__(self, urls: BaseUrls, clips: Clips, *, every: float, users: int = 4) -> None:
        self.urls = urls
        self.clips = clips
        self.every = every
        self.users = users
        self.uploads: list[Upload] = []
        self.apis: list[Api] = []
        self._running: set[asyncio.Task[None]] = set()

    async def sign_up(self, http: aiohttp.ClientSession) -> None:
        for index in range(self.users):
            email, password = f"chaos-{index}-{uuid.uuid4().hex[:8]}@example.com", f"pw-{uuid.uuid4().hex}"
            anonymous = Api(http, self.urls, None)
            await anonymous.register(email, password)
            token = (await anonymous.login(email, password))["access_token"]
            self.apis.append(Api(http, self.urls, token))

    async def run(self, until: asyncio.Event) -> None:
        """Start an upload every `every` seconds until `until` is set; then wait for those still running."""
        index = 0
        next_at = time.monotonic()
        while not until.is_set():
            self._start(self._upload(index % len(self.apis), self.clips.steady, 1))
            index += 1
            next_at += self.every
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), max(0.0, next_at - time.monotonic()))
        if self._running:
            await asyncio.wait(set(self._running), timeout=180)

    def upload_long(self) -> None:
        """One upload of the long clip, counted with the others."""
        self._start(self._upload(0, self.clips.long, LONG_INTERVAL))

    def _start(self, upload: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(upload)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _upload(self, user: int, clip: Path, interval: float) -> None:
        record = Upload(started=time.monotonic(), user=user)
        self.uploads.append(record)
        try:
            answer = await self.apis[user].upload(clip, {"interval_seconds": str(interval)}, lambda _: None)
            record.status, record.video_id = 202, answer["items"][0]["id"]
        except ApiError as exc:
            record.status = exc.status
        except (aiohttp.ClientError, TimeoutError, KeyError, IndexError) as exc:
            log.warning("chaos_upload_failed", error=f"{type(exc).__name__}: {exc}")
        record.ended = time.monotonic()


@dataclass
class Probe:
    connection: FailoverConnection
    publisher: Publisher
    confirmed: list[tuple[float, float]] = field(default_factory=list)  # (publish started, confirmed)


class FailoverProbes:
    """One confirmed publisher per node, each starting on a different node (so one is always on the node a fault
    hits), publishing to a quorum queue every `interval` seconds: the clock of the broker's failover."""

    def __init__(self, url: str, *, interval: float = 0.1) -> None:
        self.url = url
        self.interval = interval
        self.probes: list[Probe] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, leader: int) -> None:
        """`leader`: the index of the node leading the services' queues; the probe queue is led from there too."""
        count = len(broker_urls(self.url))
        for offset in range(count):
            connection = await connect(self.url, f"chaos-probe-{offset}", first=(leader + offset) % count)
            publisher = Publisher(connection, "chaos-probe", timeout=5)
            await publisher.start()
            self.probes.append(Probe(connection, publisher))
        channel = await self.probes[0].connection.channel()
        await channel.declare_queue(
            PROBE_QUEUE,
            durable=True,
            arguments={"x-queue-type": "quorum", "x-max-length": 1000, "x-overflow": "drop-head"},
        )
        await channel.close()
        self._tasks = [asyncio.create_task(self._publish(probe)) for probe in self.probes]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for probe in self.probes:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(probe.connection.close(), 5)

    def longest_silence(self, start: float, end: float) -> float | None:
        """The failover time of a fault that hit the broker at `start` (and whose effects end by `end`): the longest
        time any probe went without a confirmed publish, counted from its last confirm before `start` to the next
        one; None if a probe had no publish confirmed after `start` by `end`."""
        worst = 0.0
        for probe in self.probes:
            confirms = [confirmed for _, confirmed in probe.confirmed]
            after = [c for c in confirms if start < c <= end]
            if not after:
                return None
            before = max((c for c in confirms if c <= start), default=start)
            points = [before, *after]
            worst = max(worst, *(b - a for a, b in itertools.pairwise(points)))
        return worst

    async def _publish(self, probe: Probe) -> None:
        number = 0
        while True:
            started = time.monotonic()
            number += 1
            with contextlib.suppress(Exception):
                message = build_message(b"probe", f"probe-{number}", "chaos.probe", {})
                await probe.publisher.send_to("", PROBE_QUEUE, message)
                probe.confirmed.append((started, time.monotonic()))
            await asyncio.sleep(self.interval)


class OutboxWatch:
    """The age of the oldest unpublished outbox row over every service's outbox, sampled every `interval` seconds
    (samples are skipped while the database is down)."""

    def __init__(self, database_url: str, *, interval: float = 1.0) -> None:
        self.database_url = database_url
        self.interval = interval
        self.max_lag = 0.0
        self.samples = 0

    async def run(self) -> None:
        query = " UNION ALL ".join(
            f"SELECT extract(epoch FROM now() - min(created_at)) FROM {schema}.outbox WHERE sent_at IS NULL"
            for schema in OUTBOX_SCHEMAS
        )
        conn: asyncpg.Connection | None = None
        while True:
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(self.database_url, timeout=5)
                ages = [row[0] for row in await conn.fetch(query, timeout=5)]
                self.max_lag = max([self.max_lag, *(float(a) for a in ages if a is not None)])
                self.samples += 1
            except asyncio.CancelledError:
                if conn is not None:
                    conn.terminate()
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                conn = None
            await asyncio.sleep(self.interval)

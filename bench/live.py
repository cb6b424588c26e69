"""Live updates benchmark: how fast a status change reaches the browsers' event streams, and what idle streams cost.

Latency: STREAMS users (default 200) each hold one event stream (`GET /video/events`) on one video_svc and own one
video. CHANGES processing-progress events (default 600) are published on the bus, RATE per second, each for a
random user's video, and timed from the publish (the change as the processor announces it) to:
  - baseline: its NOTIFY on a bare asyncpg LISTEN connection to the same database (the consumer, the commit and
    PostgreSQL's notification, without the fan-out to streams), and
  - its arrival, as a `video` event, on the owner's event stream.
Targets: stream p50 < 300 ms, p99 < 1 s. Printed ratio: stream p50 / NOTIFY p50 (what the fan-out adds).

Memory: IDLE users (default 1,000) each hold one idle stream; video_svc's RSS growth against a bare aiohttp server
holding as many idle `text/event-stream` responses, measured in the same run with the same client.
Target: video_svc's growth < 100 MiB.

video_svc runs as deployed (`python -m video_svc`), the bare server in its own process, the clients in this one.
Run: .venv/bin/python bench/live.py [--streams 200] [--changes 600] [--rate 20] [--idle 1000]"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._infra import percentile, rss_mib, served
from bench.upload import Service, create_bucket, video_service
from contracts import VideoProcessingProgressV1, new_envelope
from ops.dev.localinfra import LocalS3, free_port
from servicekit.bus import Publisher, connect


async def seed(dsn: str, owners: list[uuid.UUID]) -> list[uuid.UUID]:
    """One video in processing per owner, straight into video_svc's table."""
    videos = [uuid.uuid4() for _ in owners]
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "video"})
    await conn.executemany(
        "INSERT INTO videos (id, owner_id, filename, content_type, size_bytes, source_key, source_sha256, "
        "interval_seconds, image_format, status, progress) VALUES ($1, $2, 'clip.mp4', 'video/mp4', 1000, "
        "'sources/x', $3, 1.0, 'png', 'processing', 0)",
        [(video, owner, "0" * 64) for video, owner in zip(videos, owners, strict=True)],
    )
    await conn.close()
    return videos


class Streams:
    """Event streams held open by this process; `arrivals` maps (video id, progress) to when it arrived."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url
        self.ready = 0
        self.arrivals: dict[tuple[str, float], float] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def open(self, token: str) -> None:
        self.tasks.append(asyncio.create_task(self._follow(token)))

    async def _follow(self, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.get(self.url, headers=headers) as response:
            assert response.status == 200, response.status
            event = ""
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "ready":
                    self.ready += 1
                elif line.startswith("data: ") and event == "video":
                    video = json.loads(line[6:])
                    self.arrivals.setdefault((video["id"], round(video["progress"], 6)), time.perf_counter())

    async def all_ready(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.ready < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.ready} of {count} streams became ready")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def notifications(dsn: str) -> AsyncIterator[dict[str, list[float]]]:
    """Arrival times of the `video.videos` notifications, per video id, on a bare LISTEN connection."""
    arrived: dict[str, list[float]] = defaultdict(list)
    conn = await asyncpg.connect(dsn)

    def on_notify(_c: object, _p: int, _ch: str, payload: str) -> None:
        arrived[payload.split(" ")[1]].append(time.perf_counter())

    await conn.add_listener("video.videos", on_notify)
    try:
        yield arrived
    finally:
        await conn.close()


async def latency(service: Service, args: argparse.Namespace) -> tuple[list[float], list[float]]:
    owners = [uuid.uuid4() for _ in range(args.streams)]
    videos = await seed(service.dsn, owners)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session, notifications(service.dsn) as notified:
        streams = Streams(session, f"{service.base}/video/events")
        for owner in owners:
            streams.open(service.signer.sign(owner, f"{owner.hex[:8]}@example.com"))
        await streams.all_ready(len(owners))
        connection = await connect(service.amqp_url, "bench-live")
        publisher = Publisher(connection, "bench-live")
        await publisher.start()
        published: list[tuple[str, float, float]] = []  # video, progress, when
        per_video: dict[str, list[float]] = defaultdict(list)
        for k in range(1, args.changes + 1):
            i = random.randrange(len(owners))
            progress = round(k / (args.changes + 1), 6)  # always higher: every event is a real change
            data = VideoProcessingProgressV1(video_id=videos[i], owner_id=owners[i], progress=progress, frames_done=k)
            started = time.perf_counter()
            await publisher.publish(new_envelope(data, source="framepipe/processor_svc"))
            published.append((str(videos[i]), progress, started))
            per_video[str(videos[i])].append(started)
            await asyncio.sleep(max(0.0, started + 1 / args.rate - time.perf_counter()))
        deadline = time.monotonic() + 30
        while len(streams.arrivals) < len(published) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await publisher.close()
        await connection.close()
        await streams.close()
    stream_ms = [(streams.arrivals[(v, p)] - t) * 1000 for v, p, t in published if (v, p) in streams.arrivals]
    notify_ms = [
        (arrival - sent) * 1000
        for video, sent_times in per_video.items()
        for sent, arrival in zip(sent_times, notified[video], strict=False)
    ]
    missing = len(published) - len(stream_ms)
    if missing:
        print(f"  WARNING: {missing} of {len(published)} changes never reached their stream")
    return stream_ms, notify_ms


async def idle_growth(base: str, pid: int, tokens: list[str]) -> float:
    """RSS growth of the server at `pid` while len(tokens) idle event streams are open on it."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        before = rss_mib(pid)
        streams = Streams(session, f"{base}/video/events")
        for token in tokens:
            streams.open(token)
        await streams.all_ready(len(tokens))
        await asyncio.sleep(2)
        after = rss_mib(pid)
        await streams.close()
    return after - before


def bare_app() -> web.Application:
    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):  # the client leaves
            await response.write(b'retry: 2000\n\nid: 1\nevent: ready\ndata: {"since": 1}\n\n')
            while True:
                await asyncio.sleep(15)
                await response.write(b": keep-alive\n\n")
        return response

    app = web.Application()
    app.router.add_get("/video/events", events)
    app.router.add_get("/readyz", lambda _: web.Response(text="ok"))  # type: ignore[arg-type,return-value]
    return app


async def run(args: argparse.Namespace) -> None:
    with LocalS3() as s3_server:
        await create_bucket(s3_server.endpoint_url)
        async with video_service(s3_server.endpoint_url) as service:
            # warm up: the first requests load and cache what every later one uses
            tokens = [service.signer.sign(uuid.uuid4(), "idle@example.com") for _ in range(args.idle)]
            await idle_growth(service.base, service.pid, tokens[:20])
            growth = await idle_growth(service.base, service.pid, tokens)
            port = free_port()
            argv = [sys.executable, __file__, "--serve-bare", str(port)]
            async with served(argv, {}, f"http://127.0.0.1:{port}/readyz") as bare_pid:
                bare_base = f"http://127.0.0.1:{port}"
                await idle_growth(bare_base, bare_pid, [""] * 20)
                bare_growth = await idle_growth(bare_base, bare_pid, [""] * args.idle)
            stream_ms, notify_ms = await latency(service, args)
    print(f"status change -> event stream, {args.streams} streams open, {len(stream_ms)} changes at {args.rate}/s:")
    for name, values in (
        ("NOTIFY on a bare LISTEN (baseline)", notify_ms),
        ("video_svc event stream           ", stream_ms),
    ):
        print(
            f"  {name}: p50 {percentile(values, 50):6.1f} ms  p95 {percentile(values, 95):6.1f} ms  "
            f"p99 {percentile(values, 99):6.1f} ms"
        )
    print(f"  ratio stream p50 / NOTIFY p50:      {percentile(stream_ms, 50) / percentile(notify_ms, 50):6.2f}")
    p50, p99 = percentile(stream_ms, 50), percentile(stream_ms, 99)
    print(f"  stream p50 {p50:.0f} ms (target < 300), p99 {p99:.0f} ms (target < 1000)")
    print(f"{args.idle} idle event streams, RSS growth:")
    print(f"  bare aiohttp text/event-stream server: {bare_growth:6.1f} MiB")
    print(f"  video_svc:                              {growth:6.1f} MiB (target < 100)")
    print(f"  ratio video_svc / bare:                 {growth / max(bare_growth, 0.1):6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--changes", type=int, default=600)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        web.run_app(bare_app(), host="127.0.0.1", port=args.serve_bare, access_log=None, print=None)
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

"""video_svc listing benchmark: `GET /video` for a user with 1,000 videos under 50 concurrent clients, against a
bare aiohttp handler running the same query (video_svc.store.list_videos) and rendering on the same database
with the same pool size, measured in the same run.

Targets: throughput video_svc / bare >= 0.60, and video_svc p99 latency < 100 ms.

video_svc runs as deployed (`python -m video_svc`, token verification and every shared middleware), the bare
server in its own process; the load comes from this process over keep-alive connections with a minimal
HTTP/1.1 client. Logging is at `warning` for both. Rounds alternate the two servers.

Run: .venv/bin/python bench/list.py [--videos 1000] [--clients 50] [--seconds 8] [--rounds 2]"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._infra import percentile
from bench.upload import ROOT, create_bucket, video_service
from contracts import VideoStatus
from ops.dev.localinfra import LocalS3, free_port
from servicekit.db import create_pool
from video_svc import store
from video_svc.views import render_video

POOL_MAX = 10  # DB_POOL_MAX's default, for both servers


def bare_app(dsn: str, owner: uuid.UUID) -> web.Application:
    pool_key = web.AppKey("pool", asyncpg.Pool)

    async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
        app[pool_key] = await create_pool(dsn, "video", min_size=1, max_size=POOL_MAX)
        yield
        await app[pool_key].close()

    async def listing(request: web.Request) -> web.Response:
        async with request.app[pool_key].acquire() as conn:
            rows = await store.list_videos(conn, owner, limit=21)
        return web.json_response({"items": [render_video(r) for r in rows[:20]], "next_cursor": None})

    app = web.Application()
    app.cleanup_ctx.append(pool_ctx)
    app.router.add_get("/video", listing)
    return app


async def seed(dsn: str, owner: uuid.UUID, count: int) -> None:
    """`count` videos in every status, straight into video_svc's table (uploading them is not what is measured)."""
    statuses = tuple(VideoStatus)
    rows = [
        (
            uuid.uuid4(),
            owner,
            f"clip-{i}.mp4",
            "video/mp4",
            1000 + i,
            f"sources/{owner}/{i}",
            "0" * 64,
            1.0,
            "png",
            statuses[i % 4],
            0.5,
        )
        for i in range(count)
    ]
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "video"})
    await conn.executemany(
        "INSERT INTO videos (id, owner_id, filename, content_type, size_bytes, source_key, source_sha256, "
        "interval_seconds, image_format, status, progress) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        rows,
    )
    await conn.execute("ANALYZE videos")
    await conn.close()


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return int(head[9:12])


async def load(port: int, headers: dict[str, str], clients: int, seconds: float) -> tuple[float, list[float]]:
    """(requests per second, latencies in ms) of `clients` keep-alive clients for `seconds`, after 1 s warm-up."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    raw = f"GET /video HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()
    latencies: list[float] = []
    counting = False
    loop = asyncio.get_running_loop()

    async def client(stop_at: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while loop.time() < stop_at:
                started = time.perf_counter()
                status = await _request(reader, writer, raw)
                if status != 200:
                    raise RuntimeError(f"GET /video answered {status}")
                if counting:
                    latencies.append((time.perf_counter() - started) * 1000)
        finally:
            writer.close()

    tasks = [asyncio.create_task(client(loop.time() + 1 + seconds)) for _ in range(clients)]
    await asyncio.sleep(1)
    counting, measured_from = True, time.perf_counter()
    await asyncio.gather(*tasks)
    return len(latencies) / (time.perf_counter() - measured_from), latencies


@contextlib.asynccontextmanager
async def bare_server(dsn: str, owner: uuid.UUID) -> AsyncIterator[int]:
    port = free_port()
    argv = [sys.executable, __file__, "--serve-bare", str(port), "--dsn", dsn, "--owner", str(owner)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{port}/video") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def run(args: argparse.Namespace) -> None:
    with LocalS3() as s3_server:
        await create_bucket(s3_server.endpoint_url)
        async with video_service(s3_server.endpoint_url) as service:
            await seed(service.dsn, service.owner_id, args.videos)
            port = int(service.base.rsplit(":", 1)[1])
            auth = {"Authorization": f"Bearer {service.token}"}
            svc_rates, bare_rates, svc_lat, bare_lat = [], [], [], []
            async with bare_server(service.dsn, service.owner_id) as bare_port:
                for _ in range(args.rounds):
                    rate, lat = await load(bare_port, {}, args.clients, args.seconds)
                    bare_rates.append(rate)
                    bare_lat += lat
                    rate, lat = await load(port, auth, args.clients, args.seconds)
                    svc_rates.append(rate)
                    svc_lat += lat
    bare, svc = statistics.mean(bare_rates), statistics.mean(svc_rates)
    print(
        f"GET /video (first page of 20 of {args.videos}), {args.clients} clients, {args.rounds} x {args.seconds:.0f} s:"
    )
    for name, rate, rates, lat in (
        ("bare aiohttp + same query", bare, bare_rates, bare_lat),
        ("video_svc GET /video      ", svc, svc_rates, svc_lat),
    ):
        print(
            f"  {name}: {rate:7.0f} req/s {[round(r) for r in rates]}  "
            f"p50 {percentile(lat, 50):6.1f} ms  p99 {percentile(lat, 99):6.1f} ms"
        )
    print(f"  ratio video_svc / bare:     {svc / bare:7.2f}   (target >= 0.60)")
    print(f"  video_svc p99:              {percentile(svc_lat, 99):7.1f} ms (target < 100 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--owner", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        web.run_app(
            bare_app(args.dsn, uuid.UUID(args.owner)),
            host="127.0.0.1",
            port=args.serve_bare,
            access_log=None,
            print=None,
        )
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

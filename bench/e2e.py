"""End-to-end benchmark of the running system, started exactly as `framepipe dev` starts it (own database, vhost,
bucket, free ports).

1. Pipeline overhead at low load: 5 s videos uploaded one at a time; for each, the time from the 202 to the
   moment GET /video/{id} first says `done`, minus the processor's own ffmpeg time for that job. The ffmpeg time
   is the delta of the processor's `processor_ffmpeg_duration_seconds_sum{tool="ffmpeg"}` across the job (one
   job at a time, so the delta is exactly that job's); `processing_seconds` of the processed event is not used
   because it also counts the download, ffprobe and ZIP upload, which are overhead the user waits for.
   The baseline is the ffmpeg time itself: the ratio says how much the pipeline adds to the work.
2. Burst throughput: N uploads (default 100) of 1 s videos from 10 concurrent clients, videos per minute from the
   first upload to the last `done`, with 1 processor and then 2, side by side.

    .venv/bin/python bench/e2e.py [--samples 10] [--burst 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ops.client.api import Api, BaseUrls  # noqa: E402
from ops.dev.env import DEFAULTS, Ports, admin_database_url  # noqa: E402
from ops.dev.localinfra import free_port  # noqa: E402
from ops.dev.stack import DevConfig, DevStack  # noqa: E402
from tests.support.broker import add_vhost, drop_vhost  # noqa: E402
from tests.support.database import drop_database  # noqa: E402
from tests.support.videos import make_video  # noqa: E402

FFMPEG_SUM = re.compile(r'^processor_ffmpeg_duration_seconds_sum\{tool="ffmpeg"\} (\S+)$', re.MULTILINE)
FFPROBE_SUM = re.compile(r'^processor_ffmpeg_duration_seconds_sum\{tool="ffprobe"\} (\S+)$', re.MULTILINE)
JOB_SUM = re.compile(r"^processor_job_duration_seconds_sum (\S+)$", re.MULTILINE)
RUN = uuid.uuid4().hex[:8]


async def user(http: aiohttp.ClientSession, urls: BaseUrls) -> Api:
    email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench password 1"
    anonymous = Api(http, urls, None)
    await anonymous.register(email, password)
    return Api(http, urls, (await anonymous.login(email, password))["access_token"])


async def processor_seconds(http: aiohttp.ClientSession, stack: DevStack) -> tuple[float, float, float]:
    """(ffmpeg seconds, ffprobe seconds, whole-job seconds) so far, summed over the processors' metrics."""
    ffmpeg = ffprobe = job = 0.0
    for worker in stack.processors:
        async with http.get(f"{stack.url(worker.name)}/metrics") as response:
            text = await response.text()
        ffmpeg += sum(float(v) for v in FFMPEG_SUM.findall(text))
        ffprobe += sum(float(v) for v in FFPROBE_SUM.findall(text))
        job += sum(float(v) for v in JOB_SUM.findall(text))
    return ffmpeg, ffprobe, job


async def until_done(api: Api, video_id: str, poll: float = 0.01) -> str:
    while (status := (await api.video(video_id))["status"]) not in ("done", "failed"):
        await asyncio.sleep(poll)
    return status


async def overhead(stack: DevStack, http: aiohttp.ClientSession, api: Api, clip: Path, samples: int) -> None:
    overheads, ffmpeg_times, probe_times, in_processor = [], [], [], []
    for index in range(samples + 1):
        ffmpeg_before, probe_before, job_before = await processor_seconds(http, stack)
        accepted = await api.upload(clip, {}, lambda _: None)
        started = time.perf_counter()
        assert await until_done(api, accepted["items"][0]["id"]) == "done"
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.2)  # the job's histogram is observed just after its outcome is confirmed
        ffmpeg_after, probe_after, job_after = await processor_seconds(http, stack)
        if index:  # the first job warms the processor up (imports, connections)
            overheads.append(elapsed - (ffmpeg_after - ffmpeg_before))
            ffmpeg_times.append(ffmpeg_after - ffmpeg_before)
            probe_times.append(probe_after - probe_before)
            in_processor.append((job_after - job_before) - (ffmpeg_after - ffmpeg_before))
    p50, p95 = percentile(overheads, 50), percentile(overheads, 95)
    ffmpeg_p50 = percentile(ffmpeg_times, 50)
    print(f"pipeline overhead, {samples} x 5 s videos (640x360, 1 frame/s, PNG), one at a time:")
    print(f"  202 -> done minus ffmpeg: p50 {p50 * 1000:.0f} ms   p95 {p95 * 1000:.0f} ms   (target p50 < 500 ms, "
          f"p95 < 1500 ms: {'met' if p50 < 0.5 and p95 < 1.5 else 'NOT met'})")  # fmt: skip
    ratio = p50 / ffmpeg_p50
    inside = percentile(in_processor, 50)
    outside = p50 - inside
    print(f"  of which in the processor's job but not ffmpeg (download, ffprobe, ZIP upload, events): "
          f"p50 {inside * 1000:.0f} ms; ffprobe alone: p50 {percentile(probe_times, 50) * 1000:.0f} ms")  # fmt: skip
    print(f"  outside the job (outbox, broker, consumers, polling): ~{outside * 1000:.0f} ms")
    print(f"  baseline, ffmpeg itself: p50 {ffmpeg_p50 * 1000:.0f} ms   overhead/ffmpeg ratio (p50) {ratio:.2f}")
    no_tools = [o - p for o, p in zip(overheads, probe_times, strict=True)]
    print(f"  202 -> done minus ffmpeg and ffprobe: p50 {percentile(no_tools, 50) * 1000:.0f} ms   "
          f"p95 {percentile(no_tools, 95) * 1000:.0f} ms")  # fmt: skip


async def burst(stack: DevStack, http: aiohttp.ClientSession, urls: BaseUrls, clip: Path, total: int) -> float:
    clients = await asyncio.gather(*(user(http, urls) for _ in range(10)))
    each = [total // 10 + (1 if i < total % 10 else 0) for i in range(10)]
    started = time.perf_counter()

    async def client_run(api: Api, count: int) -> list[str]:
        one_per_second = {"interval_seconds": "1"}
        ids = [(await api.upload(clip, one_per_second, lambda _: None))["items"][0]["id"] for _ in range(count)]
        for video_id in ids:
            assert await until_done(api, video_id, poll=0.2) == "done"
        return ids

    done = await asyncio.gather(*(client_run(api, n) for api, n in zip(clients, each, strict=True)))
    elapsed = time.perf_counter() - started
    assert sum(len(ids) for ids in done) == total
    return total / elapsed * 60


def percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))] if ordered else float("nan")


@contextlib.asynccontextmanager
async def running_stack(processors: int = 1, **extra: str) -> AsyncIterator[tuple[DevStack, BaseUrls, Path]]:
    """The whole system as `framepipe dev --processors N` runs it, on a database, vhost and bucket of its own that
    are removed afterwards; yields the stack, its URLs and a scratch directory."""
    vhost, database = f"fp_bench_{RUN}", f"fp_bench_{RUN}"
    add_vhost(vhost)
    settings = {**os.environ, **DEFAULTS}
    settings.update(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{database}",
        AMQP_URL=f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        SMTP_PORT=str(free_port()),
        S3_BUCKET=f"fp-bench-{RUN}",
        LOG_LEVEL="warning",
        **extra,
    )
    settings.pop("S3_ENDPOINT_URL", None)
    with tempfile.TemporaryDirectory(prefix="framepipe-bench-") as tmp:
        work = Path(tmp)
        config = DevConfig(
            settings=settings,
            root=ROOT,
            var_dir=work,
            processors=processors,
            ports=Ports(base=None),
            output=None,
            save_mail=False,
        )
        stack = DevStack(config)
        try:
            await stack.start()
            yield stack, BaseUrls(stack.url("auth"), stack.url("video"), stack.url("notify")), work
        finally:
            await stack.stop()
            await drop_database(*admin_database_url(settings["DATABASE_URL"]))
            drop_vhost(vhost)


async def main(samples: int, total: int) -> None:
    async with running_stack() as (stack, urls, work), aiohttp.ClientSession() as http:
        api = await user(http, urls)
        await overhead(stack, http, api, make_video(work / "five.mp4", 5, size="640x360", rate=25), samples)
        tiny = make_video(work / "tiny.mp4", 1, size="160x120", rate=25)
        one = await burst(stack, http, urls, tiny, total)
        await stack.add_processor()
        two = await burst(stack, http, urls, tiny, total)
    print(f"burst of {total} uploads from 10 clients (1 s videos, 1 frame/s):")
    print(f"  1 processor: {one:6.1f} videos/min   2 processors: {two:6.1f} videos/min   ratio {two / one:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10, help="5 s videos for the overhead percentiles")
    parser.add_argument("--burst", type=int, default=100, help="uploads per burst")
    options = parser.parse_args()
    asyncio.run(main(options.samples, options.burst))

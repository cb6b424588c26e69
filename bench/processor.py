"""processor_svc against ffmpeg itself, on the same input files, in one run.

Job time (download + probe + extract + ZIP + upload, from publishing `video.uploaded.v1` to receiving
`video.processed.v1`, with the worker as a real process and S3 in its own process) divided by:
- raw `ffmpeg -i in -vf fps=1 out/%06d.png` (and .jpg) to a local directory — target ≤ 1.15;
- the decode-only floor `ffmpeg -i in -map 0:v:0 -f null -` — aim under 1.3;
and, at interval 20 s on a video with 2 s keyframe spacing, the job against a single-pass ffmpeg (≤ 0.5: every sample
is a keyframe), and at interval 5 s (samples between keyframes; ≤ 0.6: segments skip the video no sample needs).
Peak RSS of the worker process (VmHWM) for a short and a 5x longer video (< 300 MiB, not growing).

    .venv/bin/python bench/processor.py            # --quick: 30 s 1080p; RSS on 480p 30 s vs 150 s (~3 min)
    .venv/bin/python bench/processor.py --full     # 120 s 1080p; RSS on 1080p 120 s vs 600 s

--breakdown: what a user waits for, through the HTTP API of the whole system started as `framepipe dev` starts it
(bench/e2e.py): the time from the upload's 202 to GET /video/{id} first saying `done`, against raw
`ffmpeg -i in.mp4 -vf fps=1 out/%06d.png` on the same file in the same run (targets: 60 s and 10 min 1080p30
≤ 1.0x, 10 min ≤ 0.8x; a 5 s 720p video ≤ 300 ms over raw ffmpeg), and the job stage by stage from the processor's
`processor_job_stage_end_seconds` metric (one job at a time, so each sum's delta is that job's).

    .venv/bin/python bench/processor.py --breakdown [--samples 3] [--long]   # --long adds 10 min 1080p30
Inputs are generated with lavfi and cached under /tmp/framepipe-bench.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from e2e import running_stack, until_done, user

from contracts import ObjectRef, ProcessingOptions, VideoUploadedV1, decode, new_envelope
from contracts.events import ImageFormat
from ops.dev.localinfra import LocalS3, free_port, wait_for_port
from servicekit import objects
from servicekit.bus import Publisher, connect, declare_topology
from servicekit.settings import StorageSettings
from servicekit.storage import open_storage
from tests.support.videos import make_video

CACHE = Path("/tmp/framepipe-bench")
BUCKET = "framepipe-bench"


def video(name: str, size: str, seconds: int, preset: str = "veryfast") -> Path:
    path = CACHE / f"{name}-{preset}.mp4"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"generating {path} ({size}, {seconds} s, H.264, keyframe every 2 s)...", flush=True)
        tmp = path.with_suffix(".part.mp4")
        output = ["-c:v", "libx264", "-preset", preset, "-g", "60", "-pix_fmt", "yuv420p"]
        make_video(tmp, seconds, size=size, rate=30, output=output, timeout=None)
        tmp.rename(path)
    return path


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - started


def raw_extract(source: Path, fps: str, ext: str) -> float:
    out = Path(tempfile.mkdtemp(prefix="bench-raw-"))
    quality = ["-q:v", "2"] if ext == "jpg" else []  # the service's JPEG quality
    try:
        return timed(["ffmpeg", "-v", "error", "-i", str(source), "-vf", f"fps={fps}", *quality, f"{out}/%06d.{ext}"])
    finally:
        shutil.rmtree(out)


def decode_only(source: Path) -> float:
    return timed(["ffmpeg", "-v", "error", "-i", str(source), "-map", "0:v:0", "-f", "null", "-"])


class Worker:
    """`python -m processor_svc` on a vhost of its own, with a publisher and an outcome queue."""

    def __init__(self, amqp_url: str, s3: LocalS3) -> None:
        self.amqp_url, self.s3 = amqp_url, s3
        self.port = free_port()
        self.work = Path(tempfile.mkdtemp(prefix="bench-work-"))

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "AMQP_URL": self.amqp_url,
            "S3_ENDPOINT_URL": self.s3.endpoint_url,
            "S3_BUCKET": BUCKET,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "HTTP_PORT": str(self.port),
            "WORK_DIR": str(self.work),
            "PROCESSOR_CONCURRENCY": "1",
            "LOG_LEVEL": "warning",
        }

    async def job(self, source: Path, interval: float, image_format: ImageFormat) -> tuple[float, int, int]:
        """(seconds from publish to outcome, frame count, worker peak RSS in bytes) in a fresh worker process."""
        process = subprocess.Popen([sys.executable, "-m", "processor_svc"], env=self.env())
        try:
            wait_for_port("127.0.0.1", self.port, timeout=120)
            seconds, frames = await self._submit(source, interval, image_format)
            return seconds, frames, _peak_rss(process.pid)
        finally:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    async def _submit(self, source: Path, interval: float, image_format: ImageFormat) -> tuple[float, int]:
        settings = StorageSettings(
            s3_endpoint_url=self.s3.endpoint_url, s3_bucket=BUCKET, aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )  # fmt: skip
        video_id, owner_id = uuid.uuid4(), uuid.uuid4()
        key = objects.source_key(owner_id, video_id)  # where video_svc stores it: the processor reads no other
        async with open_storage(settings) as storage:
            await storage.ensure_bucket()
            await storage.put_stream(key, _file_chunks(source))
        connection = await connect(self.amqp_url, "bench")
        await declare_topology(connection)
        publisher = Publisher(connection, "bench", timeout=30)
        await publisher.start()
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        for kind in ("video.processed.v1", "video.failed.v1"):
            await queue.bind("framepipe.events", routing_key=kind)
        event = VideoUploadedV1(
            video_id=video_id, owner_id=owner_id, filename=source.name, content_type="video/mp4",
            size_bytes=source.stat().st_size, source=ObjectRef(bucket=BUCKET, key=key),
            options=ProcessingOptions(interval_seconds=interval, image_format=image_format),
            uploaded_at=datetime.now(UTC),
        )  # fmt: skip
        started = time.perf_counter()
        await publisher.publish(new_envelope(event, source="framepipe/bench"))
        async with queue.iterator() as messages:
            async for message in messages:
                outcome = decode(message.body).data
                await message.ack()
                break
        seconds = time.perf_counter() - started
        await connection.close()
        assert outcome.event_type == "video.processed.v1", outcome
        return seconds, outcome.frame_count  # type: ignore[attr-defined]


async def _file_chunks(path: Path) -> object:
    with path.open("rb") as f:
        while chunk := f.read(8 * 1024 * 1024):
            yield chunk


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


async def run(full: bool) -> None:
    main = video("1080p-120s" if full else "1080p-30s", "1920x1080", 120 if full else 30)
    # The memory pair is encoded fast (the worker's memory does not depend on the encoder's effort).
    rss_short = video("1080p-120s", "1920x1080", 120, "ultrafast") if full else video("480p-30s", "854x480", 30)
    rss_long = video("1080p-600s", "1920x1080", 600, "ultrafast") if full else video("480p-150s", "854x480", 150)
    vhost = f"framepipe_bench_{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True)
    try:
        with LocalS3() as s3:
            worker = Worker(f"amqp://guest:guest@127.0.0.1:5672/{vhost}", s3)
            await report(worker, main, rss_short, rss_long)
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)


async def report(worker: Worker, main: Path, rss_short: Path, rss_long: Path) -> None:
    print(f"\ninput: {main.name}; 2 CPUs shared; times in seconds\n")
    floor = decode_only(main)
    print(f"decode-only floor                       {floor:7.2f}")
    for image_format in (ImageFormat.PNG, ImageFormat.JPG):
        raw = raw_extract(main, "1", image_format.value)
        job, frames, _ = await worker.job(main, 1.0, image_format)
        print(
            f"{image_format.value}: raw ffmpeg fps=1 {raw:7.2f}  job {job:7.2f} ({frames} frames)  "
            f"job/raw {job / raw:5.2f} (≤ 1.15)  job/decode {job / floor:5.2f} (aim < 1.3)"
        )
    single = raw_extract(main, "1/20:round=up", "png")
    sparse, frames, _ = await worker.job(main, 20.0, ImageFormat.PNG)
    print(f"interval 20 s, 2 s keyframes: single pass {single:7.2f}  job {sparse:7.2f} ({frames} frames)  "
          f"job/single {sparse / single:5.2f} (≤ 0.5)")  # fmt: skip
    single = raw_extract(main, "1/5:round=up", "png")
    skipping, frames, _ = await worker.job(main, 5.0, ImageFormat.PNG)
    print(f"interval 5 s, samples between keyframes: single pass {single:7.2f}  job {skipping:7.2f} ({frames} frames)"
          f"  job/single {skipping / single:5.2f} (≤ 0.6: only the video before each sample is decoded)")  # fmt: skip
    _, _, short_rss = await worker.job(rss_short, 1.0, ImageFormat.PNG)
    _, _, long_rss = await worker.job(rss_long, 1.0, ImageFormat.PNG)
    mib = 1024 * 1024
    print(f"worker peak RSS: {rss_short.name} {short_rss / mib:6.1f} MiB  {rss_long.name} {long_rss / mib:6.1f} MiB  "
          f"long/short {long_rss / short_rss:4.2f} (< 300 MiB, ~1.0)")  # fmt: skip


STAGE_SUM = re.compile(r'^processor_job_stage_end_seconds_sum\{stage="(\w+)"\} (\S+)$', re.MULTILINE)
JOB_SUM = re.compile(r"^processor_job_duration_seconds_sum (\S+)$", re.MULTILINE)
# (label, stage that ends it): each line of the breakdown is the time from the previous stage's end to this one's
# (0 when this stage ended first: it ran in the shadow of the one before).
BREAKDOWN = (
    ("download from S3", "downloaded"),
    ("probe (ffprobe)", "probed"),
    ("keyframe check (packet list)", "keyframes_checked"),
    ("extraction up to the first frame", "first_frame"),
    ("extraction, the rest", "extracted"),
    ("ZIP streaming/upload tail", "stored"),
    ("previews stored", "previews_stored"),
    ("receipt written", "receipt_written"),
    ("outcome published (confirmed)", "published"),
)


async def processor_sums(http: aiohttp.ClientSession, urls: list[str]) -> dict[str, float]:
    """Every stage's summed end time and the summed job time ("job") so far, over the processors' metrics."""
    sums: dict[str, float] = {}
    for url in urls:
        async with http.get(f"{url}/metrics") as response:
            text = await response.text()
        for stage, value in STAGE_SUM.findall(text):
            sums[stage] = sums.get(stage, 0.0) + float(value)
        sums["job"] = sums.get("job", 0.0) + sum(float(v) for v in JOB_SUM.findall(text))
    return sums


async def one_upload(api: object, http: aiohttp.ClientSession, urls: list[str], source: Path) -> dict[str, float]:
    """202 -> done of one upload (key "done") and when each stage of its job ended."""
    before = await processor_sums(http, urls)
    accepted = await api.upload(source, {}, lambda _: None)  # type: ignore[attr-defined]
    started = time.perf_counter()
    assert await until_done(api, accepted["items"][0]["id"]) == "done"  # type: ignore[arg-type]
    done = time.perf_counter() - started
    await asyncio.sleep(0.3)  # the job's metrics are observed just after its outcome is confirmed
    after = await processor_sums(http, urls)
    return {"done": done, **{key: after[key] - before.get(key, 0.0) for key in after}}


def print_breakdown(name: str, raw: list[float], jobs: list[dict[str, float]], target: str) -> None:
    raw_s, done_s = statistics.median(raw), statistics.median(j["done"] for j in jobs)
    print(f"\n{name}: raw ffmpeg fps=1 PNG {raw_s:6.2f} s   202 -> done {done_s:6.2f} s   "
          f"ratio {done_s / raw_s:4.2f}   over raw {1000 * (done_s - raw_s):+6.0f} ms   (target {target})")  # fmt: skip
    runs = ", ".join(f"{r:.2f}" for r in raw)
    waits = ", ".join(f"{j['done']:.2f}" for j in jobs)
    print(f"  medians of {len(jobs)}; raw runs {runs}; 202 -> done {waits}")
    median = {key: statistics.median(j.get(key, 0.0) for j in jobs) for key in jobs[0]}
    previous = 0.0
    for label, stage in BREAKDOWN:
        if stage not in median:
            continue
        ended = median[stage]
        print(f"  {label:<36} {1000 * max(0.0, ended - previous):7.0f} ms   (ends at {ended:6.2f} s)")
        previous = max(previous, ended)
    print(f"  {'job end (ack, metrics)':<36} {1000 * max(0.0, median['job'] - previous):7.0f} ms   "
          f"(job {median['job']:6.2f} s)")  # fmt: skip
    print(f"  {'outside the job (outbox, broker, video_svc, poll)':<36} {1000 * (done_s - median['job']):7.0f} ms")


async def breakdown(samples: int, long: bool) -> None:
    videos = [
        ("5 s 720p", video("720p-5s", "1280x720", 5), "<= +300 ms"),
        ("60 s 1080p30", video("1080p-60s", "1920x1080", 60), "<= 1.0x"),
    ]
    if long:
        videos.append(("10 min 1080p30", video("1080p-600s", "1920x1080", 600), "<= 0.8x"))
    async with running_stack() as (stack, base, _), aiohttp.ClientSession() as http:
        api = await user(http, base)
        urls = [stack.url(worker.name) for worker in stack.processors]
        await one_upload(api, http, urls, videos[0][1])  # warms the processor up (imports, connections)
        print(f"\n202 -> done through the HTTP API vs raw ffmpeg, same run, same files; {os.cpu_count()} CPUs")
        for name, source, target in videos:
            count = 1 if "10 min" in name else samples
            raw, jobs = [], []
            for _ in range(count):  # alternated, so a disturbance of the machine hits both sides
                raw.append(raw_extract(source, "1", "png"))
                jobs.append(await one_upload(api, http, urls, source))
            print_breakdown(name, raw, jobs, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="2-minute 1080p input; RSS on 2 vs 10 minutes")
    parser.add_argument("--breakdown", action="store_true", help="202 -> done vs raw ffmpeg, stage by stage")
    parser.add_argument("--samples", type=int, default=3, help="with --breakdown: runs per video (10 min: 1)")
    parser.add_argument("--long", action="store_true", help="with --breakdown: also a 10-minute 1080p30 video")
    options = parser.parse_args()
    if options.breakdown:
        asyncio.run(breakdown(options.samples, options.long))
    else:
        asyncio.run(run(options.full))


if __name__ == "__main__":
    main()

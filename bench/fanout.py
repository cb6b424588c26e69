"""A long video across workers: 202 -> done for the same long video with 1 worker and with 2, both splitting it
into segments (processor_svc/fanout.py), and with 1 worker that does not split it (the cost of splitting), in one
run, through the HTTP API of the whole system as `framepipe dev --processors N` runs it.

Each worker is held to one CPU (FFMPEG_THREADS=1, PROCESSOR_CONCURRENCY=1), as a pod with a one-CPU limit is: on
this machine's two CPUs, two such workers are the fleet of two that a long video should finish in about half the
time on. The ratio to print is the speed-up, 1 worker / 2 workers (target: about 2, i.e. N workers ~ 1/N of
the time).

    .venv/bin/python bench/fanout.py [--minutes 6] [--segment-seconds 60] [--samples 1]
Inputs are generated with lavfi and cached under /tmp/framepipe-bench.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path

import aiohttp
from e2e import running_stack, until_done, user
from processor import raw_extract, video

ONE_CPU = {"FFMPEG_THREADS": "1", "PROCESSOR_CONCURRENCY": "1"}


async def done_seconds(source: Path, processors: int, split: dict[str, str], samples: int) -> list[float]:
    """202 -> done of `samples` uploads of `source`, one at a time, on a stack of `processors` workers."""
    async with running_stack(processors, **ONE_CPU, **split) as (_, base, _work), aiohttp.ClientSession() as http:
        api = await user(http, base)
        times = []
        for _ in range(samples):
            accepted = await api.upload(source, {}, lambda _: None)
            started = time.perf_counter()
            assert await until_done(api, accepted["items"][0]["id"], poll=0.05) == "done"
            times.append(time.perf_counter() - started)
        return times


async def main(minutes: int, segment_seconds: int, samples: int) -> None:
    source = video(f"720p-{minutes * 60}s", "1280x720", minutes * 60)
    split = {"SPLIT_MIN_SECONDS": str(2 * segment_seconds), "SPLIT_SEGMENT_SECONDS": str(segment_seconds)}
    whole = {"SPLIT_MIN_SECONDS": "0"}
    print(f"\n{minutes} min 720p30, fps=1 PNG; workers of one CPU each; {os.cpu_count()} CPUs; "
          f"segments of about {segment_seconds} s")  # fmt: skip
    raw = raw_extract(source, "1", "png")
    print(f"  raw ffmpeg (its own threads, every CPU)        {raw:7.2f} s")
    runs = {
        "1 worker, not split": await done_seconds(source, 1, whole, samples),
        "1 worker, split": await done_seconds(source, 1, split, samples),
        "2 workers, split": await done_seconds(source, 2, split, samples),
    }
    for label, times in runs.items():
        listed = ", ".join(f"{t:.2f}" for t in times)
        print(f"  202 -> done, {label:<26} {statistics.median(times):7.2f} s   ({listed})")
    one, two = statistics.median(runs["1 worker, split"]), statistics.median(runs["2 workers, split"])
    alone = statistics.median(runs["1 worker, not split"])
    print(f"  speed-up of 2 workers over 1: {one / two:4.2f}x (target ~2); 2 workers vs 1 not split: "
          f"{alone / two:4.2f}x; cost of splitting on 1 worker: {one / alone:4.2f}x")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=6, help="length of the generated 720p30 video")
    parser.add_argument("--segment-seconds", type=int, default=60, help="SPLIT_SEGMENT_SECONDS (split from twice it)")
    parser.add_argument("--samples", type=int, default=1, help="uploads per configuration")
    options = parser.parse_args()
    asyncio.run(main(options.minutes, options.segment_seconds, options.samples))

"""What every benchmark needs: a database and a RabbitMQ vhost of its own, removed afterwards, and RSS readings."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp

from contracts.events import VideoProcessedV1
from tests.support import broker, database
from tests.support.events import processed_data

PG_ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_BASE = os.environ.get("BENCH_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
ROOT = Path(__file__).resolve().parent.parent


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    async with database.scratch_database(PG_ADMIN_DSN, f"fp_bench_{uuid.uuid4().hex[:8]}") as url:
        yield url


@contextlib.contextmanager
def scratch_vhost() -> Iterator[str]:
    with broker.scratch_vhost(AMQP_BASE, "fp_bench") as url:
        yield url


def service_env(dsn: str, amqp_url: str, port: int, keys_dir: str, **extra: str) -> dict[str, str]:
    """The settings every benchmarked service needs (its scratch database and vhost, a loopback port, the token
    keys, quiet JSON logs), plus its own."""
    return {
        "DATABASE_URL": dsn,
        "AMQP_URL": amqp_url,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "JWT_PUBLIC_KEYS_DIR": f"{keys_dir}/public",
        "LOG_LEVEL": "warning",
        "LOG_FORMAT": "json",
        **extra,
    }


def rss_mib(pid: int | None = None) -> float:
    """Resident set size of a process (this one by default), from /proc."""
    with open(f"/proc/{pid or os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time a process has used so far, from /proc (to tell CPU-bound from waiting)."""
    with open(f"/proc/{pid or os.getpid()}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time spent by every process on the machine so far (all cores, /proc/stat), to compare the total
    cost of two ways of doing the same work."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_by_process(groups: dict[str, str]) -> dict[str, float]:
    """CPU seconds used so far by every process, summed by group: `groups` maps a group name to a substring of
    the command line (first match wins); the rest are grouped by program name (postgres, beam.smp, ...)."""
    totals: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # exited meanwhile
        name, fields = stat.split("(", 1)[1].rsplit(")", 1)
        values = fields.split()
        group = next((g for g, needle in groups.items() if needle in cmdline), name)
        totals[group] = totals.get(group, 0.0) + (int(values[11]) + int(values[12])) / os.sysconf("SC_CLK_TCK")
    return totals


def processed(owner_id: uuid.UUID, filename: str | None = None) -> VideoProcessedV1:
    """A realistic outcome of a two-minute video, as the processor publishes it."""
    return processed_data(owner_id, frame_count=120, duration_seconds=120, processing_seconds=30, filename=filename)


def cpu_breakdown(before: dict[str, float], after: dict[str, float]) -> str:
    """The CPU seconds each group used between two `cpu_by_process` readings, largest first."""
    used = {group: after.get(group, 0.0) - before.get(group, 0.0) for group in after}
    top = sorted(((s, g) for g, s in used.items() if s >= 0.05), reverse=True)
    return ", ".join(f"{group} {seconds:.2f}" for seconds, group in top)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


@contextlib.asynccontextmanager
async def served(argv: list[str], env: dict[str, str], ready_url: str) -> AsyncIterator[int]:
    """A server process, as deployed; yields its pid once `ready_url` answers 200, terminates it afterwards."""
    proc = subprocess.Popen(argv, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(ready_url) as response:
                        if response.status == 200:
                            break
                if proc.poll() is not None:
                    raise RuntimeError(f"{argv} exited with {proc.returncode}")
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"{argv} never became ready")
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)

"""video_svc upload benchmark: one large file through `POST /video`, against aioboto3's own multipart upload
of the same file to the same S3 server, measured in the same run.

1. Peak RSS growth of the video_svc process during the upload. Target: < 64 MiB (the file is streamed,
   never held).
2. Throughput of `POST /video` / throughput of aioboto3 `upload_file` (8 MiB parts). Target: >= 0.60.

video_svc runs as deployed (`python -m video_svc`), the S3 server (moto) in its own process; the uploads come
from this process. moto keeps objects in memory, so every object is deleted after each run. Rounds alternate
the two uploads so drift in the machine's load hits both alike.

Run: .venv/bin/python bench/upload.py [--size-mib 256] [--rounds 2]      (1 GiB: --size-mib 1024)"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aioboto3
import aiohttp
from boto3.s3.transfer import TransferConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._infra import scratch_database, scratch_vhost, served, service_env
from ops.dev.localinfra import LocalS3, free_port
from servicekit.tokens import TokenSigner, generate_keypair

BUCKET = "framepipe-bench"
PART = 8 * 1024 * 1024
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}


ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Service:
    base: str
    pid: int
    dsn: str
    owner_id: uuid.UUID
    token: str
    signer: TokenSigner  # tokens for more users
    amqp_url: str  # the run's own vhost


def write_video_file(path: Path, size: int) -> None:
    """An MP4 signature followed by incompressible bytes, so nothing along the way can shrink it."""
    block = os.urandom(1024 * 1024)
    with path.open("wb") as out:
        out.write(b"\x00\x00\x00\x20ftypisom" + bytes(20))
        written = 32
        while written < size:
            piece = block[: min(len(block), size - written)]
            out.write(piece)
            written += len(piece)


def proc_status(pid: int, field: str) -> float:
    """A memory field of /proc/<pid>/status, in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise LookupError(field)


def reset_peak_rss(pid: int) -> None:
    """Linux: writing 5 to clear_refs resets VmHWM (peak RSS) to the current RSS."""
    with open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")


async def upload_through_service(service: Service, path: Path) -> tuple[float, float]:
    """(seconds, peak RSS growth in MiB) of one `POST /video` of the file."""
    before = proc_status(service.pid, "VmRSS")
    reset_peak_rss(service.pid)
    timeout = aiohttp.ClientTimeout(total=3600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with path.open("rb") as file:
            form = aiohttp.FormData()
            form.add_field("file", file, filename="big.mp4", content_type="video/mp4")
            started = time.perf_counter()
            headers = {"Authorization": f"Bearer {service.token}"}
            async with session.post(f"{service.base}/video", data=form, headers=headers) as response:
                body = await response.text()
            took = time.perf_counter() - started
    if response.status != 202:
        raise RuntimeError(f"upload answered {response.status}: {body[:300]}")
    return took, proc_status(service.pid, "VmHWM") - before


async def upload_with_aioboto3(s3_url: str, path: Path) -> float:
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART)
    async with aioboto3.Session().client("s3", endpoint_url=s3_url, **CREDENTIALS) as s3:
        started = time.perf_counter()
        await s3.upload_file(str(path), BUCKET, f"baseline/{uuid.uuid4()}", Config=config)
        return time.perf_counter() - started


async def empty_bucket(s3_url: str) -> None:
    async with aioboto3.Session().client("s3", endpoint_url=s3_url, **CREDENTIALS) as s3:
        listed = await s3.list_objects_v2(Bucket=BUCKET)
        for obj in listed.get("Contents", []):
            await s3.delete_object(Bucket=BUCKET, Key=obj["Key"])


@contextlib.asynccontextmanager
async def video_service(s3_url: str, **settings: str) -> AsyncIterator[Service]:
    with tempfile.TemporaryDirectory() as keys, scratch_vhost() as amqp_url:
        generate_keypair(Path(keys) / "private.pem", Path(keys) / "public", "bench-1")
        signer = TokenSigner(
            (Path(keys) / "private.pem").read_text(),
            key_id="bench-1",
            issuer="framepipe-auth",
            audience="framepipe",
            ttl_seconds=3600,
        )
        async with scratch_database() as dsn:
            port = free_port()
            env = service_env(
                dsn,
                amqp_url,
                port,
                keys,
                DB_SCHEMA="video",
                S3_ENDPOINT_URL=s3_url,
                S3_BUCKET=BUCKET,
                AWS_ACCESS_KEY_ID=CREDENTIALS["aws_access_key_id"],
                AWS_SECRET_ACCESS_KEY=CREDENTIALS["aws_secret_access_key"],
                **settings,
            )
            base = f"http://127.0.0.1:{port}"
            async with served([sys.executable, "-m", "video_svc"], env, f"{base}/readyz") as pid:
                owner = uuid.uuid4()
                yield Service(base, pid, dsn, owner, signer.sign(owner, "bench@example.com"), signer, amqp_url)


async def create_bucket(s3_url: str) -> None:
    async with aioboto3.Session().client("s3", endpoint_url=s3_url, **CREDENTIALS) as s3:
        await s3.create_bucket(Bucket=BUCKET)


async def run(args: argparse.Namespace) -> None:
    size = args.size_mib * 1024 * 1024
    with LocalS3() as s3_server, tempfile.TemporaryDirectory() as scratch:
        s3_url = s3_server.endpoint_url
        await create_bucket(s3_url)
        path = Path(scratch) / "big.mp4"
        write_video_file(path, size)
        async with video_service(s3_url) as service:
            print(f"video_svc RSS at rest: {proc_status(service.pid, 'VmRSS'):.0f} MiB")
            service_times, growths, baseline_times = [], [], []
            for _ in range(args.rounds):
                took, growth = await upload_through_service(service, path)
                service_times.append(took)
                growths.append(growth)
                await empty_bucket(s3_url)
                baseline_times.append(await upload_with_aioboto3(s3_url, path))
                await empty_bucket(s3_url)
    mib = size / 1024 / 1024
    service_rate, baseline_rate = mib / statistics.mean(service_times), mib / statistics.mean(baseline_times)
    print(f"upload of {mib:.0f} MiB, {args.rounds} rounds, S3 = moto in its own process:")
    print(
        f"  aioboto3 upload_file (8 MiB parts): {baseline_rate:7.1f} MiB/s  {[round(t, 1) for t in baseline_times]} s"
    )
    print(f"  video_svc POST /video:              {service_rate:7.1f} MiB/s  {[round(t, 1) for t in service_times]} s")
    print(f"  ratio video_svc / aioboto3:         {service_rate / baseline_rate:7.2f}   (target >= 0.60)")
    print(
        f"  video_svc peak RSS growth:          {max(growths):7.1f} MiB  {[round(g, 1) for g in growths]}"
        "   (target < 64 MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

"""The local S3 stand-in of `framepipe dev` keeps its objects across restarts: a bucket mirrored to a folder comes
back whole (bytes and content types) in a new, empty server, and what was deleted stays deleted."""

from __future__ import annotations

import os
from pathlib import Path

import aioboto3

from ops.dev.localinfra import LocalS3
from ops.dev.s3mirror import BucketMirror

CREDENTIALS = {"aws_access_key_id": "mirror", "aws_secret_access_key": "mirror-secret"}
BUCKET = "framepipe-mirror"


def client(server: LocalS3):  # type: ignore[no-untyped-def]
    return aioboto3.Session().client("s3", endpoint_url=server.endpoint_url, region_name="us-east-1", **CREDENTIALS)


async def test_objects_survive_a_restart_of_the_local_s3_and_deletions_too(tmp_path: Path) -> None:
    big = os.urandom(9 * 1024 * 1024)
    with LocalS3() as first:
        async with client(first) as s3:
            await s3.create_bucket(Bucket=BUCKET)
            await s3.put_object(Bucket=BUCKET, Key="sources/u/v", Body=big, ContentType="video/mp4")
            await s3.put_object(Bucket=BUCKET, Key="results/v.zip", Body=b"zip", ContentType="application/zip")
            await s3.put_object(Bucket=BUCKET, Key="results/gone.zip", Body=b"old")
            await s3.put_object(Bucket=BUCKET, Key="../escape", Body=b"no")
            mirror = BucketMirror(first.endpoint_url, BUCKET, CREDENTIALS, tmp_path)
            assert await mirror.refresh() == 3
            assert await mirror.refresh() == 0  # nothing changed: nothing downloaded again
            await s3.delete_object(Bucket=BUCKET, Key="results/gone.zip")
            await s3.put_object(Bucket=BUCKET, Key="results/v.zip", Body=b"zip2", ContentType="application/zip")
            assert await mirror.refresh() == 1
    assert not (tmp_path / BUCKET / "results" / "gone.zip").exists()
    assert not (tmp_path / "escape").exists()

    with LocalS3() as second:
        async with client(second) as s3:
            await s3.create_bucket(Bucket=BUCKET)
            mirror = BucketMirror(second.endpoint_url, BUCKET, CREDENTIALS, tmp_path)
            assert await mirror.restore() == 2
            listed = await s3.list_objects_v2(Bucket=BUCKET)
            assert sorted(o["Key"] for o in listed["Contents"]) == ["results/v.zip", "sources/u/v"]
            source = await s3.get_object(Bucket=BUCKET, Key="sources/u/v")
            assert source["ContentType"] == "video/mp4"
            assert await source["Body"].read() == big
            result = await s3.get_object(Bucket=BUCKET, Key="results/v.zip")
            assert await result["Body"].read() == b"zip2"

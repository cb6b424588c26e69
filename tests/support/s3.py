"""Clients of the S3-compatible server a test runs against (moto's, started by ops.dev.localinfra.LocalS3), to look
at what a service stored or to change it behind the service's back."""

from __future__ import annotations

from typing import Any

import aioboto3

# The credentials the test services are given; moto takes any.
TEST_CREDENTIALS = ("test", "test")


def s3_client(endpoint_url: str, credentials: tuple[str, str] = TEST_CREDENTIALS) -> Any:
    """A client (an async context manager) of the server at `endpoint_url`: (access key id, secret key)."""
    access_key, secret_key = credentials
    session = aioboto3.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key)
    return session.client("s3", endpoint_url=endpoint_url, region_name="us-east-1")


async def remove_bucket(s3: Any, bucket: str) -> None:
    """Delete every object in the bucket, then the bucket."""
    listed = await s3.list_objects_v2(Bucket=bucket)
    for obj in listed.get("Contents", []):
        await s3.delete_object(Bucket=bucket, Key=obj["Key"])
    await s3.delete_bucket(Bucket=bucket)

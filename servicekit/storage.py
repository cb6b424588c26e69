"""S3 storage on aioboto3: streaming multipart upload from an async byte iterator with bounded memory,
download to a file, presigned GET (with a public host for clients outside the cluster), delete."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aioboto3
from botocore.config import Config

from servicekit.settings import StorageSettings

PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB; 8 MiB keeps the part count low for large videos
MAX_PARTS_IN_FLIGHT = 2  # memory bound: (in flight + 1 filling) * PART_SIZE


@dataclass(frozen=True)
class StoredObject:
    key: str
    size_bytes: int
    sha256: str


class UploadAborted(Exception):
    """The source iterator failed; the partial upload was aborted and nothing is stored."""


# Error codes of a GET that reached S3 with valid credentials but found nothing it may show: a missing key is
# AccessDenied (403) rather than NoSuchKey (404) when the role has no s3:ListBucket.
_NOT_THERE = frozenset({"NoSuchKey", "404", "NotFound", "AccessDenied", "403", "Forbidden"})


class Storage:
    def __init__(self, client: Any, presign_client: Any, bucket: str, *, readiness_key: str = "readyz") -> None:
        self._s3 = client
        self._presign = presign_client
        self.bucket = bucket
        self._readiness_key = readiness_key

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        content_type: str = "application/octet-stream",
        tags: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Stream `chunks` to `key`. Any exception from the iterator or S3 aborts the upload, leaving nothing.
        `tags` are part of the object from its creation (they cannot be missing from a stored object)."""
        created_with: dict[str, str] = {"ContentType": content_type}
        if tags:
            created_with["Tagging"] = urllib.parse.urlencode(dict(tags))
        digest = hashlib.sha256()
        buffer = bytearray()
        size = 0
        upload = _Multipart(self, key, created_with)
        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                buffer += chunk
                while len(buffer) >= PART_SIZE:
                    with memoryview(buffer) as view:
                        part = bytes(view[:PART_SIZE])
                    del buffer[:PART_SIZE]  # in place: no second copy of the remainder
                    await upload.send(part)
            if not upload.started:
                await self._s3.put_object(Bucket=self.bucket, Key=key, Body=bytes(buffer), **created_with)
            else:
                await upload.complete(bytes(buffer))
        except BaseException:
            await upload.abort()
            raise
        return StoredObject(key=key, size_bytes=size, sha256=digest.hexdigest())

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """A small object in one request."""
        await self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    async def create(self, key: str, data: bytes, content_type: str) -> bool:
        """A small object stored only if `key` holds none yet (a conditional write: of writers racing for a key,
        exactly one wins). False when the key was taken."""
        try:
            await self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, IfNoneMatch="*")
        except self._s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                return False
            raise  # 409 ConditionalRequestConflict (a write in flight) included: the caller retries
        return True

    async def download_to(self, key: str, path: Path, chunk_size: int = 1024 * 1024) -> StoredObject:
        """Stream `key` into `path`; its size and SHA-256 are taken on the way, so nobody reads the file again
        to learn them."""
        response = await self._s3.get_object(Bucket=self.bucket, Key=key)
        digest = hashlib.sha256()
        size = 0
        # Read through aiobotocore's StreamingBody: `async with` would hand over the raw aiohttp response,
        # whose read() takes no size (it would load the whole object into memory).
        body = response["Body"]
        with path.open("wb") as out:
            try:
                while chunk := await body.read(chunk_size):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            finally:
                body.close()
        return StoredObject(key, size, digest.hexdigest())

    async def read(self, key: str) -> bytes:
        response = await self._s3.get_object(Bucket=self.bucket, Key=key)
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def read_if_exists(self, key: str) -> bytes | None:
        """The object's bytes; None when there is no such object (one request, not a HEAD and then a GET)."""
        try:
            return await self.read(key)
        except self._s3.exceptions.ClientError as exc:
            if _not_found(exc):
                return None
            raise

    async def exists(self, key: str) -> bool:
        try:
            await self._s3.head_object(Bucket=self.bucket, Key=key)
        except self._s3.exceptions.ClientError as exc:
            if _not_found(exc):
                return False
            raise
        return True

    async def tag(self, key: str, tags: Mapping[str, str]) -> None:
        """Set the object's tags (they live and go with the object, and writing them adds no object version)."""
        tag_set = [{"Key": name, "Value": value} for name, value in tags.items()]
        await self._s3.put_object_tagging(Bucket=self.bucket, Key=key, Tagging={"TagSet": tag_set})

    async def tags_of(self, key: str) -> dict[str, str] | None:
        """The object's tags; None when there is no such object."""
        try:
            response = await self._s3.get_object_tagging(Bucket=self.bucket, Key=key)
        except self._s3.exceptions.ClientError as exc:
            if _not_found(exc):
                return None
            raise
        return {tag["Key"]: tag["Value"] for tag in response.get("TagSet", [])}

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )

    async def presigned_get(self, key: str, ttl_seconds: int, download_name: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if download_name:
            params["ResponseContentDisposition"] = content_disposition(download_name)
        url: str = await self._presign.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl_seconds)
        return url

    async def check(self) -> None:
        """Readiness with object permissions only: GET the (empty) readiness object, and PUT it when it is not
        there (first start, or expired by the bucket's lifecycle). Bad credentials, a missing bucket or an
        unreachable endpoint fail one or the other. (HeadBucket would need s3:ListBucket, which a role that only
        reads and writes its own prefixes does not have.)"""
        try:
            response = await self._s3.get_object(Bucket=self.bucket, Key=self._readiness_key)
        except self._s3.exceptions.ClientError as exc:
            if not _not_found(exc):
                raise
            await self._s3.put_object(Bucket=self.bucket, Key=self._readiness_key, Body=b"")
            return
        async with response["Body"] as body:
            await body.read()

    async def ensure_bucket(self) -> None:
        try:
            await self._s3.head_bucket(Bucket=self.bucket)
        except self._s3.exceptions.ClientError:
            await self._s3.create_bucket(Bucket=self.bucket)


class _Multipart:
    """A multipart upload, created with its first part; up to MAX_PARTS_IN_FLIGHT parts on their way at once."""

    def __init__(self, storage: Storage, key: str, created_with: dict[str, str]) -> None:
        self._s3, self._bucket, self._key, self._created_with = storage._s3, storage.bucket, key, created_with
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def started(self) -> bool:
        return self._upload_id is not None

    async def send(self, data: bytes) -> None:
        if self._upload_id is None:
            created = await self._s3.create_multipart_upload(Bucket=self._bucket, Key=self._key, **self._created_with)
            self._upload_id = created["UploadId"]
        upload_id = self._upload_id
        entry: dict[str, Any] = {"PartNumber": len(self._parts) + 1, "ETag": None}
        self._parts.append(entry)

        async def upload() -> None:
            response = await self._s3.upload_part(
                Bucket=self._bucket, Key=self._key, UploadId=upload_id, PartNumber=entry["PartNumber"], Body=data
            )
            entry["ETag"] = response["ETag"]

        self._pending.add(asyncio.create_task(upload()))
        if len(self._pending) >= MAX_PARTS_IN_FLIGHT:
            done, self._pending = await asyncio.wait(self._pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()

    async def complete(self, last: bytes) -> None:
        if last or not self._parts:
            await self.send(last)
        await _gather(self._pending)
        self._pending = set()
        ordered = sorted(self._parts, key=lambda p: p["PartNumber"])
        await self._s3.complete_multipart_upload(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": ordered}
        )

    async def abort(self) -> None:
        for task in self._pending:
            task.cancel()
        if self._upload_id is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
                )


def _not_found(exc: Any) -> bool:
    return exc.response.get("Error", {}).get("Code") in _NOT_THERE


def content_disposition(filename: str) -> str:
    """An attachment header safe for any file name (RFC 6266 / 5987)."""
    from urllib.parse import quote

    filename = filename or "download"
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def _gather(tasks: set[asyncio.Task[None]]) -> None:
    if tasks:
        await asyncio.gather(*tasks)


@contextlib.asynccontextmanager
async def open_storage(settings: StorageSettings, *, readiness_key: str = "readyz") -> AsyncIterator[Storage]:
    session = aioboto3.Session()
    common: dict[str, Any] = {
        "region_name": settings.s3_region,
        "aws_access_key_id": settings.aws_access_key_id.get_secret_value() if settings.aws_access_key_id else None,
        "aws_secret_access_key": (
            settings.aws_secret_access_key.get_secret_value() if settings.aws_secret_access_key else None
        ),
    }
    config = Config(
        signature_version="s3v4",
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        s3={"addressing_style": "path"},
    )
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            session.client("s3", endpoint_url=settings.s3_endpoint_url, config=config, **common)
        )
        presign = await stack.enter_async_context(
            session.client(
                "s3",
                endpoint_url=settings.s3_public_endpoint_url or settings.s3_endpoint_url,
                config=config,
                **common,
            )
        )
        yield Storage(client, presign, settings.s3_bucket, readiness_key=readiness_key)

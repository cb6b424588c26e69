"""The local S3 stand-in keeps its objects across restarts of `framepipe dev`: moto holds them in memory only, so
the bucket is mirrored to a folder (var/s3/<bucket>/, one file per object, with an index of content types and
ETags), refreshed while the stack runs and when it stops, and loaded into the new server when it starts.

A mirror refresh downloads only objects whose ETag changed and removes files of objects that are gone, so it
costs one listing when nothing changed. What changed after the last refresh is lost if the machine dies."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import Any

import aioboto3
import structlog

log = structlog.get_logger(__name__)

INDEX = "index.json"
CHUNK_BYTES = 1024 * 1024


def _safe_key(key: str) -> bool:
    """Only keys that stay inside the mirror folder (the services make keys from ids; anything else is skipped)."""
    path = PurePosixPath(key)
    return bool(key) and not path.is_absolute() and ".." not in path.parts and key != INDEX


class BucketMirror:
    def __init__(self, endpoint_url: str, bucket: str, credentials: dict[str, str], directory: Path) -> None:
        self._endpoint = endpoint_url
        self._bucket = bucket
        self._credentials = credentials
        self.directory = directory / bucket
        self._index_path = self.directory / INDEX

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[Any]:
        async with aioboto3.Session().client(
            "s3", endpoint_url=self._endpoint, region_name="us-east-1", **self._credentials
        ) as s3:
            yield s3

    def _index(self) -> dict[str, dict[str, str]]:
        if not self._index_path.is_file():
            return {}
        index: dict[str, dict[str, str]] = json.loads(self._index_path.read_text())
        return index

    async def restore(self) -> int:
        """Put every mirrored object into the (empty, new) bucket; returns how many."""
        index = self._index()
        async with self._client() as s3:
            for key, meta in index.items():
                path = self.directory / key
                if _safe_key(key) and path.is_file():
                    extra = {"ContentType": meta.get("content_type", "application/octet-stream")}
                    await s3.upload_file(str(path), self._bucket, key, ExtraArgs=extra)
        if index:
            log.info("local_s3_restored", objects=len(index), directory=str(self.directory))
        return len(index)

    async def refresh(self) -> int:
        """Bring the folder up to date with the bucket; returns how many objects were downloaded."""
        index = self._index()
        current: dict[str, dict[str, str]] = {}
        downloaded = 0
        async with self._client() as s3:
            paginator = s3.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self._bucket):
                for item in page.get("Contents", []):
                    key, etag = item["Key"], item["ETag"]
                    if not _safe_key(key):
                        continue
                    known = index.get(key)
                    if known and known.get("etag") == etag and (self.directory / key).is_file():
                        current[key] = known
                        continue
                    try:
                        current[key] = {"etag": etag, "content_type": await self._download(s3, key)}
                    except (IsADirectoryError, NotADirectoryError) as exc:  # "a" and "a/b": one cannot be a file
                        log.warning("local_s3_object_not_mirrored", key=key, error=str(exc))
                        continue
                    downloaded += 1
        for key in set(index) - set(current):
            (self.directory / key).unlink(missing_ok=True)
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self._index_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(current, indent=1, sort_keys=True))
        temporary.replace(self._index_path)  # the index never names a half-written file
        return downloaded

    async def _download(self, s3: Any, key: str) -> str:
        path = self.directory / key
        path.parent.mkdir(parents=True, exist_ok=True)
        response = await s3.get_object(Bucket=self._bucket, Key=key)
        partial = path.with_name(path.name + ".partial")
        body = response["Body"]
        with partial.open("wb") as out:
            try:
                while chunk := await body.read(CHUNK_BYTES):
                    out.write(chunk)
            finally:
                body.close()
        partial.replace(path)
        content_type: str = response.get("ContentType", "application/octet-stream")
        return content_type

    async def keep_refreshed(self, every_seconds: float) -> None:
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await self.refresh()
            except Exception as exc:  # a refresh that fails is tried again; the stack must not stop for it
                log.warning("local_s3_mirror_failed", error=f"{type(exc).__name__}: {exc}")

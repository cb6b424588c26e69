"""Shared pieces for the video_svc tests (no tests here): the service built with the production
`create_app`, served on a real port, with its own schema, bucket and vhost; tiny videos made by ffmpeg;
and views of what the service left behind (objects, rows, outbox events)."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from contracts import (
    FailureCode,
    ObjectRef,
    ResultObject,
    VideoProcessingProgressV1,
    VideoProcessingStartedV1,
)
from contracts.envelope import Envelope
from ops.dev.localinfra import LocalS3
from servicekit.bus import Publisher
from servicekit.runtime import POOL, STORAGE
from servicekit.storage import Storage
from tests.support import videos
from tests.support.events import failed_data, from_processor, processed_data
from tests.support.polling import eventually
from tests.support.s3 import remove_bucket, s3_client
from tests.support.tokens import JwtKeys, TokenFor
from video_svc.app import create_app
from video_svc.settings import Settings


def video_settings(
    *, database_url: str, amqp_url: str, local_s3: LocalS3, jwt_keys: JwtKeys, **overrides: Any
) -> Settings:
    tag = uuid.uuid4().hex[:10]
    values: dict[str, Any] = {
        "database_url": database_url,
        "db_schema": f"video_{tag}",
        "amqp_url": amqp_url,
        "s3_endpoint_url": local_s3.endpoint_url,
        "s3_bucket": f"video-{tag}",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
        "jwt_public_keys_dir": jwt_keys.public_keys_dir,
        "jwt_issuer": jwt_keys.issuer,
        "jwt_audience": jwt_keys.audience,
        "log_format": "console",
        **overrides,
    }
    return Settings(**values)


@dataclass
class VideoService:
    client: TestClient[Any, Any]
    settings: Settings
    token_for: TokenFor
    s3: Any  # a client of the test's own, to look at the bucket

    @property
    def pool(self) -> asyncpg.Pool:
        return self.client.app[POOL]  # type: ignore[index]

    @property
    def storage(self) -> Storage:
        return self.client.app[STORAGE]  # type: ignore[index]

    @property
    def port(self) -> int:
        port = self.client.server.port
        assert port is not None
        return port

    def auth(self, user_id: uuid.UUID) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token_for(user_id, f'{user_id.hex[:8]}@example.com')}"}

    async def upload(
        self, user_id: uuid.UUID, *files: tuple[str, bytes], headers: dict[str, str] | None = None, **fields: str
    ) -> aiohttp.ClientResponse:
        form = aiohttp.FormData(default_to_multipart=True)
        for name, value in fields.items():
            form.add_field(name, value)
        for filename, data in files:
            form.add_field("file", data, filename=filename, content_type="video/mp4")
        return await self.client.post("/video", data=form, headers={**self.auth(user_id), **(headers or {})})

    async def keys(self, prefix: str = "") -> list[str]:
        """Every object under the prefix, and every multipart upload still open there."""
        listed = await self.s3.list_objects_v2(Bucket=self.settings.s3_bucket, Prefix=prefix)
        uploads = await self.s3.list_multipart_uploads(Bucket=self.settings.s3_bucket, Prefix=prefix)
        return [o["Key"] for o in listed.get("Contents", [])] + [
            f"(open upload) {u['Key']}" for u in uploads.get("Uploads", [])
        ]

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self.pool.acquire() as conn:
            return await conn.fetchval(sql, *args)

    async def rows(self, owner_id: uuid.UUID) -> int:
        return int(await self.fetchval("SELECT count(*) FROM videos WHERE owner_id = $1", owner_id))

    async def events(self, event_type: str, subject: str | None = None) -> int:
        if subject is None:
            return int(await self.fetchval("SELECT count(*) FROM outbox WHERE event_type = $1", event_type))
        return int(
            await self.fetchval(
                "SELECT count(*) FROM outbox WHERE event_type = $1 AND headers->>'ce-subject' = $2",
                event_type,
                subject,
            )
        )


@contextlib.asynccontextmanager
async def running_video_service(settings: Settings, token_for: TokenFor) -> AsyncIterator[VideoService]:
    app = create_app(settings)
    assert settings.s3_endpoint_url is not None
    async with TestClient(TestServer(app)) as client, s3_client(settings.s3_endpoint_url) as s3:
        await app[STORAGE].ensure_bucket()
        yield VideoService(client, settings, token_for, s3)
        await remove_bucket(s3, settings.s3_bucket)
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    await conn.execute(f'DROP SCHEMA "{settings.db_schema}" CASCADE')
    await conn.close()


class Story:
    """The processing events of one video, as processor_svc would publish them."""

    def __init__(self, svc: VideoService, publisher: Publisher, owner: uuid.UUID, video_id: str) -> None:
        self.svc, self.publisher, self.owner, self.video_id = svc, publisher, owner, uuid.UUID(video_id)

    def started(self) -> Envelope[Any]:
        data = VideoProcessingStartedV1(
            video_id=self.video_id, owner_id=self.owner, attempt=1, started_at=datetime.now(UTC)
        )
        return from_processor(data)

    def progress(self, value: float) -> Envelope[Any]:
        data = VideoProcessingProgressV1(
            video_id=self.video_id, owner_id=self.owner, progress=value, frames_done=int(value * 10)
        )
        return from_processor(data)

    async def processed(self, previews: tuple[bytes, ...] = ()) -> Envelope[Any]:
        """The outcome, its ZIP (empty) and its preview images stored as processor_svc would store them."""
        bucket = self.svc.settings.s3_bucket
        key = f"results/{self.video_id}.zip"
        body = b"PK\x05\x06" + bytes(18)  # an empty ZIP
        await self.svc.s3.put_object(Bucket=bucket, Key=key, Body=body)
        refs = tuple(
            ObjectRef(bucket=bucket, key=f"results/previews/{self.video_id}/{n}.jpg")
            for n in range(1, len(previews) + 1)
        )
        for ref, image in zip(refs, previews, strict=True):
            await self.svc.s3.put_object(Bucket=bucket, Key=ref.key, Body=image)
        result = ResultObject(
            bucket=self.svc.settings.s3_bucket, key=key, size_bytes=len(body), sha256=hashlib.sha256(body).hexdigest()
        )
        data = processed_data(self.owner, self.video_id, result, frame_count=10, duration_seconds=1.0, previews=refs)
        return from_processor(data)

    def failed(self, code: FailureCode = FailureCode.INVALID_MEDIA) -> Envelope[Any]:
        return from_processor(failed_data(self.owner, self.video_id, code, "The file could not be read."))

    async def publish(self, *envelopes: Envelope[Any]) -> None:
        """Publish in this order and wait until the service handled each one."""
        for envelope in envelopes:
            await self.publisher.publish(envelope)
            await eventually(lambda envelope=envelope: handled(self.svc, envelope.id))

    async def video(self) -> dict[str, Any]:
        response = await self.svc.client.get(f"/video/{self.video_id}", headers=self.svc.auth(self.owner))
        assert response.status == 200
        video: dict[str, Any] = await response.json()
        return video


def make_video(directory: Path, name: str = "clip.mp4", seconds: float = 1.0, rate: int = 10) -> bytes:
    """A tiny real video made by ffmpeg's test source; the container follows the file extension."""
    path = directory / name
    if not path.exists():
        videos.make_video(path, seconds, rate=rate, output=["-pix_fmt", "yuv420p"], timeout=60)
    return path.read_bytes()


async def handled(svc: VideoService, event_id: uuid.UUID) -> bool:
    """The service's consumer committed its handling of this event (its inbox row exists)."""
    return bool(await svc.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event_id))


async def uploaded_id(svc: VideoService, owner: uuid.UUID, data: bytes, name: str = "clip.mp4") -> str:
    response = await svc.upload(owner, (name, data))
    assert response.status == 202, await response.text()
    video_id: str = (await response.json())["items"][0]["id"]
    return video_id


def video_service_fixture(**overrides: Any) -> Any:
    """A module-scoped `svc` fixture: one running service per test module, with these settings overrides."""

    @pytest.fixture(scope="module")
    async def svc(
        database_url: str, amqp_url: str, local_s3: LocalS3, jwt_keys: JwtKeys, token_for: TokenFor
    ) -> AsyncIterator[VideoService]:
        settings = video_settings(
            database_url=database_url, amqp_url=amqp_url, local_s3=local_s3, jwt_keys=jwt_keys, **overrides
        )
        async with running_video_service(settings, token_for) as service:
            yield service

    return svc


def clip_fixture() -> Any:
    """A module-scoped `clip` fixture: the bytes of a one-second MP4."""

    @pytest.fixture(scope="module")
    def clip(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> bytes:
        return make_video(tmp_path_factory.mktemp("media"), "clip.mp4")

    return clip


async def assert_nothing_left(svc: VideoService, owner: uuid.UUID) -> None:
    assert await svc.keys(f"sources/{owner}/") == []
    assert await svc.rows(owner) == 0
    assert await svc.fetchval("SELECT count(*) FROM outbox WHERE body::text LIKE '%' || $1 || '%'", str(owner)) == 0

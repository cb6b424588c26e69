"""A video deleted while storage is unreachable: the request still succeeds, and its objects are removed once
storage answers again (video_svc's own consumer of `video.deleted.v1` retries the removal).

A module of its own: the deletion event must reach only this service's consumer, whose bucket holds the objects."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ops.dev.localinfra import LocalS3
from ops.dev.tcpproxy import TcpProxy
from tests.integration.video.harness import (
    TokenFor,
    VideoService,
    clip_fixture,
    running_video_service,
    uploaded_id,
    video_settings,
)
from tests.support.polling import eventually
from tests.support.s3 import s3_client
from tests.support.tokens import JwtKeys

clip = clip_fixture()


@pytest.fixture
async def storage_proxy(local_s3: LocalS3) -> AsyncIterator[TcpProxy]:
    proxy = await TcpProxy(local_s3.host, local_s3.port).start()
    yield proxy
    await proxy.cut()


@pytest.fixture
async def svc_behind_proxy(
    database_url: str,
    amqp_url: str,
    local_s3: LocalS3,
    jwt_keys: JwtKeys,
    token_for: TokenFor,
    storage_proxy: TcpProxy,
) -> AsyncIterator[VideoService]:
    settings = video_settings(
        database_url=database_url,
        amqp_url=amqp_url,
        local_s3=local_s3,
        jwt_keys=jwt_keys,
        s3_endpoint_url=f"http://127.0.0.1:{storage_proxy.port}",
    )
    async with running_video_service(settings, token_for) as service:
        yield service
        await storage_proxy.restore()  # for the fixture's own clean-up of the bucket


@pytest.fixture
async def direct_s3(local_s3: LocalS3) -> AsyncIterator[Any]:
    async with s3_client(local_s3.endpoint_url) as s3:
        yield s3


async def objects(s3: Any, bucket: str, prefix: str) -> list[str]:
    listed = await s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


async def test_objects_of_a_video_deleted_during_a_storage_outage_are_removed_once_storage_is_back(
    svc_behind_proxy: VideoService, storage_proxy: TcpProxy, direct_s3: Any, clip: bytes
) -> None:
    svc, bucket = svc_behind_proxy, svc_behind_proxy.settings.s3_bucket
    owner = uuid.uuid4()
    video_id = await uploaded_id(svc, owner, clip)
    assert len(await objects(direct_s3, bucket, f"sources/{owner}/")) == 1

    await storage_proxy.cut()
    response = await svc.client.delete(f"/video/{video_id}", headers=svc.auth(owner))
    assert response.status == 204
    assert (await svc.client.get(f"/video/{video_id}", headers=svc.auth(owner))).status == 404
    # Neither the request nor the consumer's first attempts could reach storage: the source is still there.
    await eventually(lambda: svc.events("video.deleted.v1", video_id), timeout=10)
    assert len(await objects(direct_s3, bucket, f"sources/{owner}/")) == 1

    await storage_proxy.restore()
    await eventually(lambda: objects_gone(direct_s3, bucket, f"sources/{owner}/"), timeout=45, interval=0.5)


async def objects_gone(s3: Any, bucket: str, prefix: str) -> bool:
    return await objects(s3, bucket, prefix) == []

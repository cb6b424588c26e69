"""Reading, downloading and deleting videos: ownership in every query, keyset pagination, presigned downloads."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import uuid
import zipfile
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import ProcessingOptions, ResultObject
from servicekit.bus import Publisher
from tests.integration.video.harness import (
    VideoService,
    clip_fixture,
    handled,
    uploaded_id,
    video_service_fixture,
)
from tests.support.events import from_processor, processed_data
from tests.support.polling import eventually

T = TypeVar("T")

svc = video_service_fixture()
clip = clip_fixture()


def zip_of_frames() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(3):
            archive.writestr(f"frame_{i:05d}.png", f"frame {i}".encode())
    return buffer.getvalue()


async def make_done(svc: VideoService, publisher: Publisher, owner: uuid.UUID, video_id: str) -> bytes:
    """Store a ZIP where the processor would and publish its `video.processed.v1`."""
    data = zip_of_frames()
    key = f"results/{video_id}.zip"
    await svc.s3.put_object(Bucket=svc.settings.s3_bucket, Key=key, Body=data)
    result = ResultObject(
        bucket=svc.settings.s3_bucket, key=key, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest()
    )
    event = processed_data(owner, uuid.UUID(video_id), result, frame_count=3, duration_seconds=3.0)
    envelope = from_processor(event)
    await publisher.publish(envelope)
    await eventually(lambda: handled(svc, envelope.id))
    return data


async def test_a_video_is_shown_to_its_owner_and_a_bad_id_is_not_found(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    video_id = await uploaded_id(svc, owner, clip, "holiday.mp4")
    response = await svc.client.get(f"/video/{video_id}", headers=svc.auth(owner))
    assert response.status == 200
    video = await response.json()
    assert video["id"] == video_id
    assert video["status"] == "uploaded"
    assert video["progress"] == 0
    assert video["error"] is None
    assert video["options"] == ProcessingOptions().model_dump(mode="json")
    for bad in ("not-a-uuid", str(uuid.uuid4())):
        missing = await svc.client.get(f"/video/{bad}", headers=svc.auth(owner))
        assert missing.status == 404
        assert (await missing.json())["code"] == "not_found"
    assert (await svc.client.get(f"/video/{video_id}")).status == 401


async def test_download_before_done_is_a_conflict_and_after_done_redirects_to_the_zip(
    svc: VideoService, clip: bytes, publisher: Publisher
) -> None:
    owner = uuid.uuid4()
    video_id = await uploaded_id(svc, owner, clip, "holiday.mp4")
    early = await svc.client.get(f"/video/{video_id}/download", headers=svc.auth(owner), allow_redirects=False)
    assert early.status == 409
    assert (await early.json())["code"] == "not_ready"
    assert (await early.json())["video_status"] == "uploaded"

    data = await make_done(svc, publisher, owner, video_id)
    response = await svc.client.get(f"/video/{video_id}/download", headers=svc.auth(owner), allow_redirects=False)
    assert response.status == 302
    async with aiohttp.ClientSession() as session, session.get(response.headers["Location"]) as zipped:
        assert zipped.status == 200
        assert await zipped.read() == data
        assert 'filename="holiday.zip"' in zipped.headers["Content-Disposition"]

    link = await svc.client.get(f"/video/{video_id}/download?redirect=false", headers=svc.auth(owner))
    assert link.status == 200
    body = await link.json()
    assert body["url"].startswith(svc.settings.s3_endpoint_url or "")
    expires = datetime.fromisoformat(body["expires_at"])
    assert 800 < (expires - datetime.now(UTC)).total_seconds() <= 900
    bad = await svc.client.get(f"/video/{video_id}/download?redirect=maybe", headers=svc.auth(owner))
    assert bad.status == 422


async def test_delete_removes_the_video_its_objects_and_publishes_the_deletion(
    svc: VideoService, clip: bytes, publisher: Publisher
) -> None:
    owner = uuid.uuid4()
    video_id = await uploaded_id(svc, owner, clip)
    await make_done(svc, publisher, owner, video_id)
    assert len(await svc.keys(f"sources/{owner}/")) == 1
    assert await svc.keys(f"results/{video_id}") == [f"results/{video_id}.zip"]

    response = await svc.client.delete(f"/video/{video_id}", headers=svc.auth(owner))
    assert response.status == 204
    assert await svc.keys(f"sources/{owner}/") == []
    assert await svc.keys(f"results/{video_id}") == []
    assert (await svc.client.get(f"/video/{video_id}", headers=svc.auth(owner))).status == 404
    listed = await (await svc.client.get("/video", headers=svc.auth(owner))).json()
    assert listed["items"] == []
    assert await svc.events("video.deleted.v1", video_id) == 1
    again = await svc.client.delete(f"/video/{video_id}", headers=svc.auth(owner))
    assert again.status == 404
    assert await svc.events("video.deleted.v1", video_id) == 1


async def page_ids(svc: VideoService, owner: uuid.UUID, query: str) -> tuple[list[str], str | None]:
    response = await svc.client.get(f"/video?{query}", headers=svc.auth(owner))
    assert response.status == 200, await response.text()
    body = await response.json()
    return [item["id"] for item in body["items"]], body["next_cursor"]


async def test_pagination_is_newest_first_and_stable_while_new_videos_arrive(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    first_five = [await uploaded_id(svc, owner, clip) for _ in range(5)]
    page1, cursor = await page_ids(svc, owner, "limit=2")
    assert page1 == first_five[::-1][:2]
    newer = [await uploaded_id(svc, owner, clip) for _ in range(2)]
    seen = list(page1)
    while cursor is not None:
        page, cursor = await page_ids(svc, owner, f"limit=2&cursor={cursor}")
        seen += page
    assert seen == first_five[::-1], "no video skipped or repeated"
    fresh, _ = await page_ids(svc, owner, "limit=100")
    assert fresh == (first_five + newer)[::-1]
    default, cursor = await page_ids(svc, owner, "")
    assert len(default) == 7
    assert cursor is None


async def test_the_status_filter_returns_only_videos_in_that_status(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    ids = [await uploaded_id(svc, owner, clip) for _ in range(3)]
    await svc.fetchval("UPDATE videos SET status = 'failed' WHERE id = $1", uuid.UUID(ids[1]))
    failed, _ = await page_ids(svc, owner, "status=failed")
    uploaded, _ = await page_ids(svc, owner, "status=uploaded")
    assert failed == [ids[1]]
    assert uploaded == [ids[2], ids[0]]
    assert (await page_ids(svc, owner, "status=done"))[0] == []


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=ten",
        "status=finished",
        "cursor=" + "a" * 201,
    ],
)
async def test_a_bad_listing_query_is_a_validation_error(svc: VideoService, query: str) -> None:
    response = await svc.client.get(f"/video?{query}", headers=svc.auth(uuid.uuid4()))
    assert response.status == 422
    problem = await response.json()
    assert problem["code"] == "validation_error"
    assert problem["errors"][0]["field"] in ("limit", "status", "cursor")


@pytest.mark.parametrize("cursor", ["%21%21%21", base64.urlsafe_b64encode(b"yesterday|someone").decode()])
async def test_a_cursor_not_handed_out_is_an_invalid_cursor(svc: VideoService, cursor: str) -> None:
    response = await svc.client.get(f"/video?cursor={cursor}", headers=svc.auth(uuid.uuid4()))
    assert response.status == 400
    assert (await response.json())["code"] == "invalid_cursor"


async def test_another_users_video_is_never_visible_to_anyone_else(svc: VideoService, clip: bytes) -> None:
    owner = uuid.uuid4()
    owned = [await uploaded_id(svc, owner, clip) for _ in range(3)]
    loop = asyncio.get_running_loop()

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=30)

    async def probe(intruder: uuid.UUID, video_id: str) -> None:
        headers = svc.auth(intruder)
        for method, path in (
            ("GET", f"/video/{video_id}"),
            ("GET", f"/video/{video_id}/download"),
            ("DELETE", f"/video/{video_id}"),
        ):
            response = await svc.client.request(method, path, headers=headers, allow_redirects=False)
            assert response.status == 404, (method, path, response.status)
        listed = await (await svc.client.get("/video?limit=100", headers=headers)).json()
        assert not {item["id"] for item in listed["items"]} & set(owned)

    # Hypothesis drives from a worker thread; the requests run on the test's loop, where the server lives.
    @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(intruder=st.uuids(), target=st.one_of(st.sampled_from(owned), st.uuids().map(str)))
    def property_holds(intruder: uuid.UUID, target: str) -> None:
        if intruder != owner:
            run(probe(intruder, target))

    await asyncio.to_thread(property_holds)
    still_there, _ = await page_ids(svc, owner, "limit=100")
    assert still_there == owned[::-1]


async def test_openapi_document_describes_every_endpoint(svc: VideoService) -> None:
    spec = await (await svc.client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    operations = {(path, method) for path, item in spec["paths"].items() for method in item}
    routed = {
        (route.resource.canonical, route.method.lower())
        for route in svc.client.app.router.routes()  # type: ignore[union-attr]
        if route.resource is not None and route.method != "HEAD" and route.resource.canonical.startswith("/video")
    }
    assert operations == routed  # every handler documented, nothing documented that is not served
    upload = spec["paths"]["/video"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"202", "400", "401", "408", "413", "415", "422", "429"} <= set(upload["responses"])


async def test_health_and_readiness_report_every_dependency(svc: VideoService) -> None:
    assert (await svc.client.get("/healthz")).status == 200
    ready = await svc.client.get("/readyz")
    assert ready.status == 200
    assert set((await ready.json())["checks"]) >= {"database", "broker", "storage"}

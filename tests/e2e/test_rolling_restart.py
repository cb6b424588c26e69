"""A rolling restart of video_svc under load, through the one-origin gateway as a load balancer would route it:
each replica in turn is stopped (its graceful shutdown) and started again while people list, look at and upload
videos. Not one answer is a 5xx, and every upload accepted meanwhile ends `done`.

What only a cluster can show (the ALB's deregistration delay, the pod readiness gate, preStop against real
endpoint propagation) is in docs/deploy.md, "Rollouts"."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from ops.dev.stack import DevStack
from tests.support.polling import eventually
from tests.support.videos import make_video

pytestmark = pytest.mark.e2e

READERS = 6


async def test_restarting_every_video_replica_in_turn_under_load_answers_no_5xx_and_loses_no_upload(
    stack: DevStack, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    origin = stack.url("gateway")
    email, password = f"roll-{uuid.uuid4().hex[:8]}@example.com", "a long enough password"
    async with http.post(f"{origin}/register", json={"email": email, "password": password}) as response:
        assert response.status == 201
    async with http.post(f"{origin}/login", json={"email": email, "password": password}) as response:
        auth = {"Authorization": f"Bearer {(await response.json())['access_token']}"}
    clip = make_video(tmp_path / "rolling.mp4", 1).read_bytes()
    statuses: Counter[int] = Counter()
    accepted: list[str] = []
    stop = asyncio.Event()

    async def upload() -> None:
        form = aiohttp.FormData()
        form.add_field("file", clip, filename="rolling.mp4", content_type="video/mp4")
        async with http.post(f"{origin}/video", data=form, headers=auth) as answer:
            statuses[answer.status] += 1
            if answer.status == 202:
                accepted.append((await answer.json())["items"][0]["id"])

    async def read(path: str) -> None:
        async with http.get(f"{origin}{path}", headers=auth) as answer:
            await answer.read()
            statuses[answer.status] += 1

    async def reader() -> None:
        while not stop.is_set():
            await read("/video?limit=5")
            if accepted:
                await read(f"/video/{accepted[-1]}")

    async def uploader() -> None:
        while not stop.is_set():
            await upload()
            await asyncio.sleep(0.2)

    load = [asyncio.create_task(reader()) for _ in range(READERS)] + [asyncio.create_task(uploader())]
    try:
        await asyncio.sleep(1)
        for replica in stack.video_replicas:
            before = sum(statuses.values())
            await stack.stop_service(replica)
            await asyncio.sleep(1)  # the other replica carries everything meanwhile
            await stack.start_service(replica)
            assert sum(statuses.values()) > before, "the load went on during the restart"
        await asyncio.sleep(1)
    finally:
        stop.set()
        await asyncio.gather(*load)

    assert [status for status in statuses if status >= 500] == [], statuses
    assert set(statuses) <= {200, 202}, statuses
    assert statuses[200] > 50
    assert len(accepted) >= 5

    async def all_done() -> bool:
        async with http.get(f"{origin}/video?limit=100", headers=auth) as answer:
            videos = (await answer.json())["items"]
        return {v["id"] for v in videos if v["status"] == "done"} >= set(accepted)

    await eventually(all_done, timeout=120, interval=1)

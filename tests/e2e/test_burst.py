"""A peak: many users uploading at once. Every accepted upload must be processed and announced exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from ops.client.api import BaseUrls
from ops.dev.localinfra import MailSink
from tests.e2e.users import User, mentions, sign_up
from tests.support.polling import eventually
from tests.support.videos import make_video

pytestmark = pytest.mark.e2e

CLIENTS = 10
UPLOADS_EACH = 10


@pytest.mark.timeout(400)
async def test_a_burst_of_a_hundred_uploads_from_ten_clients_is_all_done_with_no_loss_and_no_duplicate_email(
    sink: MailSink, http: aiohttp.ClientSession, urls: BaseUrls, tmp_path: Path
) -> None:
    clip = make_video(tmp_path / "tiny.mp4", seconds=1)
    users = await asyncio.gather(*(sign_up(http, urls, f"burst{i}") for i in range(CLIENTS)))

    async def upload_all(user: User) -> list[str]:
        return [(await user.upload(clip, interval=1, as_name=f"tiny-{i}.mp4"))["id"] for i in range(UPLOADS_EACH)]

    accepted = await asyncio.gather(*(upload_all(user) for user in users))
    assert sum(len(ids) for ids in accepted) == CLIENTS * UPLOADS_EACH

    async def all_done() -> bool:
        lists = await asyncio.gather(*(user.api.videos() for user in users))
        return all(len(videos) == UPLOADS_EACH and {v["status"] for v in videos} == {"done"} for videos in lists)

    await eventually(all_done, timeout=300, interval=1.0)
    for user, ids in zip(users, accepted, strict=True):
        videos = await user.api.videos()
        assert {v["id"] for v in videos} == set(ids)
        assert all(v["frame_count"] == 1 for v in videos)
    await eventually(lambda: all(len(u.mail(sink)) >= UPLOADS_EACH for u in users), timeout=60, interval=0.5)
    await asyncio.sleep(2)  # duplicates would arrive right behind
    for user in users:
        mail = user.mail(sink, "done")
        assert len(user.mail(sink)) == len(mail) == UPLOADS_EACH
        for video in await user.api.videos():
            assert len([m for m in mail if mentions(m, video)]) == 1, video["id"]

"""A user's whole journey through the running system: upload, processing, e-mails, downloads, and the walls
between users. Driven only through HTTP and the mailbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ops.client.api import ApiError
from ops.dev.localinfra import MailSink
from tests.e2e.media import decoded_size, frames_in_zip
from tests.e2e.users import User, mentions
from tests.support.polling import eventually
from tests.support.videos import make_video

pytestmark = pytest.mark.e2e


async def test_three_videos_in_three_containers_all_become_zips_of_decodable_frames_and_one_email_each(
    sink: MailSink, alice: User, tmp_path: Path
) -> None:
    paths = [make_video(tmp_path / f"clip.{ext}", seconds=3) for ext in ("mp4", "webm", "mkv")]

    uploaded = await asyncio.gather(*(alice.upload(path) for path in paths))
    videos = await asyncio.gather(*(alice.finished(v["id"]) for v in uploaded))

    assert [v["status"] for v in videos] == ["done"] * 3, videos
    for video in videos:
        assert video["frame_count"] == 3, video
        frames = frames_in_zip(await alice.zip_of(video["id"]), ".png")
        assert len(frames) == 3
        assert {decoded_size(frame, tmp_path) for frame in frames} == {"160x120"}
    await eventually(lambda: len(alice.mail(sink, "done")) >= 3, timeout=30)
    await asyncio.sleep(1)  # a duplicate would arrive right behind the first
    done_mail = alice.mail(sink, "done")
    assert len(done_mail) == 3
    for video in videos:
        assert len([m for m in done_mail if mentions(m, video)]) == 1, video["id"]
    notifications = await eventually(_listed(alice, 3), timeout=15)
    assert {n["video_id"] for n in notifications} == {v["id"] for v in videos}
    assert {n["kind"] for n in notifications} == {"processed"}


def _listed(user: User, count: int):  # type: ignore[no-untyped-def]
    async def check() -> list[dict[str, object]] | None:
        items = await user.api.notifications()
        return items if len(items) >= count else None

    return check


async def test_a_corrupt_upload_ends_failed_with_its_code_and_one_failed_email(
    sink: MailSink, alice: User, tmp_path: Path
) -> None:
    whole = make_video(tmp_path / "whole.mp4", seconds=3).read_bytes()
    corrupt = tmp_path / "corrupt.mp4"
    # The container's signature survives, so the upload is accepted; the media behind it is noise.
    corrupt.write_bytes(whole[:64] + bytes(range(256)) * 64)

    video = await alice.finished((await alice.upload(corrupt))["id"])

    assert video["status"] == "failed"
    assert video["error"]["code"] == "invalid_media", video["error"]
    await eventually(lambda: alice.mail(sink, "failed"), timeout=30)
    await asyncio.sleep(1)
    assert len(alice.mail(sink)) == 1
    with pytest.raises(ApiError) as not_ready:
        await alice.api.download_link(video["id"])
    assert not_ready.value.status == 409


async def test_another_user_can_neither_see_nor_download_nor_delete_a_video(
    alice: User, bob: User, tmp_path: Path
) -> None:
    video = await alice.finished((await alice.upload(make_video(tmp_path / "mine.mp4", seconds=1)))["id"])
    assert video["status"] == "done"

    assert video["id"] not in {v["id"] for v in await bob.api.videos()}
    for attempt in (bob.api.video, bob.api.download_link, bob.api.delete):
        with pytest.raises(ApiError) as refused:
            await attempt(video["id"])
        assert refused.value.status == 404, attempt

    assert (await alice.api.video(video["id"]))["status"] == "done"
    assert len(await alice.zip_of(video["id"])) > 0

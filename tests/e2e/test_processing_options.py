"""Processing options through the whole running system: chosen on upload over HTTP, honoured by the processor,
visible in the ZIP a user downloads."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.e2e.media import decoded_size, frames_in_zip
from tests.e2e.users import User
from tests.support.videos import make_video

pytestmark = pytest.mark.e2e


async def test_count_range_fit_quality_and_storyboard_chosen_on_upload_shape_the_downloaded_zip(
    alice: User, tmp_path: Path
) -> None:
    source = make_video(tmp_path / "clip.mp4", seconds=4)
    options = {
        "count": 4, "start_seconds": 1, "end_seconds": 3, "width": 80, "quality": 70, "storyboard": "true",
    }  # fmt: skip
    jpeg, webp = await asyncio.gather(
        alice.upload(source, image_format="jpg", fields=options),
        alice.upload(source, image_format="webp", interval=0.5, fields={"end_seconds": 2}),
    )
    jpeg, webp = await asyncio.gather(alice.finished(jpeg["id"]), alice.finished(webp["id"]))
    assert (jpeg["status"], webp["status"]) == ("done", "done"), (jpeg, webp)
    assert jpeg["options"]["count"] == 4
    assert webp["options"]["image_format"] == "webp"

    with zipfile.ZipFile(io.BytesIO(await alice.zip_of(jpeg["id"]))) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = archive.namelist()
        sheet = archive.read("storyboard/storyboard.jpg")
        cues = archive.read("storyboard/storyboard.vtt").decode()
    frames = [name for name in names if name.startswith("frame_")]
    assert len(frames) == 4, names
    assert all(name.endswith(".jpg") for name in frames), names
    assert [f["timestamp_seconds"] for f in manifest["frames"]] == [1.0, 1.5, 2.0, 2.5]
    assert manifest["options"]["quality"] == 70
    with zipfile.ZipFile(io.BytesIO(await alice.zip_of(jpeg["id"]))) as archive:
        assert decoded_size(archive.read(frames[0]), tmp_path) == "80x60"
    assert decoded_size(sheet, tmp_path).endswith("x60")
    assert cues.startswith("WEBVTT")
    assert cues.count("storyboard.jpg#xywh=") == 4

    webp_frames = frames_in_zip(await alice.zip_of(webp["id"]), ".webp")
    assert len(webp_frames) == 4
    assert all(frame[:4] == b"RIFF" and frame[8:12] == b"WEBP" for frame in webp_frames)
    assert decoded_size(webp_frames[0], tmp_path) == "160x120"


async def test_a_range_starting_after_the_video_ends_fails_it_with_that_reason(alice: User, tmp_path: Path) -> None:
    video = await alice.upload(make_video(tmp_path / "short.mp4", seconds=1), fields={"start_seconds": 30})

    failed = await alice.finished(video["id"])

    assert failed["status"] == "failed"
    assert "start" in failed["error"]["message"].lower(), failed["error"]

"""`framepipe client` as a person or a script uses it, run as a real command against the running system."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest

from ops.client.api import (
    EXIT_AUTH,
    EXIT_CONFLICT,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_UNAVAILABLE,
    BaseUrls,
)
from ops.dev.localinfra import free_port
from ops.dev.stack import DevStack
from tests.e2e.media import decoded_size
from tests.support.polling import eventually
from tests.support.receiver import Receiver
from tests.support.videos import make_video
from webhook_svc.signing import verify

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Client:
    """The command line with its own config directory (where the token is kept) and the stack's URLs."""

    def __init__(self, urls: BaseUrls, config_home: Path, origin: str | None = None) -> None:
        ambient = ("FRAMEPIPE_URL", "FRAMEPIPE_TOKEN")
        self.env = {k: v for k, v in os.environ.items() if k not in ambient}
        self.env.update(XDG_CONFIG_HOME=str(config_home))
        if origin:  # everything through the one origin, as in Compose and Kubernetes
            self.env.update(FRAMEPIPE_URL=origin)
        else:
            self.env.update(
                FRAMEPIPE_AUTH_URL=urls.auth,
                FRAMEPIPE_VIDEO_URL=urls.video,
                FRAMEPIPE_NOTIFY_URL=urls.notify,
                FRAMEPIPE_WEBHOOK_URL=urls.webhook,
            )
        self.token_file = config_home / "framepipe" / "token.json"

    def __call__(self, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
        return self.run(*args, cwd=cwd)

    def run(self, *args: str, cwd: Path = ROOT, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ops.cli", "client", *args],
            env=self.env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=100,
        )  # fmt: skip


@pytest.fixture
def client(urls: BaseUrls, tmp_path: Path) -> Client:
    return Client(urls, tmp_path / "config")


@pytest.fixture(params=["each service's URL", "the one origin"])
def any_client(request: pytest.FixtureRequest, urls: BaseUrls, stack: DevStack, tmp_path: Path) -> Client:
    origin = stack.url("gateway") if request.param == "the one origin" else None
    return Client(urls, tmp_path / "config", origin)


@pytest.fixture
def account(client: Client) -> tuple[str, str]:
    email, password = f"cli-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery"
    assert client("register", "--email", email, "--password", password).returncode == EXIT_OK
    return email, password


def test_the_client_registers_logs_in_uploads_watches_downloads_lists_and_deletes(
    any_client: Client, tmp_path: Path
) -> None:
    client = any_client
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    registered = client("register", "--email", email, "--password", "correct horse battery")
    assert registered.returncode == EXIT_OK, registered.stderr
    logged_in = client("login", "--email", email, "--password", "correct horse battery")
    assert logged_in.returncode == EXIT_OK, logged_in.stderr
    assert client.token_file.stat().st_mode & 0o777 == 0o600

    video_file = make_video(tmp_path / "holiday.mp4", seconds=4)
    uploaded = client("upload", str(video_file), "--interval", "2", "--format", "jpg")
    assert uploaded.returncode == EXIT_OK, uploaded.stderr
    assert "holiday.mp4" in uploaded.stderr
    assert "100%" in uploaded.stderr
    match = UUID.search(uploaded.stdout)
    assert match, uploaded.stdout
    video_id = match.group(0)

    watched = client("status", video_id, "--watch")
    assert watched.returncode == EXIT_OK, watched.stderr
    assert "done" in watched.stdout
    assert "2 frames" in watched.stdout

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    downloaded = client("download", video_id, "-o", str(downloads))
    assert downloaded.returncode == EXIT_OK, downloaded.stderr
    [archive] = list(downloads.iterdir())
    with zipfile.ZipFile(archive) as frames:
        jpgs = [name for name in frames.namelist() if name.endswith(".jpg")]
        assert len(jpgs) == 2
        assert decoded_size(frames.read(jpgs[0]), tmp_path) == "160x120"

    listed = client("list")
    assert listed.returncode == EXIT_OK
    assert re.search(rf"{video_id}\s+done\s+100%\s+holiday\.mp4", listed.stdout), listed.stdout
    assert client("notifications").returncode == EXIT_OK

    assert client("delete", video_id).returncode == EXIT_OK
    gone = client("status", video_id)
    assert gone.returncode == EXIT_NOT_FOUND
    assert "not found" in gone.stderr


def test_upload_flags_reach_the_server_and_refused_options_upload_nothing(
    client: Client, account: tuple[str, str], tmp_path: Path
) -> None:
    email, password = account
    assert client("login", "--email", email, "--password", password).returncode == EXIT_OK
    video_file = make_video(tmp_path / "options.mp4", seconds=2)

    for flags, named in (
        (("--mode", "keyframes", "--count", "3"), "--count"),
        (("--quality", "80"), "--quality"),  # png is lossless
        (("--start", "5", "--end", "2"), "--end"),
        (("--width", "8"), "--width"),
    ):
        refused = client("upload", str(video_file), *flags, "--json")
        assert refused.returncode == EXIT_REJECTED, refused.stderr
        assert named in refused.stderr, refused.stderr
        assert "nothing uploaded" in refused.stderr
        assert json.loads(refused.stdout)["error"]["exit_code"] == EXIT_REJECTED
    assert json.loads(client("list", "--json").stdout)["items"] == []

    every = ("--count", "3", "--start", "0.5", "--end", "1.5", "--width", "320", "--height", "200",
             "--format", "webp", "--quality", "70", "--skip-black-start", "--storyboard")  # fmt: skip
    uploaded = client("upload", str(video_file), *every, "--json")
    assert uploaded.returncode == EXIT_OK, uploaded.stderr
    [video] = json.loads(uploaded.stdout)["items"]
    expected = {
        "interval_seconds": 1.0, "image_format": "webp", "mode": "interval", "count": 3, "start_seconds": 0.5,
        "end_seconds": 1.5, "width": 320, "height": 200, "quality": 70, "scene_threshold": 0.3, "max_frames": None,
        "skip_black_start": True, "storyboard": True,
    }  # fmt: skip
    assert video["options"] == expected
    assert json.loads(client("status", video["id"], "--json").stdout)["options"] == expected

    scenes = client("upload", str(video_file), "--mode", "scenes", "--scene-threshold", "0.4", "--max-frames", "2",
                    "--interval", "2", "--format", "jpg")  # fmt: skip
    assert scenes.returncode == EXIT_OK, scenes.stderr
    scenes_id = UUID.findall(scenes.stdout)[-1]
    shown = client("status", scenes_id)
    assert "options: mode=scenes, interval=2.0, format=jpg, scene-threshold=0.4, max-frames=2" in shown.stdout


def test_the_client_explains_failures_with_exit_codes_a_script_can_branch_on(
    client: Client, account: tuple[str, str], urls: BaseUrls, tmp_path: Path
) -> None:
    email, password = account
    assert client("list").returncode == EXIT_AUTH  # not logged in yet

    wrong = client("login", "--email", email, "--password", "not the password")
    assert wrong.returncode == EXIT_AUTH
    assert "wrong e-mail or password" in wrong.stderr
    again = client("register", "--email", email, "--password", password)
    assert again.returncode == EXIT_CONFLICT
    assert "already registered" in again.stderr

    assert client("login", "--email", email, "--password", password).returncode == EXIT_OK
    assert client("status", str(uuid.uuid4())).returncode == EXIT_NOT_FOUND
    text = tmp_path / "notes.mp4"
    text.write_text("these are my notes, not a video\n" * 10)
    rejected = client("upload", str(text))
    assert rejected.returncode == EXIT_REJECTED
    assert "not a supported video" in rejected.stderr

    nobody = f"http://127.0.0.1:{free_port()}"
    unreachable = client("list", "--video-url", nobody)
    assert unreachable.returncode == EXIT_UNAVAILABLE
    assert "cannot reach" in unreachable.stderr


async def test_a_script_adds_a_webhook_and_receives_its_videos_outcome_signed(
    client: Client, account: tuple[str, str], tmp_path: Path
) -> None:
    email, password = account
    run = lambda *args, stdin="": asyncio.to_thread(client.run, *args, stdin=stdin)  # noqa: E731
    logged_in = await run("login", "--email", email, "--password-stdin", "--json", stdin=password + "\n")
    assert logged_in.returncode == EXIT_OK, logged_in.stderr
    async with Receiver() as receiver:
        added = await run("webhooks", "add", receiver.url(), "--type", "video.processed.v1", "--json")
        assert added.returncode == EXIT_OK, added.stderr
        endpoint = json.loads(added.stdout)
        uploaded = await run("upload", str(make_video(tmp_path / "hooked.mp4", seconds=2)), "--json")
        assert uploaded.returncode == EXIT_OK, uploaded.stderr
        [video] = json.loads(uploaded.stdout)["items"]
        await eventually(lambda: receiver.accepted, timeout=60)
        log = await run("webhooks", "deliveries", endpoint["id"], "--json")

    [request] = receiver.requests
    assert verify(endpoint["secret"], request.headers, request.body)
    event = json.loads(request.body)
    assert (event["type"], event["data"]["video_id"]) == ("video.processed.v1", video["id"])
    [delivery] = json.loads(log.stdout)["items"]
    assert (delivery["event_id"], delivery["status"]) == (event["id"], "succeeded")

"""The client as scripts use it, run as the real command against a small real HTTP server: one JSON document on
stdout, the password from stdin, the server remembered after login, retries on 429/503 that wait as asked and keep
the Idempotency-Key, `--version` and shell completion."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ops.client.api import EXIT_OK, EXIT_THROTTLED, Api, ApiError, BaseUrls, retry_after_seconds, save_token

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FakeServer:
    """video_svc and auth_svc as far as these tests need: uploads answer with `upload_answers` in turn."""

    upload_answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    uploads: list[tuple[float, str | None, int]] = field(default_factory=list)
    logins: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/login", self.login)
        app.router.add_post("/video", self.upload)
        app.router.add_get("/video", self.videos)
        return app

    async def login(self, request: web.Request) -> web.Response:
        self.logins.append(await request.json())
        return web.json_response({"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600})

    async def upload(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.uploads.append((time.monotonic(), request.headers.get("Idempotency-Key"), len(body)))
        status, headers = self.upload_answers.pop(0) if self.upload_answers else (202, {})
        if status != 202:
            problem = {"status": status, "code": "service_unavailable" if status == 503 else "too_many_requests"}
            return web.json_response(problem, status=status, headers=headers, content_type="application/problem+json")
        return web.json_response({"items": [{"id": "v-1", "status": "uploaded", "filename": "clip.mp4"}]}, status=202)

    async def videos(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer tok-1"
        return web.json_response({"items": [{"id": "v-1", "status": "done", "progress": 1, "filename": "clip.mp4"}]})


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeServer, str]]:
    server = FakeServer()
    test_server = TestServer(server.app())
    await test_server.start_server()
    yield server, str(test_server.make_url("")).rstrip("/")
    await test_server.close()


async def framepipe(config: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAMEPIPE_")}
    env["XDG_CONFIG_HOME"] = str(config)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ops.cli", *args, cwd=ROOT, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_a_script_logs_in_from_stdin_and_later_commands_reuse_the_remembered_server(
    fake: tuple[FakeServer, str], tmp_path: Path
) -> None:
    server, url = fake
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 50_000)
    server.upload_answers = [(503, {"Retry-After": "1"})]

    login = await framepipe(tmp_path, "client", "login", "--email", "a@example.com", "--password-stdin", "--url", url,
                            "--json", stdin="s3cret pass\n")  # fmt: skip
    upload = await framepipe(tmp_path, "client", "upload", str(video), "--json")
    listed = await framepipe(tmp_path, "client", "list", "--json")

    assert login[0] == EXIT_OK, login[2]
    assert server.logins == [{"email": "a@example.com", "password": "s3cret pass"}]
    assert json.loads(login[1])["url"] == url
    saved = json.loads((tmp_path / "framepipe" / "token.json").read_text())
    assert saved["server"] == {"url": url}
    assert upload[0] == EXIT_OK, upload[2]
    assert json.loads(upload[1]) == {
        "items": [{"file": str(video), "id": "v-1", "status": "uploaded", "filename": "clip.mp4"}]
    }
    assert "retry 1 in 1 s" in upload[2]
    (first_at, first_key, first_size), (second_at, second_key, second_size) = server.uploads
    assert first_key is not None
    assert first_key == second_key  # the retry is the same upload for the server
    assert second_at - first_at >= 0.95  # Retry-After was honoured
    assert first_size == second_size > 50_000  # the whole file was sent again
    assert listed[0] == EXIT_OK
    assert [v["id"] for v in json.loads(listed[1])["items"]] == ["v-1"]
    assert len(listed[1].strip().splitlines()) == 1


async def test_a_failure_with_json_is_one_error_document_on_stdout_and_its_exit_code(
    fake: tuple[FakeServer, str], tmp_path: Path
) -> None:
    server, url = fake
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 1000)
    server.upload_answers = [(429, {"Retry-After": "600"})]
    save_token(tmp_path / "framepipe" / "token.json", {"access_token": "tok-1"})

    code, out, err = await framepipe(tmp_path, "client", "upload", str(video), "--url", url, "--json")

    assert code == EXIT_THROTTLED
    [item] = json.loads(out)["items"]
    assert item["error"]["status"] == 429
    assert item["error"]["retry_after"] == "600"
    assert len(server.uploads) == 1  # a wait longer than --max-wait is not waited for
    assert "too many attempts" in err


async def test_retries_stop_after_the_limit_and_use_backoff_without_retry_after(fake: tuple[FakeServer, str]) -> None:
    server, url = fake
    server.upload_answers = [(503, {})] * 5
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    path = Path(__file__)
    async with aiohttp.ClientSession() as session:
        api = Api(session, BaseUrls(url, url, url), "tok", retries=2, sleep=no_sleep)
        with pytest.raises(ApiError) as error:
            await api.upload(path, {}, lambda _: None, "key-1")

    assert error.value.status == 503
    assert waits == [1.0, 2.0]
    assert [key for _, key, _ in server.uploads] == ["key-1"] * 3


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_the_environment_and_flags_win_over_the_remembered_server() -> None:
    remembered = {"url": "http://saved:8080"}
    assert BaseUrls.from_options(None, None, None, None, {}, remembered=remembered).video == "http://saved:8080"
    env = {"FRAMEPIPE_VIDEO_URL": "http://env-video"}
    from_env = BaseUrls.from_options(None, None, None, None, env, remembered={"video": "http://saved-video"})
    assert from_env.video == "http://env-video"
    flagged = BaseUrls.from_options(None, None, "http://flag", None, {}, remembered=remembered)
    assert (flagged.video, flagged.auth) == ("http://flag", "http://127.0.0.1:8081")


async def test_version_and_completion_come_from_the_command_itself(tmp_path: Path) -> None:
    version = await framepipe(tmp_path, "--version")
    client_version = await framepipe(tmp_path, "client", "--version")
    script = await framepipe(tmp_path, "completion", "bash")

    assert version[1].startswith("framepipe ")
    assert "event contract 1." in version[1]
    assert client_version[1] == version[1]
    completions = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", 'source /dev/stdin; COMP_WORDS=(framepipe client we); COMP_CWORD=2; _shtab_framepipe; '
                       'echo "${COMPREPLY[@]}"'],
        input=script[1], capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert completions.stdout.split() == ["webhooks"]

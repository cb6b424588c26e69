"""The client's contract with scripts and people: exit codes, messages, the saved token, base URLs, and what it
sends and understands on the wire (against a small real HTTP server)."""

from __future__ import annotations

import argparse
import io
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ops.client.api import (
    EXIT_AUTH,
    EXIT_CONFLICT,
    EXIT_NOT_FOUND,
    EXIT_REJECTED,
    EXIT_THROTTLED,
    EXIT_UNAVAILABLE,
    Api,
    ApiError,
    BaseUrls,
    load_token,
    save_token,
    token_path,
)
from ops.client.messages import explain
from ops.client.progress import ProgressBar, human_bytes


@pytest.mark.parametrize(
    ("status", "exit_code"),
    [(401, EXIT_AUTH), (404, EXIT_NOT_FOUND), (409, EXIT_CONFLICT), (413, EXIT_REJECTED), (415, EXIT_REJECTED),
     (422, EXIT_REJECTED), (429, EXIT_THROTTLED), (500, EXIT_UNAVAILABLE), (503, EXIT_UNAVAILABLE),
     (0, EXIT_UNAVAILABLE)],
)  # fmt: skip
def test_each_kind_of_failure_has_its_own_exit_code(status: int, exit_code: int) -> None:
    assert ApiError(status, "x", "y").exit_code == exit_code


def test_messages_say_what_to_do_next() -> None:
    args = argparse.Namespace(video_id="v1")
    throttled = ApiError(429, "too_many_attempts", "Too many failed logins.", retry_after="42")
    not_ready = ApiError(409, "not_ready", "not yet", extra={"status": 409, "video_status": "processing"})
    invalid = ApiError(422, "validation_error", "Invalid", extra={"errors": [{"field": "interval_seconds",
                                                                              "message": "too small"}]})  # fmt: skip

    assert "try again in 42 s" in explain(throttled, args).lower()
    assert "(status: processing)" in explain(not_ready, args)
    assert "interval_seconds: too small" in explain(invalid, args)
    assert "not found (or it is not yours)" in explain(ApiError(404, "not_found", "Not Found"), args)
    assert "framepipe client login" in explain(ApiError(401, "invalid_token", "expired"), args)


def test_the_token_is_saved_readable_by_its_owner_only_and_read_back(tmp_path: Path) -> None:
    path = token_path({"XDG_CONFIG_HOME": str(tmp_path)})
    save_token(path, {"access_token": "abc", "email": "a@example.com"})
    save_token(path, {"access_token": "def", "email": "a@example.com"})

    assert path == tmp_path / "framepipe" / "token.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_token(path) == "def"
    assert load_token(tmp_path / "missing.json") is None


def test_one_origin_wins_over_per_service_urls_which_win_over_the_environment() -> None:
    env = {"FRAMEPIPE_AUTH_URL": "http://env-auth", "FRAMEPIPE_VIDEO_URL": "http://env-video"}
    assert BaseUrls.from_options("http://proxy:8080/", "http://a", None, None, env) == BaseUrls(
        "http://proxy:8080", "http://proxy:8080", "http://proxy:8080", "http://proxy:8080"
    )
    assert BaseUrls.from_options(None, "http://a", None, None, env) == BaseUrls(
        "http://a", "http://env-video", "http://127.0.0.1:8083"
    )


def test_the_progress_bar_shows_the_fraction_and_ends_on_one_line_when_not_on_a_terminal() -> None:
    out = io.StringIO()
    bar = ProgressBar("clip.mp4", 2_000_000, stream=out)
    bar.update(500_000)
    assert out.getvalue() == ""  # no carriage-return noise in logs
    assert "[#######---------------------]   25%" in bar.render()
    bar.update(2_000_000)
    bar.close("accepted")

    assert out.getvalue().count("\n") == 1
    assert "100%" in out.getvalue()
    assert "2.0 MB/2.0 MB" in out.getvalue()
    assert "accepted" in out.getvalue()
    assert human_bytes(999) == "999 B"
    assert human_bytes(1_500_000_000) == "1.5 GB"


@pytest.fixture
async def fake_video_api() -> AsyncIterator[tuple[TestServer, list[dict[str, object]]]]:
    """A stand-in for video_svc that records uploads and answers like it (or with a problem)."""
    received: list[dict[str, object]] = []

    async def upload(request: web.Request) -> web.Response:
        # The raw body, not aiohttp's multipart reader: the test is about what the client puts on the wire.
        body = await request.read()
        received.append(
            {
                "authorization": request.headers.get("Authorization"),
                "chunked": request.headers.get("Transfer-Encoding") == "chunked",
                "order": [body.find(f'name="{n}"'.encode()) for n in ("interval_seconds", "image_format", "file")],
                "body": body,
            }
        )
        return web.json_response({"items": [{"id": "v1", "status": "uploaded"}]}, status=202)

    async def missing(_: web.Request) -> web.Response:
        body = {"code": "not_found", "title": "Not Found", "status": 404, "detail": "No such video."}
        return web.json_response(body, status=404, content_type="application/problem+json")

    app = web.Application()
    app.router.add_post("/video", upload)
    app.router.add_get("/video/{id}", missing)
    server = TestServer(app)
    await server.start_server()
    yield server, received
    await server.close()


async def test_an_upload_streams_the_file_with_its_options_first_and_counts_every_byte(
    fake_video_api: tuple[TestServer, list[dict[str, object]]], tmp_path: Path
) -> None:
    server, received = fake_video_api
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 700_000)
    counted: list[int] = []
    url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        answer = await Api(session, BaseUrls(url, url, url), "tok").upload(
            video, {"interval_seconds": "2.0", "image_format": "jpg"}, counted.append
        )

    assert answer["items"][0]["id"] == "v1"
    sent = received[0]
    assert sent["authorization"] == "Bearer tok"
    assert sent["chunked"]  # streamed: the size is not known up front
    order = sent["order"]
    assert isinstance(order, list)
    assert -1 < order[0] < order[1] < order[2]
    body = sent["body"]
    assert isinstance(body, bytes)
    assert b'filename="clip.mp4"' in body
    assert b"Content-Type: video/mp4" in body
    assert b"\r\n\r\n2.0\r\n" in body
    assert b"\x00" * 700_000 in body
    assert counted[-1] == 700_000


async def test_a_problem_response_becomes_an_error_with_its_code_and_detail(
    fake_video_api: tuple[TestServer, list[dict[str, object]]],
) -> None:
    server, _ = fake_video_api
    url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ApiError) as error:
            await Api(session, BaseUrls(url, url, url), "tok").video("v9")
        with pytest.raises(ApiError) as anonymous:
            await Api(session, BaseUrls(url, url, url), None).video("v9")

    assert (error.value.status, error.value.code, error.value.detail) == (404, "not_found", "No such video.")
    assert anonymous.value.exit_code == EXIT_AUTH
    assert json.dumps(error.value.extra)

"""A user of the running system: their API (the client's own) and what they can observe."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp

from ops.client.api import Api, BaseUrls
from ops.dev.localinfra import MailSink

TERMINAL = ("done", "failed")


@dataclass
class User:
    email: str
    password: str
    api: Api

    async def upload(self, path: Path, **options: Any) -> dict[str, Any]:
        if "as_name" in options:  # the same bytes under a file name of its own
            named = path.with_name(options["as_name"])
            with contextlib.suppress(FileExistsError):  # concurrent users share the source file
                named.hardlink_to(path)
            path = named
        fields = {"interval_seconds": options.get("interval"), "image_format": options.get("image_format")}
        fields.update(options.get("fields", {}))  # any other processing option, by its form field's name
        given = {name: str(value) for name, value in fields.items() if value is not None}
        answer = await self.api.upload(path, given, lambda _: None)
        video: dict[str, Any] = answer["items"][0]
        return video

    async def finished(self, video_id: str, timeout: float = 60) -> dict[str, Any]:
        """The video once it is `done` or `failed`; fails the test if it is still moving after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            video = await self.api.video(video_id)
            if video["status"] in TERMINAL:
                return video
            assert loop.time() < deadline, f"video {video_id} still {video['status']} after {timeout}s"
            await asyncio.sleep(0.25)

    async def zip_of(self, video_id: str) -> bytes:
        link = await self.api.download_link(video_id)
        async with self.api.session.get(link["url"]) as response:
            assert response.status == 200, response.status
            return await response.read()

    def mail(self, sink: MailSink, kind: str | None = None) -> list[EmailMessage]:
        subjects = {"done": "Your frames are ready", "failed": "We could not process"}
        messages = sink.to(self.email)
        return [m for m in messages if kind is None or str(m["Subject"]).startswith(subjects[kind])]


def mentions(message: EmailMessage, video: dict[str, Any]) -> bool:
    """The e-mail is about this video: it names the video's file, or carries its id (in the link to it).
    Tests that tell videos apart give each upload a file name of its own."""
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    return video["filename"] in str(message["Subject"]) or video["id"] in text


async def sign_up(http: aiohttp.ClientSession, urls: BaseUrls, label: str) -> User:
    email = f"{label}-{uuid.uuid4().hex[:8]}@example.com"
    password = f"pw-{uuid.uuid4().hex}"
    anonymous = Api(http, urls, None)
    await anonymous.register(email, password)
    token = (await anonymous.login(email, password))["access_token"]
    return User(email=email, password=password, api=Api(http, urls, token))

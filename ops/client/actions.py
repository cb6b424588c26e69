"""What the client's commands do: each takes the parsed arguments and the API, answers through `args.out` (lines
for a person, or one JSON document with --json), and returns an exit code."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from contracts import TERMINAL_STATUSES as TERMINAL
from ops.client.api import (
    EXIT_OK,
    EXIT_OTHER,
    EXIT_REJECTED,
    EXIT_VIDEO_FAILED,
    Api,
    ApiError,
    Progress,
    save_token,
)
from ops.client.messages import explain
from ops.client.options import chosen_options, described, refusal
from ops.client.output import Output, error_document
from ops.client.progress import ProgressBar, human_bytes


def _out(args: argparse.Namespace) -> Output:
    out: Output = args.out
    return out


async def register(args: argparse.Namespace, api: Api) -> int:
    user = await api.register(args.email, args.password)
    _out(args).result(user, [f"registered {user.get('email', args.email)} (user id {user.get('id')})"])
    _out(args).note(f"next: framepipe client login --email {args.email}")
    return EXIT_OK


async def login(args: argparse.Namespace, api: Api) -> int:
    answer = await api.login(args.email, args.password)
    expires_in = int(answer.get("expires_in") or 0)
    record = {
        "access_token": answer["access_token"],
        "email": args.email,
        "auth_url": api.urls.auth,
        "server": args.explicit_urls,
        "expires_at": int(time.time()) + expires_in,
    }
    save_token(args.token_file, record)
    document = {"email": args.email, "token_file": str(args.token_file), "expires_in": expires_in, **args.explicit_urls}
    line = f"logged in as {args.email}; token saved to {args.token_file} (valid {expires_in // 60} min)"
    _out(args).result(document, [line])
    return EXIT_OK


async def upload(args: argparse.Namespace, api: Api) -> int:
    options = chosen_options(args)
    refused = refusal(options)
    if refused is not None:
        _out(args).failure(f"options refused, nothing uploaded: {refused}", None, EXIT_REJECTED)
        return EXIT_REJECTED
    worst = EXIT_OK
    results: list[dict[str, Any]] = []
    for index, name in enumerate(args.files):
        path = Path(name)
        if not await asyncio.to_thread(path.is_file):
            print(f"error: {name}: no such file", file=sys.stderr)
            results.append({"file": name, "error": error_document("no such file", None, EXIT_OTHER)})
            worst = max(worst, EXIT_OTHER)
            continue
        bar = ProgressBar(_label(path.name), (await asyncio.to_thread(path.stat)).st_size)
        key = _idempotency_key(args.idempotency_key, index, len(args.files))
        try:
            answer = await api.upload(path, options, bar.update, key)
        except ApiError as error:
            bar.close("rejected")
            message = explain(error, args)
            print(f"error: {path.name}: {message}", file=sys.stderr)
            results.append({"file": name, "error": error_document(message, error, error.exit_code)})
            worst = max(worst, error.exit_code)
            continue
        video = answer["items"][0]
        bar.close(f"accepted as {video['id']}")
        results.append({"file": name, **video})
        if not args.out.as_json:
            print(f"{video['id']}  {video['status']:<10}  {path.name}")
    _out(args).result({"items": results})
    if worst == EXIT_OK:
        _out(args).note("follow them with: framepipe client list   (or: framepipe client status ID --watch)")
    return worst


def _idempotency_key(given: str | None, index: int, count: int) -> str | None:
    """--idempotency-key names one upload; with several files each gets the key and its position."""
    if given is None:
        return None
    return given if count == 1 else f"{given}-{index + 1}"


async def list_videos(args: argparse.Namespace, api: Api) -> int:
    videos = await api.videos(args.status)
    _out(args).result({"items": videos}, [_line(video) for video in videos])
    if not videos:
        _out(args).note("no videos yet: framepipe client upload FILE")
    return EXIT_OK


async def status(args: argparse.Namespace, api: Api) -> int:
    video = await api.video(args.video_id)
    if args.watch and video["status"] not in TERMINAL:
        video = await _watch(args, api, video)
    _out(args).result(video, [_details(video)])
    return EXIT_VIDEO_FAILED if args.watch and video["status"] == "failed" else EXIT_OK


async def _watch(args: argparse.Namespace, api: Api, video: dict[str, Any]) -> dict[str, Any]:
    bar = ProgressBar(_label(video["filename"]), 1.0, unit="fraction")
    while video["status"] not in TERMINAL:
        bar.update(float(video.get("progress") or 0), video["status"])
        await asyncio.sleep(args.poll)
        video = await api.video(args.video_id)
    bar.update(1.0 if video["status"] == "done" else bar.done)
    bar.close(video["status"])
    return video


async def download(args: argparse.Namespace, api: Api) -> int:
    link = await api.download_link(args.video_id)
    target = Path(args.output) if args.output else Path.cwd()
    bars: list[ProgressBar] = []

    def started(total: int | None, name: str | None) -> Progress:
        bars.append(ProgressBar(_label(name or args.video_id), total))
        return bars[0].update

    saved = await api.fetch(link["url"], target, started)
    if bars:
        bars[0].close()
    size = saved.stat().st_size
    _out(args).result({"path": str(saved), "size_bytes": size}, [f"saved {saved} ({human_bytes(size)})"])
    return EXIT_OK


async def delete(args: argparse.Namespace, api: Api) -> int:
    await api.delete(args.video_id)
    _out(args).result({"id": args.video_id, "deleted": True}, [f"deleted {args.video_id}"])
    return EXIT_OK


async def notifications(args: argparse.Namespace, api: Api) -> int:
    items = await api.notifications()
    lines = [
        f"{item.get('sent_at') or item.get('created_at') or '':<32}  {item.get('kind', ''):<9}  "
        f"{item.get('status', ''):<7}  {item.get('video_id')}  {item.get('subject', '')}"
        for item in items
    ]
    _out(args).result({"items": items}, lines)
    if not items:
        _out(args).note("no notifications yet")
    return EXIT_OK


def _label(name: str, width: int = 24) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _line(video: dict[str, Any]) -> str:
    progress = float(video.get("progress") or 0) * 100
    extra = ""
    if video["status"] == "done" and video.get("frame_count") is not None:
        extra = f"  ({video['frame_count']} frames)"
    elif video["status"] == "failed" and video.get("error"):
        extra = f"  ({video['error'].get('code')})"
    return f"{video['id']}  {video['status']:<10}  {progress:3.0f}%  {video['filename']}{extra}"


def _details(video: dict[str, Any]) -> str:
    lines = [_line(video)]
    if isinstance(video.get("options"), dict):
        lines.append(f"  options: {described(video['options'])}")
    if video["status"] == "done":
        size = video.get("result_size_bytes")
        zip_size = f", ZIP {human_bytes(size)}" if size else ""
        lines.append(f"  {video.get('frame_count')} frames{zip_size}: framepipe client download {video['id']}")
    if video["status"] == "failed" and video.get("error"):
        lines.append(f"  failed: {video['error'].get('message')} [{video['error'].get('code')}]")
    return "\n".join(lines)

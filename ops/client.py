"""`framepipe client`: register, log in, upload videos, follow them, download their frames — through the HTTP API
only, as any user would. Messages are for people; exit codes are for scripts (listed in `--help`)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiohttp

from ops import client_commands as commands
from ops.client_api import EXIT_CODES_HELP, EXIT_OTHER, Api, ApiError, BaseUrls, load_token, token_path
from ops.client_messages import explain

if TYPE_CHECKING:
    from ops.cli import Subparsers

Command = Callable[[argparse.Namespace, Api], Awaitable[int]]


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "client",
        help="use framepipe as a user: upload videos, follow them, download frames",
        description="Talk to a running framepipe (e.g. `make run`) through its HTTP API.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    common = _common_options()

    def add(name: str, command: Command, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name, help=help_text, description=help_text, parents=[common], epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        p.set_defaults(handler=run, command=command)
        return p

    for name, help_text, command in (("register", "create an account", commands.register),
                                     ("login", "log in and keep the token (mode 600)", commands.login)):  # fmt: skip
        p = add(name, command, help_text)
        p.add_argument("--email", required=True)
        p.add_argument("--password", help="prompted for when omitted")
    p = add("upload", commands.upload, "upload one or more videos, with a progress bar per file")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--interval", type=float, metavar="S", help="seconds between frames (server default 1)")
    p.add_argument("--format", choices=("png", "jpg"), dest="image_format", help="frame format (server default png)")
    p = add("list", commands.list_videos, "list your videos: id, status, progress, file name")
    p.add_argument("--status", choices=("uploaded", "processing", "done", "failed"))
    p = add("status", commands.status, "show one video; --watch follows it until done or failed")
    p.add_argument("video_id", metavar="ID")
    p.add_argument("--watch", action="store_true", help="a progress bar until the video is done or failed")
    p.add_argument("--poll", type=float, default=0.5, metavar="S", help=argparse.SUPPRESS)
    p = add("download", commands.download, "download a video's ZIP of frames, with a progress bar")
    p.add_argument("video_id", metavar="ID")
    p.add_argument("-o", "--output", metavar="PATH", help="file or directory (default: the current directory)")
    p = add("delete", commands.delete, "delete a video, its upload and its frames")
    p.add_argument("video_id", metavar="ID")
    add("notifications", commands.notifications, "list the e-mails sent to you")


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("server")
    group.add_argument("--url", help="one origin for every service (reverse proxy); env FRAMEPIPE_URL")
    group.add_argument("--auth-url", help="auth_svc (env FRAMEPIPE_AUTH_URL, default http://127.0.0.1:8081)")
    group.add_argument("--video-url", help="video_svc (env FRAMEPIPE_VIDEO_URL, default http://127.0.0.1:8082)")
    group.add_argument("--notify-url", help="notify_svc (env FRAMEPIPE_NOTIFY_URL, default http://127.0.0.1:8083)")
    return common


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    urls = BaseUrls.from_options(args.url, args.auth_url, args.video_url, args.notify_url, env)
    args.token_file = token_path(env)
    token = env.get("FRAMEPIPE_TOKEN") or load_token(args.token_file)
    if getattr(args, "password", "") is None:
        args.password = _ask_password(args.command is commands.register)
    try:
        return asyncio.run(_call(args, urls, token))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


async def _call(args: argparse.Namespace, urls: BaseUrls, token: str | None) -> int:
    timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            code: int = await args.command(args, Api(session, urls, token))
            return code
        except ApiError as error:
            print(f"error: {explain(error, args)}", file=sys.stderr)
            return error.exit_code
        except OSError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_OTHER


def _ask_password(confirm: bool) -> str:
    password = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Repeat password: ") != password:
        print("error: the passwords do not match", file=sys.stderr)
        raise SystemExit(EXIT_OTHER)
    return password

"""`framepipe client`: register, log in, upload videos, follow them, download their frames, manage webhooks —
through the HTTP API only, as any user would. Messages are for people, `--json` documents and exit codes for
scripts (listed in `--help`)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from contracts import VideoStatus
from ops.client import actions, webhooks
from ops.client.api import (
    EXIT_CODES_HELP,
    EXIT_OTHER,
    Api,
    ApiError,
    BaseUrls,
    explicit_urls,
    load_session,
    token_path,
)
from ops.client.messages import explain
from ops.client.options import add_option_flags
from ops.client.output import Output
from ops.command import Subparsers
from ops.version import version_text

Command = Callable[[argparse.Namespace, Api], Awaitable[int]]


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "client",
        help="use framepipe as a user: upload videos, follow them, download frames, manage webhooks",
        description="Talk to a running framepipe (e.g. `make run`) through its HTTP API.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    common = _common_options()

    def add(parent: Any, name: str, command: Command, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(
            name, help=help_text, description=help_text, parents=[common], epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        p.set_defaults(handler=run, command=command)
        return p

    for name, help_text, command in (("register", "create an account", actions.register),
                                     ("login", "log in and keep the token (mode 600)", actions.login)):  # fmt: skip
        p = add(sub, name, command, help_text)
        p.add_argument("--email", required=True)
        secret = p.add_mutually_exclusive_group()
        secret.add_argument("--password", help="prompted for when omitted")
        secret.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p = add(sub, "upload", actions.upload, "upload one or more videos, with a progress bar per file")
    p.add_argument("files", nargs="+", metavar="FILE")
    add_option_flags(p)
    p.add_argument("--idempotency-key", metavar="KEY",
                   help="run the command again with the same KEY and the upload is not repeated")  # fmt: skip
    p = add(sub, "list", actions.list_videos, "list your videos: id, status, progress, file name")
    p.add_argument("--status", choices=list(VideoStatus))
    p = add(sub, "status", actions.status, "show one video; --watch follows it until done or failed")
    p.add_argument("video_id", metavar="ID")
    p.add_argument("--watch", action="store_true", help="a progress bar until the video is done or failed")
    p.add_argument("--poll", type=float, default=0.5, metavar="S", help=argparse.SUPPRESS)
    p = add(sub, "download", actions.download, "download a video's ZIP of frames, with a progress bar")
    p.add_argument("video_id", metavar="ID")
    p.add_argument("-o", "--output", metavar="PATH", help="file or directory (default: the current directory)")
    p = add(sub, "delete", actions.delete, "delete a video, its upload and its frames")
    p.add_argument("video_id", metavar="ID")
    add(sub, "notifications", actions.notifications, "list the e-mails sent to you")
    webhooks.register(sub, add)


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    output = common.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print one JSON document on stdout (errors too)")
    group = common.add_argument_group("server (remembered at login)")
    group.add_argument("--url", help="one origin for every service (reverse proxy); env FRAMEPIPE_URL")
    group.add_argument("--auth-url", help="auth_svc (env FRAMEPIPE_AUTH_URL, default http://127.0.0.1:8081)")
    group.add_argument("--video-url", help="video_svc (env FRAMEPIPE_VIDEO_URL, default http://127.0.0.1:8082)")
    group.add_argument("--notify-url", help="notify_svc (env FRAMEPIPE_NOTIFY_URL, default http://127.0.0.1:8083)")
    group.add_argument("--webhook-url", help="webhook_svc (env FRAMEPIPE_WEBHOOK_URL, default http://127.0.0.1:8089)")
    retry = common.add_argument_group("retries")
    retry.add_argument("--retries", type=int, default=3, metavar="N",
                       help="send again after 429/503, waiting as the server asks (default 3)")  # fmt: skip
    retry.add_argument("--max-wait", type=float, default=60.0, metavar="S",
                       help="give up instead of waiting longer than this for a retry (default 60)")  # fmt: skip
    return common


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    args.out = Output(args.json)
    args.token_file = token_path(env)
    session = load_session(args.token_file)
    per_service = {
        "auth": args.auth_url,
        "video": args.video_url,
        "notify": args.notify_url,
        "webhook": args.webhook_url,
    }
    remembered = session.get("server") if isinstance(session.get("server"), dict) else None
    urls = BaseUrls.from_options(
        args.url, args.auth_url, args.video_url, args.notify_url, env, webhook=args.webhook_url, remembered=remembered
    )
    args.explicit_urls = explicit_urls(args.url, per_service, env)
    token = env.get("FRAMEPIPE_TOKEN") or session.get("access_token")
    if hasattr(args, "password"):
        args.password = _password(args)
    try:
        return asyncio.run(_call(args, urls, token if isinstance(token, str) else None))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


async def _call(args: argparse.Namespace, urls: BaseUrls, token: str | None) -> int:
    timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        api = Api(session, urls, token, retries=max(args.retries, 0), max_wait=args.max_wait, on_retry=_retrying)
        try:
            code: int = await args.command(args, api)
            return code
        except ApiError as error:
            args.out.failure(explain(error, args), error, error.exit_code)
            return error.exit_code
        except OSError as error:
            args.out.failure(str(error), None, EXIT_OTHER)
            return EXIT_OTHER


def _retrying(error: ApiError, wait: float, attempt: int) -> None:
    print(f"note: the server answered {error.status} ({error.code}); retry {attempt} in {wait:g} s", file=sys.stderr)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            print("error: --password-stdin: no password on standard input", file=sys.stderr)
            raise SystemExit(EXIT_OTHER)
        return password
    if args.password is not None:
        return str(args.password)
    password = getpass.getpass("Password: ")
    if args.command is actions.register and getpass.getpass("Repeat password: ") != password:
        print("error: the passwords do not match", file=sys.stderr)
        raise SystemExit(EXIT_OTHER)
    return password

"""`framepipe dev`: run the local stack in the foreground until Ctrl-C, then stop every child cleanly."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ops.command import Subparsers
from ops.dev.env import DEFAULT_PORTS_BASE, Ports, load_settings

if TYPE_CHECKING:
    from ops.dev.stack import DevStack

DESCRIPTION = """\
Run the whole system on this machine: a local S3-compatible server (bucket created), a local SMTP sink
(messages saved under var/mail/), JWT keys (var/keys/, made on first run), the database, and auth_svc, video_svc,
notify_svc, webhook_svc and processor_svc as child processes. Settings come from the environment, then .env, then
defaults; set S3_ENDPOINT_URL or a non-local SMTP_HOST to use real servers instead of the local ones. Ctrl-C stops
everything.
"""


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("dev", help="run the whole system locally", description=DESCRIPTION)
    parser.add_argument("--processors", type=int, default=1, metavar="N", help="processor workers (default 1)")
    parser.add_argument(
        "--video-replicas", type=int, default=1, metavar="N", help="video_svc replicas behind the gateway (default 1)"
    )
    parser.add_argument("--no-local-s3", action="store_true", help="do not start the local S3 server")
    parser.add_argument("--no-local-smtp", action="store_true", help="do not start the local SMTP sink")
    parser.add_argument(
        "--ports-base",
        type=int,
        default=None,
        metavar="PORT",
        help="the gateway listens on PORT, auth on PORT+1, video +2, notify +3, webhook +9, processors +4… "
        f"(default: $FRAMEPIPE_PORTS_BASE or {DEFAULT_PORTS_BASE})",
    )
    parser.add_argument("--ready-timeout", type=float, default=120.0, metavar="S", help="seconds to wait for /readyz")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: every other `framepipe` command would otherwise pay for the whole runtime at start-up.
    from ops.dev.stack import DevConfig, DevStack

    if args.processors < 1 or args.video_replicas < 1:
        print("framepipe dev: --processors and --video-replicas must be at least 1", file=sys.stderr)
        return 1
    root = Path.cwd()
    settings = load_settings(root)
    base = args.ports_base or int(settings.get("FRAMEPIPE_PORTS_BASE") or DEFAULT_PORTS_BASE)
    config = DevConfig(
        settings=settings,
        root=root,
        processors=args.processors,
        video_replicas=args.video_replicas,
        local_s3=not args.no_local_s3,
        local_smtp=not args.no_local_smtp,
        ports=Ports(base=base),
        ready_timeout=args.ready_timeout,
    )
    return asyncio.run(serve(DevStack(config)))


async def serve(stack: DevStack) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    starting = asyncio.create_task(stack.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        print("\nframepipe dev: stopping before the stack was ready…", file=sys.stderr)
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        return 130
    stopping.cancel()
    if (error := starting.exception()) is not None:
        print(f"\nframepipe dev: {error}", file=sys.stderr)
        return 1
    print(banner(stack), flush=True)
    code = await supervise(stack, stop)
    print("\nframepipe dev: stopping…", file=sys.stderr, flush=True)
    await stack.stop()
    print("framepipe dev: stopped.", file=sys.stderr, flush=True)
    return code


async def supervise(stack: DevStack, stop: asyncio.Event) -> int:
    """Wait for Ctrl-C; a service that dies on its own stops the stack (a half system only misleads)."""
    while not stop.is_set():
        for name, process in stack.processes.items():
            if not process.running:
                print(
                    f"\nframepipe dev: {name} exited with code {process.returncode}. Its last lines:\n"
                    f"{process.last_lines()}",
                    file=sys.stderr,
                )
                return 1
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except TimeoutError:
            continue
    return 0


def _client_urls(stack: DevStack) -> list[str]:
    """The client's defaults are the standard ports; on others it is told the one origin."""
    if stack.config.ports.base == DEFAULT_PORTS_BASE:
        return []
    return [f"  export FRAMEPIPE_URL={stack.url('gateway')}"]


def banner(stack: DevStack) -> str:
    mail = f"{stack.config.var / 'mail'}/ (one .eml per message)" if stack.mail_sink else stack.settings["SMTP_HOST"]
    lines = [
        "",
        "framepipe is running.",
        f"  web app      {stack.url('gateway')}/  (the page, and every API on the same origin)",
        f"  auth         {stack.url('auth')}",
        *(f"  {name:<12} {stack.url(name)}" for name in stack.video_replicas),
        f"  notify       {stack.url('notify')}",
        f"  webhook      {stack.url('webhook')}",
        *(f"  {p.name:<12} {stack.url(p.name)}/metrics" for p in stack.processors),
        f"  S3           {stack.settings.get('S3_ENDPOINT_URL') or 'AWS'} (bucket {stack.settings['S3_BUCKET']})",
        f"  mail         {mail}",
        "",
        f"Open {stack.url('gateway')}/ in a browser, or, in another terminal:",
        *_client_urls(stack),
        "  .venv/bin/framepipe client register --email you@example.com",
        "  .venv/bin/framepipe client login --email you@example.com",
        "  .venv/bin/framepipe client upload my-video.mp4",
        "",
        "Ctrl-C stops everything.",
    ]
    if os.environ.get("NO_COLOR") is None and sys.stdout.isatty():
        lines[1] = f"\x1b[1m{lines[1]}\x1b[0m"
    return "\n".join(lines)

"""How operator commands reach the broker: the `--amqp-url` option, whose default is AMQP_URL (the variable the
services read), and the connection itself (servicekit's, so the confirmed Publisher works on it unchanged)."""

from __future__ import annotations

import argparse
import os

from aio_pika.abc import AbstractRobustConnection

from servicekit.bus import connect as bus_connect

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def add_connection_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--amqp-url",
        default=os.environ.get("AMQP_URL", DEFAULT_AMQP_URL),
        help=f"broker URL (default: $AMQP_URL, else {DEFAULT_AMQP_URL})",
    )


async def connect(url: str, job: str) -> AbstractRobustConnection:
    return await bus_connect(url, f"framepipe-ops/{job}")

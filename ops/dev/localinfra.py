"""Local stand-ins for the infrastructure a laptop lacks: an S3-compatible server (moto, in its own process)
and an SMTP sink (aiosmtpd) that saves each message as a `.eml` file. Used by `framepipe dev` and the tests.

moto and aiosmtpd come with the `local` extra (`pip install 'framepipe[local]'`, which `make install` does), not
with the services: the images leave them out, and importing this module needs neither."""

from __future__ import annotations

import contextlib
import email
import email.policy
import importlib.util
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller

LOCAL_EXTRA_HINT = "install the local stand-ins first: pip install -e '.[local]' (make install does)"


class LocalToolMissing(RuntimeError):
    """moto or aiosmtpd is not installed (they come with the `local` extra)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class LocalS3:
    """moto's S3 server in a child process (objects live in its memory)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        if importlib.util.find_spec("moto") is None:
            raise LocalToolMissing(f"moto is missing: {LOCAL_EXTRA_HINT}")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.host, self.port)
        # The first request initialises moto's backends; make it before anyone measures anything.
        with contextlib.suppress(Exception):
            urllib.request.urlopen(self.endpoint_url, timeout=10).close()  # noqa: S310 - local endpoint

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None

    def __enter__(self) -> LocalS3:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


@dataclass
class MailSink:
    """Keeps every received message; optionally writes each one to `maildir` as a `.eml` file."""

    maildir: Path | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    reject_recipients: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.lower() in self.reject_recipients:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            count = len(self.messages)
        if self.maildir is not None:
            self.maildir.mkdir(parents=True, exist_ok=True)
            path = self.maildir / f"{time.strftime('%Y%m%dT%H%M%S')}-{count:05d}.eml"
            path.write_bytes(envelope.content)
            print(f"mail: to={','.join(envelope.rcpt_tos)} subject={message['Subject']!s} saved={path}", flush=True)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]


class LocalSMTP:
    """An aiosmtpd server on its own thread; stop() and start() again on the same port to simulate an outage."""

    def __init__(self, sink: MailSink, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.sink = sink
        self.host = host
        self.port = port or free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        try:
            from aiosmtpd.controller import Controller
        except ImportError:
            raise LocalToolMissing(f"aiosmtpd is missing: {LOCAL_EXTRA_HINT}") from None
        self._controller = Controller(self.sink, hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

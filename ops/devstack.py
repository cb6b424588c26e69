"""The whole system on one machine without containers: a local S3 and SMTP sink, JWT keys, the database, and the
four services as child processes, ready when every `/readyz` is. `framepipe dev` runs it in the foreground;
the end-to-end tests start it the same way through `DevStack`, on free ports with their own database and vhost."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import aiohttp
import asyncpg
from pydantic import SecretStr

from ops.dev_env import (
    LOCAL_S3_CREDENTIALS,
    MODULES,
    Ports,
    admin_database_url,
    key_paths,
    service_env,
    smtp_is_local,
)
from ops.dev_process import LineSink, ServiceProcess
from ops.localinfra import LocalS3, LocalSMTP, LocalToolMissing, MailSink
from ops.s3mirror import BucketMirror
from servicekit.bus.connection import connect as connect_broker
from servicekit.bus.connection import safe_url
from servicekit.settings import StorageSettings
from servicekit.storage import open_storage
from servicekit.tokens import generate_keypair

CORE_SERVICES = ("auth", "video", "notify", "webhook")
TOOLS = ("ffmpeg", "ffprobe")
FFMPEG_HINT = (
    "install it first: `sudo apt-get install ffmpeg` (Debian, Ubuntu), `sudo dnf install ffmpeg` (Fedora), "
    "`brew install ffmpeg` (macOS); then run `make run` again"
)


class DevStackError(Exception):
    """The stack cannot start; the message says what to fix."""


@dataclass
class DevConfig:
    settings: dict[str, str]
    root: Path = field(default_factory=Path.cwd)
    var_dir: Path | None = None
    processors: int = 1
    video_replicas: int = 1
    local_s3: bool = True
    local_smtp: bool = True
    ports: Ports = field(default_factory=Ports)
    output: TextIO | None = field(default_factory=lambda: sys.stdout)
    ready_timeout: float = 120.0
    save_mail: bool = True  # each message as a .eml under var/mail/, and a line on stdout
    persist_s3: bool = True  # the local S3's objects survive restarts, mirrored under var/s3/
    s3_mirror_seconds: float = 30.0
    stop_grace: float = 15.0

    @property
    def var(self) -> Path:
        return self.var_dir or self.root / "var"


class DevStack:
    def __init__(self, config: DevConfig) -> None:
        self.config = config
        self.settings = dict(config.settings)
        self.processes: dict[str, ServiceProcess] = {}
        self.mail_sink: MailSink | None = None
        self._s3: LocalS3 | None = None
        self._mirror: BucketMirror | None = None
        self._mirroring: asyncio.Task[None] | None = None
        self._smtp: LocalSMTP | None = None
        self._sink = LineSink(config.output)
        self._processor_count = 0

    def url(self, name: str) -> str:
        host = self.settings["HTTP_HOST"]
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - mapping, not binding
        return f"http://{host}:{self.config.ports.port(name)}"

    @property
    def processors(self) -> list[ServiceProcess]:
        return [p for name, p in self.processes.items() if name.startswith("processor")]

    @property
    def video_replicas(self) -> list[str]:
        return [name for name in self.processes if name.partition("-")[0] == "video"]

    async def start(self) -> None:
        try:
            _check_tools()
            self._prepare_keys()
            await self._prepare_database()
            await self._check_broker()
            await self._start_s3()
            self._start_smtp()
            self.settings.setdefault("APP_BASE_URL", self.url("gateway"))  # e-mails link to the page
            for name in CORE_SERVICES:
                self._spawn(name)
            for replica in range(2, self.config.video_replicas + 1):
                self._spawn(f"video-{replica}")
            for _ in range(self.config.processors):
                self._spawn(self._next_processor_name())
            self._spawn("gateway", self._gateway_upstreams())
            await self.wait_ready(list(self.processes))
        except BaseException:
            await self.stop()
            raise

    async def add_processor(self) -> ServiceProcess:
        """One more worker, ready when this returns (scale out, or replace a killed one)."""
        name = self._next_processor_name()
        process = self._spawn(name)
        await self.wait_ready([name])
        return process

    async def stop_service(self, name: str) -> None:
        """Stop one service (SIGTERM, its graceful shutdown), as a rolling restart or a crash-free failure would."""
        await self.processes[name].stop(self.config.stop_grace)

    async def start_service(self, name: str) -> None:
        """Start a stopped service again under its name and port; ready when this returns."""
        extra = self._gateway_upstreams() if name == "gateway" else None
        self._spawn(name, extra)
        await self.wait_ready([name])

    async def stop(self) -> None:
        running = list(self.processes.values())
        await asyncio.gather(*(p.stop(self.config.stop_grace) for p in running))
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None
        await self._stop_mirroring()
        if self._s3 is not None:
            await asyncio.to_thread(self._s3.stop)
            self._s3 = None

    async def wait_ready(self, names: list[str], within: float | None = None) -> None:
        timeout = self.config.ready_timeout if within is None else within
        pending = dict.fromkeys(names, "not answering yet")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
            while pending:
                for name in list(pending):
                    process = self.processes[name]
                    if not process.running:
                        raise DevStackError(
                            f"{name} exited with code {process.returncode} before it was ready. "
                            f"Its last lines:\n{process.last_lines()}"
                        )
                    ready, state = await _probe(http, f"{self.url(name)}/readyz")
                    if ready:
                        del pending[name]
                    else:
                        pending[name] = state
                if pending and loop.time() > deadline:
                    raise DevStackError(_not_ready_message(pending, self.processes, timeout))
                if pending:
                    await asyncio.sleep(0.25)

    def _next_processor_name(self) -> str:
        self._processor_count += 1
        return f"processor-{self._processor_count}"

    def _gateway_upstreams(self) -> dict[str, str]:
        """The gateway routes to every replica of each service (webapp.routes says which paths)."""
        return {
            "UPSTREAM_AUTH": self.url("auth"),
            "UPSTREAM_VIDEO": ",".join(self.url(name) for name in self.video_replicas),
            "UPSTREAM_NOTIFY": self.url("notify"),
            "UPSTREAM_WEBHOOK": self.url("webhook"),
        }

    def _spawn(self, name: str, extra_env: dict[str, str] | None = None) -> ServiceProcess:
        port = self.config.ports.port(name)
        env = {**service_env(name, self.settings, port=port, var_dir=self.config.var), **(extra_env or {})}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.config.root), env.get("PYTHONPATH")]))
        module = MODULES[name.partition("-")[0]]
        process = ServiceProcess(
            name, [sys.executable, "-m", module], env, self.config.root, port, self._sink, len(self.processes)
        )
        process.start()
        self.processes[name] = process
        return process

    def _prepare_keys(self) -> None:
        private, public = key_paths(self.settings, self.config.var)
        key_id = self.settings["JWT_KEY_ID"]
        if not private.exists():
            generate_keypair(private, public, key_id)
        self.settings["JWT_PRIVATE_KEY_FILE"] = str(private.resolve())
        self.settings["JWT_PUBLIC_KEYS_DIR"] = str(public.resolve())

    async def _prepare_database(self) -> None:
        admin_url, name = admin_database_url(self.settings["DATABASE_URL"])
        try:
            admin = await asyncpg.connect(admin_url, timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            raise DevStackError(f"PostgreSQL is not reachable at {safe_url(admin_url)}: {exc}") from None
        try:
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    async def _check_broker(self) -> None:
        url = self.settings["AMQP_URL"]
        try:
            connection = await connect_broker(url, "framepipe-dev/check")
        except Exception as exc:  # aiormq raises many unrelated types for "cannot connect"
            raise DevStackError(f"RabbitMQ is not reachable at {safe_url(url)}: {exc!r}") from None
        await connection.close()

    async def _start_s3(self) -> None:
        if self.config.local_s3 and not self.settings.get("S3_ENDPOINT_URL"):
            self._s3 = LocalS3()
            await asyncio.to_thread(self._s3.start)
            self.settings["S3_ENDPOINT_URL"] = self._s3.endpoint_url
            for key, value in LOCAL_S3_CREDENTIALS.items():
                self.settings.setdefault(key, value)
            await self._create_bucket()
            if self.config.persist_s3:
                await self._start_mirroring()

    async def _start_mirroring(self) -> None:
        credentials = {k.lower(): self.settings[k] for k in LOCAL_S3_CREDENTIALS}
        self._mirror = BucketMirror(
            self.settings["S3_ENDPOINT_URL"], self.settings["S3_BUCKET"], credentials, self.config.var / "s3"
        )
        await self._mirror.restore()
        self._mirroring = asyncio.create_task(self._mirror.keep_refreshed(self.config.s3_mirror_seconds))

    async def _stop_mirroring(self) -> None:
        """The last refresh, after the services stopped writing and before the S3 server (and its memory) goes."""
        if self._mirroring is not None:
            self._mirroring.cancel()
            await asyncio.gather(self._mirroring, return_exceptions=True)
            self._mirroring = None
        if self._mirror is not None:
            try:
                await self._mirror.refresh()
            except Exception as exc:  # stopping must finish; say what is lost
                print(f"framepipe dev: the local S3 could not be saved under var/s3/: {exc}", file=sys.stderr)
            self._mirror = None

    async def _create_bucket(self) -> None:
        storage_settings = StorageSettings(
            s3_endpoint_url=self.settings["S3_ENDPOINT_URL"],
            s3_bucket=self.settings["S3_BUCKET"],
            s3_region=self.settings["S3_REGION"],
            aws_access_key_id=SecretStr(self.settings["AWS_ACCESS_KEY_ID"]),
            aws_secret_access_key=SecretStr(self.settings["AWS_SECRET_ACCESS_KEY"]),
        )
        async with open_storage(storage_settings) as storage:
            await storage.ensure_bucket()

    def _start_smtp(self) -> None:
        if not (self.config.local_smtp and smtp_is_local(self.settings)):
            return
        self.mail_sink = MailSink(maildir=self.config.var / "mail" if self.config.save_mail else None)
        port = int(self.settings["SMTP_PORT"])
        self._smtp = LocalSMTP(self.mail_sink, host="127.0.0.1", port=port)
        try:
            self._smtp.start()
        except LocalToolMissing:
            self._smtp = None
            raise
        except Exception as exc:
            self._smtp = None
            raise DevStackError(
                f"cannot start the local SMTP sink on port {port} ({exc}); set SMTP_PORT to a free port"
            ) from None
        self.settings["SMTP_HOST"] = "127.0.0.1"


def _check_tools() -> None:
    """The processor cannot start without ffmpeg; say so at once rather than wait for a readiness that never comes."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise DevStackError(f"{' and '.join(missing)} not found on the PATH: {FFMPEG_HINT}")


async def _probe(http: aiohttp.ClientSession, url: str) -> tuple[bool, str]:
    try:
        async with http.get(url) as response:
            body = (await response.text())[:300]
            return response.status == 200, f"/readyz {response.status} {body}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return False, f"not answering ({exc.__class__.__name__})"


def _not_ready_message(pending: dict[str, str], processes: dict[str, ServiceProcess], timeout: float) -> str:
    parts = [f"not ready after {timeout:.0f}s: {', '.join(pending)}"]
    for name, state in pending.items():
        parts.append(f"{name}: {state}\n  last lines:\n{processes[name].last_lines()}")
    return "\n".join(parts)

"""What the services need around them on one machine, started before them and stopped after them: ffmpeg on
the PATH, JWT keys, the database, a reachable broker, a local S3 (its objects mirrored under var/s3/) and a local
SMTP sink (each message saved under var/mail/)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from typing import TYPE_CHECKING

import asyncpg
from pydantic import SecretStr

from ops.dev.env import LOCAL_S3_CREDENTIALS, admin_database_url, key_paths, smtp_is_local
from ops.dev.localinfra import LocalS3, LocalSMTP, LocalToolMissing, MailSink
from ops.dev.readiness import DevStackError
from ops.dev.s3mirror import BucketMirror
from servicekit.bus.connection import connect as connect_broker
from servicekit.bus.connection import safe_url
from servicekit.settings import StorageSettings
from servicekit.storage import open_storage
from servicekit.tokens import generate_keypair

if TYPE_CHECKING:
    from ops.dev.stack import DevConfig

TOOLS = ("ffmpeg", "ffprobe")
FFMPEG_HINT = (
    "install it first: `sudo apt-get install ffmpeg` (Debian, Ubuntu), `sudo dnf install ffmpeg` (Fedora), "
    "`brew install ffmpeg` (macOS); then run `make run` again"
)


class Supports:
    """Fills `settings` in as it starts (the S3 endpoint and credentials, the key files, the SMTP host)."""

    def __init__(self, config: DevConfig, settings: dict[str, str]) -> None:
        self._config = config
        self.settings = settings
        self.mail_sink: MailSink | None = None
        self._s3: LocalS3 | None = None
        self._mirror: BucketMirror | None = None
        self._mirroring: asyncio.Task[None] | None = None
        self._smtp: LocalSMTP | None = None

    async def start(self) -> None:
        _check_tools()
        self._prepare_keys()
        await self._prepare_database()
        await self._check_broker()
        await self._start_s3()
        self._start_smtp()

    async def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None
        await self._stop_mirroring()
        if self._s3 is not None:
            await asyncio.to_thread(self._s3.stop)
            self._s3 = None

    def _prepare_keys(self) -> None:
        private, public = key_paths(self.settings, self._config.var)
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
        if self._config.local_s3 and not self.settings.get("S3_ENDPOINT_URL"):
            self._s3 = LocalS3()
            await asyncio.to_thread(self._s3.start)
            self.settings["S3_ENDPOINT_URL"] = self._s3.endpoint_url
            for key, value in LOCAL_S3_CREDENTIALS.items():
                self.settings.setdefault(key, value)
            await self._create_bucket()
            if self._config.persist_s3:
                await self._start_mirroring()

    async def _start_mirroring(self) -> None:
        credentials = {k.lower(): self.settings[k] for k in LOCAL_S3_CREDENTIALS}
        self._mirror = BucketMirror(
            self.settings["S3_ENDPOINT_URL"], self.settings["S3_BUCKET"], credentials, self._config.var / "s3"
        )
        await self._mirror.restore()
        self._mirroring = asyncio.create_task(self._mirror.keep_refreshed(self._config.s3_mirror_seconds))

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
        if not (self._config.local_smtp and smtp_is_local(self.settings)):
            return
        self.mail_sink = MailSink(maildir=self._config.var / "mail" if self._config.save_mail else None)
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

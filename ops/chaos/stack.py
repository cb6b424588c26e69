"""The system under chaos: a three-node RabbitMQ cluster, a PostgreSQL server, moto's S3 behind a TCP proxy and an
SMTP sink, all of its own (so any of them can be hurt without touching the machine's shared servers), and the four
services on them, started as `framepipe dev` starts them (several broker URLs in AMQP_URL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, TextIO

import aioboto3

from ops.dev import scratch
from ops.dev.env import AMBIENT_SETTINGS, DEFAULTS, LOCAL_S3_CREDENTIALS, Ports
from ops.dev.localcluster import LocalRabbitCluster
from ops.dev.localinfra import LocalS3, LocalSMTP, MailSink
from ops.dev.localpostgres import LocalPostgres
from ops.dev.stack import DevConfig, DevStack
from ops.dev.tcpproxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "fp-chaos"
DATABASE = "framepipe"


class ChaosStack:
    def __init__(
        self,
        *,
        cluster: LocalRabbitCluster | None = None,
        processors: int = 2,
        net_ticktime: int = 10,
        log_level: str = "info",
    ) -> None:
        """`cluster`: a started cluster to run on (it is left running); by default one of its own."""
        self._own_cluster = cluster is None
        self.cluster = cluster or LocalRabbitCluster(net_ticktime=net_ticktime)
        self.postgres = LocalPostgres()
        self.s3 = LocalS3()
        self.s3_proxy = TcpProxy("127.0.0.1", self.s3.port)
        self.mail = MailSink()
        self.smtp = LocalSMTP(self.mail)
        self.var = Path(tempfile.mkdtemp(prefix="framepipe-chaos-"))
        self.services_log = self.var / "services.log"
        self._processors = processors
        self._log_level = log_level
        self._log: TextIO | None = None
        self.services: DevStack | None = None

    @property
    def system(self) -> DevStack:
        assert self.services is not None, "ChaosStack.start() was not awaited"
        return self.services

    async def start(self) -> None:
        try:
            starting = [self.postgres.start(), asyncio.to_thread(self.s3.start)]
            await asyncio.gather(*starting, *([self.cluster.start()] if self._own_cluster else []))
            await self.s3_proxy.start()
            await self._versioned_bucket()
            self.smtp.start()
            self._log = self.services_log.open("w", buffering=1)
            self.services = DevStack(
                DevConfig(
                    settings=self.settings(),
                    root=ROOT,
                    var_dir=self.var,
                    processors=self._processors,
                    local_s3=False,
                    local_smtp=False,
                    ports=Ports(base=None),
                    output=self._log,
                    ready_timeout=180,
                    save_mail=False,
                )
            )
            await self.services.start()
            await self.cluster.wait_replicated()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self.services is not None:
            with contextlib.suppress(Exception):
                await self.services.stop()
        await self.s3_proxy.cut()
        self.smtp.stop()
        await asyncio.to_thread(self.s3.stop)
        self.postgres.stop()
        if self._own_cluster:
            self.cluster.stop()
        if self._log is not None:
            self._log.close()
        if not os.environ.get("FRAMEPIPE_CHAOS_KEEP"):
            scratch.remove(self.var)

    def settings(self) -> dict[str, str]:
        settings = {k: v for k, v in os.environ.items() if k not in AMBIENT_SETTINGS}
        settings.update(DEFAULTS)
        settings.update(LOCAL_S3_CREDENTIALS)
        settings.update(
            AMQP_URL=self.cluster.urls(),
            DATABASE_URL=self.postgres.url(DATABASE),
            S3_ENDPOINT_URL=f"http://127.0.0.1:{self.s3_proxy.port}",
            S3_BUCKET=BUCKET,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(self.smtp.port),
            LOG_LEVEL=self._log_level,
            LOG_FORMAT="json",
            # The steady load is a few users uploading for half an hour, far past a person's hourly quota.
            MAX_UPLOADS_PER_HOUR="1000000",
        )
        return settings

    def s3_client(self) -> Any:
        """A client of the S3 server itself (not through the proxy a fault cuts)."""
        session = aioboto3.Session(
            aws_access_key_id=LOCAL_S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        return session.client("s3", endpoint_url=self.s3.endpoint_url, region_name="us-east-1")

    async def _versioned_bucket(self) -> None:
        """Versioning on: every write of a result ZIP stays visible, so a second upload of one is counted."""
        async with self.s3_client() as s3:
            await s3.create_bucket(Bucket=BUCKET)
            await s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})

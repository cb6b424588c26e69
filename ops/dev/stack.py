"""The whole system on one machine without containers: a local S3 and SMTP sink, JWT keys, the database, and the
four services as child processes, ready when every `/readyz` is. `framepipe dev` runs it in the foreground;
the end-to-end tests start it the same way through `DevStack`, on free ports with their own database and vhost."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ops.dev.env import MODULES, Ports, service_env
from ops.dev.localinfra import MailSink
from ops.dev.process import LineSink, ServiceProcess
from ops.dev.readiness import DevStackError, wait_ready
from ops.dev.supports import Supports

__all__ = ["DevConfig", "DevStack", "DevStackError"]

CORE_SERVICES = ("auth", "video", "notify", "webhook")


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
        self._supports = Supports(config, self.settings)
        self._sink = LineSink(config.output)
        self._processor_count = 0

    def url(self, name: str) -> str:
        host = self.settings["HTTP_HOST"]
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - mapping, not binding
        return f"http://{host}:{self.config.ports.port(name)}"

    @property
    def mail_sink(self) -> MailSink | None:
        """The local SMTP sink's messages, when the stack runs one."""
        return self._supports.mail_sink

    @property
    def processors(self) -> list[ServiceProcess]:
        return [p for name, p in self.processes.items() if name.startswith("processor")]

    @property
    def video_replicas(self) -> list[str]:
        return [name for name in self.processes if name.partition("-")[0] == "video"]

    async def start(self) -> None:
        try:
            await self._supports.start()
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
        await self._supports.stop()

    async def wait_ready(self, names: list[str], within: float | None = None) -> None:
        timeout = self.config.ready_timeout if within is None else within
        await wait_ready(self.processes, self.url, names, timeout)

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

"""A PostgreSQL server of our own, from the installed binaries (initdb into a scratch directory, pg_ctl on a free
port), for the faults the machine's shared server must never suffer: the chaos benchmark and the cluster tests
restart it under load. Trust authentication on 127.0.0.1 only; its data goes with `stop()`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from pathlib import Path

from ops.dev import scratch
from ops.dev.localinfra import free_port

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class PostgresError(RuntimeError):
    """The server could not be created, started or stopped; the message carries what pg_ctl said."""


def bin_dir() -> Path:
    for candidate in BIN_DIRS:
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    if found is None:
        raise PostgresError("PostgreSQL's initdb is not installed (apt-get install postgresql)")
    return Path(found).resolve().parent


class LocalPostgres:
    def __init__(self) -> None:
        scratch.sweep("postgres", _stop_server)
        self.port = free_port()
        self.root = scratch.make("postgres")
        self.data = self.root / "data"
        self._bin = bin_dir()
        self._as_user = _as_server_user()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def start(self) -> None:
        """initdb (the first time) and start; returns once the server accepts connections."""
        if not self.data.exists():
            if self._as_user:
                shutil.chown(self.root, "postgres", "postgres")
            await self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        await self._pg_ctl("start", "-l", str(self.root / "server.log"), "-o", self._options())

    async def restart(self) -> None:
        """A real restart: every session is terminated (`-m fast`), the server stops and starts again."""
        await self._pg_ctl("restart", "-m", "fast", "-l", str(self.root / "server.log"), "-o", self._options())

    def stop(self) -> None:
        """Stop at once and remove the data. Safe to call twice."""
        _stop_server(self.root)
        scratch.remove(self.root)

    def _options(self) -> str:
        # Sockets under our directory, not /var/run/postgresql (the machine's server's); no fsync: scratch data.
        return (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )

    async def _pg_ctl(self, *args: str) -> None:
        await self._run("pg_ctl", args[0], "-D", str(self.data), "-w", "-t", "60", *args[1:])

    async def _run(self, tool: str, *args: str) -> None:
        command = [*self._as_user, str(self._bin / tool), *args]
        process = await asyncio.create_subprocess_exec(
            *command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.root
        )
        out, _ = await process.communicate()
        if process.returncode != 0:
            raise PostgresError(f"{tool} {args[0]} exited {process.returncode}: {out.decode(errors='replace')[-800:]}")


def _as_server_user() -> list[str]:
    """initdb refuses to run as root: then the server runs as the postgres user, which must own its files."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _stop_server(root: Path) -> None:
    """Stop the server of a scratch directory at once, if it runs (also the one a dead run left behind)."""
    data = root / "data"
    if not (data / "postmaster.pid").exists():
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [*_as_server_user(), str(bin_dir() / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w"],
            capture_output=True,
            timeout=60,
            check=False,
        )

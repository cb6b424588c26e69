"""One service of the local stack as a child process: its output prefixed with its name, its last lines kept for
error messages, and a stop that is graceful first (SIGTERM, wait) and certain last (SIGKILL to its group)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import TextIO

COLOURS = ("36", "35", "33", "32", "34", "31", "96", "95")


class LineSink:
    """Where prefixed lines go: a terminal (with colours), a log file, or nowhere but the in-memory tail."""

    def __init__(self, stream: TextIO | None, colour: bool | None = None) -> None:
        self._stream = stream
        self._colour = bool(stream is not None and stream.isatty()) if colour is None else colour
        self._lock = threading.Lock()
        self._width = 12

    def write(self, name: str, index: int, line: str) -> None:
        if self._stream is None:
            return
        prefix = f"{name:<{self._width}}|"
        if self._colour:
            prefix = f"\x1b[{COLOURS[index % len(COLOURS)]}m{prefix}\x1b[0m"
        with self._lock:
            self._stream.write(f"{prefix} {line}\n")
            self._stream.flush()


class ServiceProcess:
    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], cwd: Path, port: int, sink: LineSink, index: int
    ) -> None:
        self.name = name
        self.port = port
        self._argv = argv
        self._env = env
        self._cwd = cwd
        self._sink = sink
        self._index = index
        self._process: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None
        self.tail: collections.deque[str] = collections.deque(maxlen=40)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        return self._process.poll() if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        # A session of its own: Ctrl-C reaches only the runner, which then stops the children in order,
        # and a SIGKILL to the group also ends the ffmpeg processes a processor started.
        self._process = subprocess.Popen(
            self._argv,
            env=self._env,
            cwd=self._cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._pump = threading.Thread(target=self._copy_output, name=f"output-{self.name}", daemon=True)
        self._pump.start()

    def _copy_output(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            self.tail.append(line)
            self._sink.write(self.name, self._index, line)

    def signal(self, signum: int) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signum)

    def kill_group(self) -> None:
        """SIGKILL to the service and every process it started (its session's group)."""
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)

    async def wait(self, seconds: float) -> bool:
        """True once the process has exited; False if it is still running after `seconds`."""
        if self._process is None:
            return True
        try:
            await asyncio.to_thread(self._process.wait, seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    async def stop(self, grace: float) -> None:
        self.signal(signal.SIGTERM)
        await self.wait(grace)
        # A hung service is killed, and whatever it left behind (ffmpeg children) goes with it.
        self.kill_group()
        await self.wait(5)
        if self._pump is not None:
            await asyncio.to_thread(self._pump.join, 5)

    def last_lines(self, count: int = 15) -> str:
        lines = list(self.tail)[-count:]
        return "\n".join(f"    {line}" for line in lines) or "    (no output)"

"""The one way ffmpeg and ffprobe are started: argv lists (never a shell), no stdin, in a session of their own
so a timeout or a cancellation kills the whole process group, and tied to this process so a `kill -9` of the
worker does not leave them running. stderr goes to a file: an undrained pipe would block the tool.

They parse hostile files, so they are also contained: an environment of their own (the worker's holds the broker
URL and the S3 credentials) and kernel resource limits, set in the child before exec."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import resource
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import Histogram

from servicekit.tracing import TRACER

TOOL_SECONDS = Histogram(
    "processor_ffmpeg_duration_seconds",
    "Wall-clock seconds of ffmpeg/ffprobe runs",
    ["tool"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)

PR_SET_PDEATHSIG = 1
STDERR_TAIL_BYTES = 2000
# Everything a tool gets from its environment: where the tools are (Debian's packages put them in /usr/bin), and
# untranslated messages, which media.py reads to tell a limit from a broken file.
TOOL_ENVIRONMENT = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}

LineHandler = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr_tail: str
    seconds: float


@dataclass(frozen=True)
class ToolLimits:
    """Kernel limits of one tool process. Soft equals hard, so a tool cannot raise them again, and running out of
    CPU time is a SIGKILL rather than a SIGXCPU that ffmpeg would catch and turn into an ordinary exit."""

    address_space_bytes: int
    cpu_seconds: int
    file_bytes: int
    open_files: int

    def apply(self) -> None:
        """Never above a hard limit the worker already has: only a privileged process may raise one."""
        for which, value in (
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_FSIZE, self.file_bytes),
            (resource.RLIMIT_NOFILE, self.open_files),
            (resource.RLIMIT_AS, self.address_space_bytes),  # last: the child must still run the lines above
        ):
            hard = resource.getrlimit(which)[1]
            limit = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (limit, limit))


def _confined(parent_pid: int, limits: ToolLimits) -> Callable[[], None]:
    """What the child does between fork and exec: die with the worker, then take on its limits."""

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the parent died before the death signal was armed
            os._exit(1)
        limits.apply()

    return preexec


class Brake:
    """Stops and continues a running tool's process group (SIGSTOP / SIGCONT): back-pressure for a producer that
    writes to disk faster than its output is taken away. A stopped group is still killed by SIGKILL."""

    def __init__(self) -> None:
        self._pgid: int | None = None
        self.engaged = False
        self.times_engaged = 0

    def attach(self, pgid: int) -> None:
        self._pgid = pgid

    def engage(self) -> None:
        if self._pgid is not None and not self.engaged and self._signal(signal.SIGSTOP):
            self.engaged = True
            self.times_engaged += 1

    def release(self) -> None:
        if self.engaged:
            self._signal(signal.SIGCONT)
            self.engaged = False

    def _signal(self, signum: int) -> bool:
        assert self._pgid is not None
        try:
            os.killpg(self._pgid, signum)
        except (ProcessLookupError, PermissionError):
            return False
        return True


async def run_tool(
    argv: list[str],
    stderr_file: Path,
    limits: ToolLimits,
    on_line: LineHandler | None = None,
    brake: Brake | None = None,
    cwd: Path | None = None,
) -> Completed:
    """Run to completion. With `on_line`, stdout is handed over line by line instead of being collected; with
    `brake`, the caller can stop and continue the tool while it runs; `cwd` is where relative paths lead."""
    with TRACER.start_as_current_span(Path(argv[0]).name) as span:
        completed = await _run_tool(argv, stderr_file, limits, on_line, brake, cwd)
        span.set_attribute("process.exit.code", completed.returncode)
        return completed


async def _run_tool(
    argv: list[str],
    stderr_file: Path,
    limits: ToolLimits,
    on_line: LineHandler | None,
    brake: Brake | None,
    cwd: Path | None,
) -> Completed:
    started = time.perf_counter()
    with stderr_file.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            env=TOOL_ENVIRONMENT,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_confined(os.getpid(), limits),
        )
    if brake is not None:
        brake.attach(process.pid)  # start_new_session: the pid is also the process group id
    try:
        stdout = await _read_stdout(process, on_line)
        returncode = await process.wait()
    finally:
        if brake is not None:
            brake.release()
        if process.returncode is None:
            _kill_group(process.pid)
            with contextlib.suppress(ProcessLookupError):
                await asyncio.shield(process.wait())
        TOOL_SECONDS.labels(Path(argv[0]).name).observe(time.perf_counter() - started)
    return Completed(returncode, stdout, _tail(stderr_file), time.perf_counter() - started)


async def _read_stdout(process: asyncio.subprocess.Process, on_line: LineHandler | None) -> bytes:
    assert process.stdout is not None
    if on_line is None:
        return await process.stdout.read()
    async for raw in process.stdout:
        await on_line(raw.decode("utf-8", "replace").strip())
    return b""


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _tail(path: Path) -> str:
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - STDERR_TAIL_BYTES))
        return f.read().decode("utf-8", "replace").strip()

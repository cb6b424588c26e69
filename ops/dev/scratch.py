"""Scratch directories of the local servers that tests and benchmarks start (RabbitMQ nodes, a PostgreSQL server).

Each records the pid of the process that owns it. A run killed half-way cannot clean up after itself, so every new
one first sweeps the directories whose owner is gone: it stops what they left running, then removes them."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

OWNER_FILE = "owner.pid"


def make(kind: str) -> Path:
    """A new scratch directory for `kind` (e.g. "rabbit"), owned by this process."""
    path = Path(tempfile.mkdtemp(prefix=f"framepipe-{kind}-"))
    (path / OWNER_FILE).write_text(str(os.getpid()))
    return path


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(kind: str, stop: Callable[[Path], None]) -> list[Path]:
    """Stop (with `stop`) and remove the scratch directories of `kind` whose owner process has exited."""
    swept: list[Path] = []
    for path in Path(tempfile.gettempdir()).glob(f"framepipe-{kind}-*"):
        try:
            owner = int((path / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # being created right now, or not one of ours
        if alive(owner):
            continue
        with contextlib.suppress(Exception):
            stop(path)
        remove(path)
        swept.append(path)
    return swept


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

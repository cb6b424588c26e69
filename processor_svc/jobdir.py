"""Private per-job temp directories under WORK_DIR/framepipe-jobs, and removal of those a crashed worker left.

A directory is in use while its owner holds an exclusive flock on its `.lock` file; the kernel drops the lock
when the owner dies, however it dies, so a starting worker can tell stale directories from live ones even when
several workers share WORK_DIR."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

JOBS_SUBDIR = "framepipe-jobs"
LOCK_NAME = ".lock"
UNLOCKED_GRACE_SECONDS = 60  # a directory this young may be between mkdtemp and taking its lock


def jobs_root(work_dir: Path) -> Path:
    root = work_dir / JOBS_SUBDIR
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


@contextlib.contextmanager
def job_dir(work_dir: Path, label: str) -> Iterator[Path]:
    """A fresh mode-700 directory, locked for as long as the job runs and removed on every exit path."""
    path = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=jobs_root(work_dir)))
    lock_fd = os.open(path / LOCK_NAME, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(lock_fd)


def remove_stale(work_dir: Path) -> int:
    """Remove job directories whose owner is gone; returns how many."""
    removed = 0
    for path in jobs_root(work_dir).iterdir():
        if path.is_dir() and not _in_use(path):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    if removed:
        log.warning("stale_job_dirs_removed", count=removed)
    return removed


def _in_use(path: Path) -> bool:
    try:
        fd = os.open(path / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return time.time() - path.stat().st_mtime < UNLOCKED_GRACE_SECONDS
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False

"""Private job directories: mode 700, removed on every exit, and only dead owners' directories are cleaned."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from processor_svc.jobdir import JOBS_SUBDIR, LOCK_NAME, job_dir, remove_stale
from servicekit.cpus import available_cpus


def test_a_job_directory_is_private_and_removed_even_when_the_job_fails(tmp_path: Path) -> None:
    seen: list[Path] = []

    def failing_job() -> None:
        with job_dir(tmp_path, "video") as path:
            seen.append(path)
            assert path.parent == tmp_path / JOBS_SUBDIR
            assert path.stat().st_mode & 0o777 == 0o700
            (path / "frame.png").write_bytes(b"x")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing_job()
    assert seen
    assert not seen[0].exists()


def test_starting_up_removes_dead_owners_directories_but_not_live_ones(tmp_path: Path) -> None:
    stale = tmp_path / JOBS_SUBDIR / "dead-owner"
    stale.mkdir(parents=True)
    (stale / LOCK_NAME).touch()  # nobody holds the lock: its owner died
    (stale / "frame_000001.png").write_bytes(b"x")
    with job_dir(tmp_path, "live") as live:
        assert remove_stale(tmp_path) == 1
        assert live.exists()
    assert not stale.exists()


def test_a_directory_without_a_lock_is_left_alone_while_it_is_young(tmp_path: Path) -> None:
    young = tmp_path / JOBS_SUBDIR / "just-created"
    young.mkdir(parents=True)
    assert remove_stale(tmp_path) == 0
    os.utime(young, (0, 0))
    assert remove_stale(tmp_path) == 1


def test_the_cpu_count_follows_the_cgroup_quota(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")
    assert available_cpus(cpu_max) == min(2, len(os.sched_getaffinity(0)))
    cpu_max.write_text("max 100000\n")
    assert available_cpus(cpu_max) == len(os.sched_getaffinity(0))
    assert available_cpus(tmp_path / "missing") == len(os.sched_getaffinity(0))

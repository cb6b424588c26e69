"""processor_svc settings: the shared service, broker and storage groups plus the job limits."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from pydantic import Field

from servicekit.settings import BaseServiceSettings, StorageSettings

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def available_cpus(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """CPUs this process may use: its affinity mask, bounded by the cgroup v2 quota when one is set."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cpus


class Settings(BaseServiceSettings, StorageSettings):
    http_port: int = 8084
    processor_concurrency: int = Field(default_factory=available_cpus, ge=1, le=64)
    # RabbitMQ's consumer_timeout (30 min) would close the channel under a longer job.
    job_timeout_seconds: float = Field(default=1500, gt=0, lt=1800)
    max_duration_seconds: float = Field(default=14400, gt=0)
    max_pixels: int = Field(default=33_177_600, gt=0)
    max_frame_rate: float = Field(default=240, gt=0)
    max_streams: int = Field(default=16, ge=1)
    max_frames: int = Field(default=100_000, ge=1)
    ffmpeg_threads: int = Field(default=0, ge=0)
    work_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()))
    shutdown_grace_seconds: float = Field(default=60, ge=0)

    @property
    def decoder_threads(self) -> int:
        return self.ffmpeg_threads or available_cpus()

"""processor_svc settings: the shared service, broker and storage groups plus the job limits."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import Field

from servicekit.cpus import available_cpus
from servicekit.settings import BaseServiceSettings, StorageSettings


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

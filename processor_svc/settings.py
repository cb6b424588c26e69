"""processor_svc settings: the shared service, broker and storage groups plus the job limits and the limits of
the ffmpeg/ffprobe processes (docs/decisions/0021-contained-ffmpeg.md)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from pydantic import Field

from servicekit.cpus import available_cpus
from servicekit.settings import BaseServiceSettings, StorageSettings

GIB = 1024**3


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
    # A job whose result ZIP would be larger fails with too_large; its upload is aborted.
    max_result_bytes: int = Field(default=5 * GIB, gt=0)
    ffmpeg_threads: int = Field(default=0, ge=0)
    # Kernel limits (rlimits) of each ffmpeg/ffprobe process. Over one, the job fails (too_large, or timeout for CPU).
    ffmpeg_max_address_space_bytes: int = Field(default=4 * GIB, gt=0)
    ffmpeg_max_cpu_seconds: int = Field(default=0, ge=0)
    ffmpeg_max_file_bytes: int = Field(default=GIB, gt=0)
    ffmpeg_max_open_files: int = Field(default=256, gt=0)
    # A video whose selection is at least this long (s) is split into segments that several workers extract side
    # by side (0: never); about split_segment_seconds of video each, at most contracts.MAX_SEGMENTS of them.
    split_min_seconds: float = Field(default=1200, ge=0)
    split_segment_seconds: float = Field(default=300, gt=0)
    work_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()))
    shutdown_grace_seconds: float = Field(default=60, ge=0)

    @property
    def decoder_threads(self) -> int:
        return self.ffmpeg_threads or available_cpus()

    @property
    def tool_cpu_seconds(self) -> int:
        """0 means the job timeout on every CPU of the quota: never reached before the wall-clock timeout, it is
        the backstop for a tool the worker failed to stop."""
        return self.ffmpeg_max_cpu_seconds or math.ceil(self.job_timeout_seconds * available_cpus())

    @property
    def tool_file_bytes(self) -> int:
        """No file a tool writes may be larger than the whole result may be."""
        return min(self.ffmpeg_max_file_bytes, self.max_result_bytes)

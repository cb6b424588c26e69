"""video_svc settings: the shared groups plus the upload and download limits."""

from __future__ import annotations

from pydantic import Field

from servicekit.settings import BaseServiceSettings, DatabaseSettings, StorageSettings, TokenVerifySettings


class Settings(BaseServiceSettings, DatabaseSettings, StorageSettings, TokenVerifySettings):
    http_port: int = 8082
    db_schema: str = "video"
    max_upload_bytes: int = Field(default=2 * 1024**3, ge=1)  # per file, enforced while streaming
    max_files_per_upload: int = Field(default=10, ge=1)
    # Abuse limits (admission.py): uploads running at once per user and per replica (each may hold 24 MiB of
    # parts: keep MAX_CONCURRENT_UPLOADS x 24 MiB inside the pod's memory), the user's quotas, and how long a
    # client may leave an upload without sending anything, or take in all.
    max_concurrent_uploads_per_user: int = Field(default=4, ge=1)
    max_concurrent_uploads: int = Field(default=12, ge=1)
    max_uploads_per_hour: int = Field(default=200, ge=1)
    max_upload_bytes_per_day: int = Field(default=50 * 1024**3, ge=1)
    max_videos_in_flight: int = Field(default=50, ge=1)
    upload_idle_timeout_seconds: float = Field(default=60, gt=0)
    upload_max_seconds: float = Field(default=7200, gt=0)
    max_event_streams_per_user: int = Field(default=20, ge=1)  # open `GET /video/events` per user, per replica
    download_url_ttl_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)  # S3 caps presigning at 7 days

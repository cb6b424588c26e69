"""video_svc settings: the shared groups plus the upload and download limits."""

from __future__ import annotations

from pydantic import Field

from servicekit.settings import BaseServiceSettings, DatabaseSettings, StorageSettings, TokenVerifySettings


class Settings(BaseServiceSettings, DatabaseSettings, StorageSettings, TokenVerifySettings):
    http_port: int = 8082
    db_schema: str = "video"
    max_upload_bytes: int = Field(default=2 * 1024**3, ge=1)  # per file, enforced while streaming
    max_files_per_upload: int = Field(default=10, ge=1)
    max_event_streams_per_user: int = Field(default=20, ge=1)  # open `GET /video/events` per user, per replica
    download_url_ttl_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)  # S3 caps presigning at 7 days

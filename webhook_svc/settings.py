"""webhook_svc's configuration, read once from the environment (names documented in .env.example)."""

from __future__ import annotations

from pydantic import Field, field_validator

from servicekit.settings import BaseServiceSettings, DatabaseSettings, TokenVerifySettings
from webhook_svc.egress import parse_networks

# About a day in all: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h after the first attempt.
DEFAULT_RETRY_SCHEDULE = "5,30,120,600,1800,3600,7200,14400,28800,28800"


class Settings(BaseServiceSettings, DatabaseSettings, TokenVerifySettings):
    http_port: int = 8089
    db_schema: str = "webhook"

    # Production refuses every non-public target; tests and `framepipe dev` allow loopback here.
    webhook_allowed_networks: str = ""
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=60)
    webhook_connect_timeout_seconds: float = Field(default=5, gt=0, le=60)
    webhook_max_response_bytes: int = Field(default=4096, ge=0, le=65536)
    webhook_retry_schedule_seconds: str = DEFAULT_RETRY_SCHEDULE
    webhook_disable_after_hours: float = Field(default=120, gt=0)
    webhook_concurrency: int = Field(default=64, ge=1, le=1000)
    webhook_endpoint_concurrency: int = Field(default=16, ge=1, le=1000)
    webhook_max_endpoints_per_user: int = Field(default=20, ge=1, le=1000)
    webhook_retention_days: float = Field(default=30, gt=0)
    webhook_secret_overlap_hours: float = Field(default=24, ge=0)

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("webhook_retry_schedule_seconds")
    @classmethod
    def _schedule(cls, value: str) -> str:
        parse_schedule(value)
        return value

    @property
    def retry_schedule(self) -> tuple[float, ...]:
        return parse_schedule(self.webhook_retry_schedule_seconds)


def parse_schedule(value: str) -> tuple[float, ...]:
    """ "5,30,120" -> (5.0, 30.0, 120.0): the waits before each retry; an empty schedule means no retry."""
    try:
        delays = tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"not a comma-separated list of seconds: {value!r}") from None
    if any(delay < 0 for delay in delays):
        raise ValueError("retry delays cannot be negative")
    return delays

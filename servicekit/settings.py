"""Settings bases. Each service composes the groups it needs into one pydantic-settings class; values come
from the environment (or a `.env` file) once, at start-up, and are passed down from there.

An empty value means "not set" (the default applies), in every group: a Kubernetes ConfigMap or a Compose file
cannot leave a key out of one environment while another sets it, and `S3_ENDPOINT_URL=` must mean "AWS S3",
not an endpoint named ''."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from servicekit.bus.connection import broker_urls
from servicekit.clients import parse_networks

# Inputs stay out of validation errors: a broker or database URL carries its password.
SETTINGS_CONFIG = SettingsConfigDict(
    env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True, hide_input_in_errors=True
)


class BaseServiceSettings(BaseSettings):
    model_config = SETTINGS_CONFIG

    log_level: str = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    http_host: str = "0.0.0.0"  # noqa: S104 - services listen on every interface inside their container
    http_port: int
    # On SIGTERM: how long requests already running may take to finish before they are cut (video_svc's
    # largest upload sets it in production; see docs/deploy.md, "Rollouts").
    http_shutdown_timeout_seconds: float = Field(default=60, ge=0)
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated CIDRs): the load balancer's subnets,
    # Compose's network, the dev gateway's loopback. Empty: the TCP peer is the client.
    trusted_proxies: str = ""
    # One URL, or one per node of a cluster separated by commas: connections fail over between them.
    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    # Broker users allowed to replay events in `reprocess` mode (comma-separated): the operators' user, never
    # a service's. The broker vouches for a message's user (its `user_id` must be the publishing connection's).
    bus_operator_users: str = "guest"
    # Traces are exported over OTLP/HTTP to this base URL (…/v1/traces) when set; unset exports nothing, and
    # the trace context received in requests and events is still passed on.
    otel_exporter_otlp_endpoint: str | None = None
    otel_traces_sampler_arg: float = Field(default=1.0, ge=0, le=1)

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies_are_networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @property
    def bus_operators(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.bus_operator_users.split(",") if u.strip())

    @field_validator("amqp_url")
    @classmethod
    def _amqp_url_lists_brokers(cls, value: SecretStr) -> SecretStr:
        broker_urls(value.get_secret_value())
        return value


class DatabaseSettings(BaseSettings):
    model_config = SETTINGS_CONFIG

    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:5432/framepipe")
    db_schema: str
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    outbox_retention_hours: float = Field(default=72, gt=0)


class StorageSettings(BaseSettings):
    model_config = SETTINGS_CONFIG

    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None
    s3_bucket: str = "framepipe"
    s3_region: str = "us-east-1"
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None


class TokenVerifySettings(BaseSettings):
    model_config = SETTINGS_CONFIG

    jwt_public_keys_dir: Path = Path("var/keys/public")
    jwt_issuer: str = "framepipe-auth"
    jwt_audience: str = "framepipe"

"""notify_svc's configuration, read once from the environment (names documented in .env.example)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from servicekit.settings import BaseServiceSettings, DatabaseSettings, TokenVerifySettings


class Settings(BaseServiceSettings, DatabaseSettings, TokenVerifySettings):
    http_port: int = 8083
    db_schema: str = "notify"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    smtp_timeout_seconds: float = Field(default=10, gt=0)
    mail_from: str = "framepipe <no-reply@framepipe.local>"
    mail_language: Literal["en", "pt"] = "en"
    app_base_url: str = "http://127.0.0.1:8080"  # the web app's origin: e-mails link to <this>/app/videos/<id>

"""An empty setting means "not set" in every settings group: the default applies."""

from __future__ import annotations

import pytest

from notify_svc.settings import Settings as NotifySettings
from processor_svc.settings import Settings as ProcessorSettings


def test_empty_values_fall_back_to_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("S3_ENDPOINT_URL", "S3_PUBLIC_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("HTTP_PORT", "")
    settings = ProcessorSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.s3_endpoint_url is None
    assert settings.s3_public_endpoint_url is None
    assert settings.aws_access_key_id is None
    assert settings.otel_exporter_otlp_endpoint is None
    assert settings.http_port == 8084


def test_an_empty_smtp_username_is_no_username(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_USERNAME", "")
    monkeypatch.setenv("SMTP_PASSWORD", "")
    settings = NotifySettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.smtp_username is None
    assert settings.smtp_password is None

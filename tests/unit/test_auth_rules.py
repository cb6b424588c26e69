"""auth_svc rules that need no server: e-mail normalisation, settings from their documented names, and the
start-up check that the signing key's public half is published under its kid."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from auth_svc.api import LoginRequest, RegisterRequest, normalise_email
from auth_svc.keys import KeyConfigurationError, load_keys
from auth_svc.settings import Settings
from servicekit.tokens import (
    generate_keypair,
)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("  Ada@Example.COM ", "ada@example.com"), ("first.last+tag@sub.example.org", "first.last+tag@sub.example.org")],
)
def test_emails_are_trimmed_and_lower_cased(raw: str, normalised: str) -> None:
    assert normalise_email(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "plain",
        "@example.com",
        "a@",
        "a@example",
        "a@@example.com",
        "a b@example.com",
        "a..b@example.com",
        ".a@example.com",
        "a@-example.com",
        "a@example.c0m",
        "ä@example.com",
        f"{'a' * 65}@example.com",
        f"a@{'b' * 250}.com",
    ],
)
def test_malformed_emails_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="e-mail"):
        normalise_email(raw)


def test_a_blank_name_is_stored_as_none_and_strings_are_not_coerced() -> None:
    assert RegisterRequest.model_validate({"email": "a@example.com", "password": "12345678", "name": "  "}).name is None
    with pytest.raises(ValidationError):
        LoginRequest.model_validate({"email": "a@example.com", "password": 12345678})


def test_settings_come_from_the_documented_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    documented = {
        "JWT_PRIVATE_KEY_FILE": "/keys/private.pem",
        "JWT_KEY_ID": "prod-7",
        "JWT_TTL_SECONDS": "600",
        "LOGIN_MAX_FAILURES": "9",
        "LOGIN_WINDOW_SECONDS": "60",
        "ARGON2_MEMORY_KIB": "65536",
        "ARGON2_TIME_COST": "3",
        "ARGON2_PARALLELISM": "2",
    }
    for name, value in documented.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.http_port, settings.db_schema) == (8081, "auth")
    assert settings.jwt_private_key_file == Path("/keys/private.pem")
    assert (settings.jwt_key_id, settings.jwt_ttl_seconds) == ("prod-7", 600)
    assert (settings.login_max_failures, settings.login_window_seconds) == (9, 60)
    assert (settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism) == (65536, 3, 2)


def test_argon2_costs_below_the_floor_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGON2_MEMORY_KIB", "1024")
    with pytest.raises(ValidationError, match="argon2_memory_kib"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def _settings(private: Path, public_dir: Path, kid: str) -> Settings:
    return Settings(_env_file=None, jwt_private_key_file=private, jwt_public_keys_dir=public_dir, jwt_key_id=kid)  # type: ignore[call-arg]


def test_keys_that_belong_together_load(tmp_path: Path) -> None:
    generate_keypair(tmp_path / "private.pem", tmp_path / "public", "k1")
    signer, verifier = load_keys(_settings(tmp_path / "private.pem", tmp_path / "public", "k1"))
    assert verifier.jwks()["keys"][0]["kid"] == "k1"
    assert signer.ttl_seconds == 3600


def test_a_signing_key_whose_public_half_is_not_published_under_its_kid_stops_start_up(tmp_path: Path) -> None:
    generate_keypair(tmp_path / "private.pem", tmp_path / "public", "k1")
    generate_keypair(tmp_path / "other.pem", tmp_path / "public", "k2")
    with pytest.raises(KeyConfigurationError, match="no public key"):
        load_keys(_settings(tmp_path / "private.pem", tmp_path / "public", "k3"))
    with pytest.raises(KeyConfigurationError, match="not the public half"):
        load_keys(_settings(tmp_path / "private.pem", tmp_path / "public", "k2"))

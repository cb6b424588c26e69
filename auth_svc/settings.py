"""auth_svc settings: the shared groups plus the signing key, token lifetime, login throttling and argon2 costs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from servicekit.settings import BaseServiceSettings, DatabaseSettings, TokenVerifySettings


class Settings(BaseServiceSettings, DatabaseSettings, TokenVerifySettings):
    http_port: int = 8081
    db_schema: str = "auth"

    jwt_private_key_file: Path = Path("var/keys/private.pem")
    jwt_key_id: str = Field(default="dev-1", min_length=1)
    jwt_ttl_seconds: int = Field(default=3600, gt=0, le=86400)

    # Browser sessions (the web app): the token in an HttpOnly cookie. `auto` marks it Secure when the browser
    # came over HTTPS (directly or through a TLS-terminating proxy).
    session_cookie_secure: Literal["auto", "always", "never"] = "auto"
    session_max_seconds: int = Field(default=7 * 86400, gt=0)  # refreshes stop this long after the password

    # Failed logins, counted over a sliding window: per account and client address (a guesser is stopped without
    # locking the owner out), per account from anywhere (slower: a guesser with many addresses), per address
    # across accounts (one source trying many accounts).
    login_max_failures: int = Field(default=5, ge=1)
    login_account_max_failures: int = Field(default=50, ge=1)
    login_address_max_failures: int = Field(default=30, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    # Each registration costs an argon2 hash: at most this many per client address per hour.
    register_max_per_address_hour: int = Field(default=20, ge=1)

    # OWASP's argon2id floor: 19 MiB, t=2, p=1.
    argon2_memory_kib: int = Field(default=19456, ge=19456)
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_parallelism: int = Field(default=1, ge=1)

"""What each service of the local stack is told: the merged settings (defaults < `.env` < the environment) and,
per service, its port, schema, key paths and the endpoints of the local S3 and SMTP stand-ins."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

from ops.dev.localinfra import free_port

DEFAULT_PORTS_BASE = 8080
LOCAL_HOSTS = frozenset({"", "127.0.0.1", "localhost", "::1"})

# Offsets from the ports base: the gateway (the one origin: the page and every API) 8080, auth 8081, video 8082,
# notify 8083, webhook 8089, processors 8084, 8085, … (skipping the others' offsets); video replicas 8122, 8123, …
PORT_OFFSETS = {"gateway": 0, "auth": 1, "video": 2, "notify": 3, "webhook": 9, "processor": 4}
REPLICA_OFFSETS = {"video": 20}  # replica N (from 2) of these listens on base + offset + N
SCHEMAS = {"auth": "auth", "video": "video", "notify": "notify", "webhook": "webhook"}
MODULES = {
    "gateway": "webapp",
    "auth": "auth_svc",
    "video": "video_svc",
    "notify": "notify_svc",
    "webhook": "webhook_svc",
    "processor": "processor_svc",
}

DEFAULTS = {
    "LOG_LEVEL": "info",
    "LOG_FORMAT": "console",
    "HTTP_HOST": "127.0.0.1",
    "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/framepipe",
    "JWT_KEY_ID": "dev-1",
    "S3_BUCKET": "framepipe",
    "S3_REGION": "us-east-1",
    "SMTP_HOST": "127.0.0.1",
    "SMTP_PORT": "1025",
    # Webhooks to a receiver on this machine (production allows public addresses only).
    "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
    # A Ctrl-C should not wait a minute for a running job; the job is requeued and finished on the next run.
    "SHUTDOWN_GRACE_SECONDS": "10",
    # The gateway on 8080 is on this machine: its X-Forwarded-For names the browser.
    "TRUSTED_PROXIES": "127.0.0.1/32,::1/128",
    # On one machine every account is made from one address (yours, or the tests').
    "REGISTER_MAX_PER_ADDRESS_HOUR": "10000",
}
# Settings a developer may have exported for their own stack, which must not leak into a stack of the tests' or the
# benchmarks' own (it brings its own S3, keys and work directories).
AMBIENT_SETTINGS = (
    "S3_ENDPOINT_URL",
    "S3_PUBLIC_ENDPOINT_URL",
    "JWT_PRIVATE_KEY_FILE",
    "JWT_PUBLIC_KEYS_DIR",
    "WORK_DIR",
)
# moto accepts any credentials; botocore refuses to sign without some.
LOCAL_S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "framepipe-dev", "AWS_SECRET_ACCESS_KEY": "framepipe-dev-secret"}


def load_settings(root: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Defaults, overridden by `<root>/.env`, overridden by the environment."""
    merged = dict(DEFAULTS)
    dotenv = root / ".env"
    if dotenv.is_file():
        merged.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None and v != ""})
    merged.update(os.environ if environ is None else environ)
    return merged


def admin_database_url(database_url: str) -> tuple[str, str]:
    """(URL of the `postgres` maintenance database on the same server, name of the database in `database_url`)."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/") or "framepipe"
    return urlunsplit(parts._replace(path="/postgres")), name


def smtp_is_local(settings: Mapping[str, str]) -> bool:
    return settings.get("SMTP_HOST", "").strip().lower() in LOCAL_HOSTS


@dataclass
class Ports:
    """HTTP ports of the services; `base=None` picks free ports (tests run beside a developer's stack)."""

    base: int | None = DEFAULT_PORTS_BASE
    assigned: dict[str, int] = field(default_factory=dict)

    def port(self, name: str) -> int:
        if name not in self.assigned:
            self.assigned[name] = self._choose(name)
        return self.assigned[name]

    def _choose(self, name: str) -> int:
        if self.base is None:
            return free_port()
        kind, _, index = name.partition("-")
        if index and kind in REPLICA_OFFSETS:
            return self.base + REPLICA_OFFSETS[kind] + int(index)
        if kind != "processor":
            return self.base + PORT_OFFSETS[kind]
        taken = {offset for other, offset in PORT_OFFSETS.items() if other != "processor"}
        offsets = (o for o in range(PORT_OFFSETS["processor"], PORT_OFFSETS["processor"] + 1000) if o not in taken)
        for _ in range(int(index or 1) - 1):
            next(offsets)
        return self.base + next(offsets)


def key_paths(settings: Mapping[str, str], var_dir: Path) -> tuple[Path, Path]:
    """(private key file, public keys directory): from the settings, else under `var/keys/`."""
    private = Path(settings.get("JWT_PRIVATE_KEY_FILE") or var_dir / "keys" / "private.pem")
    public = Path(settings.get("JWT_PUBLIC_KEYS_DIR") or var_dir / "keys" / "public")
    return private, public


def service_env(name: str, settings: Mapping[str, str], *, port: int, var_dir: Path) -> dict[str, str]:
    """The environment of one child: the merged settings plus what only this service may be told."""
    kind = name.partition("-")[0]
    private_key, public_keys = key_paths(settings, var_dir)
    env = dict(settings)
    env.update(HTTP_PORT=str(port), JWT_PUBLIC_KEYS_DIR=str(public_keys), PYTHONUNBUFFERED="1")
    if kind in SCHEMAS:
        env["DB_SCHEMA"] = SCHEMAS[kind]
    if kind == "auth":
        env["JWT_PRIVATE_KEY_FILE"] = str(private_key)
    if kind == "processor":
        work_dir = var_dir / "work" / name
        work_dir.mkdir(parents=True, exist_ok=True)
        env.setdefault("WORK_DIR", str(work_dir))
    return env

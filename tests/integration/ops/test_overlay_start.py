"""Every service starts with exactly the settings each Kubernetes overlay gives it and answers /healthz.

The overlay is rendered with `kubectl kustomize`; each Deployment's container runs its own `command` with the
environment its pod would get: the ConfigMap's values as they are (empty ones included), the Secret's keys with
fake values pointing at this machine's PostgreSQL and RabbitMQ, and every path under a mounted volume moved to a
temporary directory holding what the volume would (the JWT key pair under the key id the overlay names). Only the
HTTP port is changed, to a free one. S3, SMTP and the rest are not contacted while starting, so /healthz answers
even where `S3_ENDPOINT_URL=` means AWS: a setting the services cannot parse stops them before it does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ops.dev.localinfra import free_port
from servicekit.tokens import generate_keypair
from tests.support.database import scratch_database
from tests.support.settings import PG_ADMIN_DSN
from tests.unit.test_deploy_settings import needs_kubectl, rendered_overlay

pytestmark = [needs_kubectl, pytest.mark.timeout(240)]

START_SECONDS = 60


@dataclass(frozen=True)
class Pod:
    """One Deployment's container: how it is started and the environment Kubernetes would give it."""

    name: str
    command: list[str]
    env: dict[str, str]
    mounts: dict[str, str]  # mountPath -> volume kind ("secret:<name>", "emptyDir")


def pods_of(docs: list[dict[str, Any]]) -> list[Pod]:
    config = {d["metadata"]["name"]: d.get("data") or {} for d in docs if d["kind"] == "ConfigMap"}
    secret_keys = _secret_keys(docs)
    pods = []
    for doc in docs:
        if doc["kind"] != "Deployment" or doc["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") != (
            "framepipe"
        ):
            continue
        spec = doc["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        (container,) = spec["containers"]
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env.update(config[source["configMapRef"]["name"]])
            else:
                env.update({key: fake_secret(key) for key in secret_keys[source["secretRef"]["name"]]})
        mounts = {}
        for mount in container.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            kind = f"secret:{volume['secret']['secretName']}" if "secret" in volume else "emptyDir"
            mounts[mount["mountPath"]] = kind
        pods.append(Pod(doc["metadata"]["name"], container["command"], env, mounts))
    return pods


def _secret_keys(docs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Keys of every Secret the overlay makes: a Secret object (dev) or an ExternalSecret's target (prod)."""
    keys: dict[str, set[str]] = {}
    for doc in docs:
        if doc["kind"] == "Secret":
            keys[doc["metadata"]["name"]] = set(doc.get("data") or {}) | set(doc.get("stringData") or {})
        elif doc["kind"] == "ExternalSecret":
            keys[doc["spec"]["target"]["name"]] = {item["secretKey"] for item in doc["spec"].get("data", [])}
    return keys


FAKE_SECRETS: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "fake-access-key",
    "AWS_SECRET_ACCESS_KEY": "fake-secret-key",
    "SMTP_USERNAME": "fake-user",
    "SMTP_PASSWORD": "fake-password",
}


def fake_secret(key: str) -> str:
    """A stand-in value; DATABASE_URL and AMQP_URL are filled in per run. A new secret key fails here, so the
    test is taught what to fake for it."""
    if key in ("DATABASE_URL", "AMQP_URL"):
        return f"<{key}>"
    return FAKE_SECRETS[key]


@pytest.fixture(scope="module")
async def overlay_database() -> AsyncIterator[str]:
    """A database of this module's own: both overlays' services migrate their schemas (auth, video, notify) in it."""
    async with scratch_database(PG_ADMIN_DSN, f"fp_overlay_{uuid.uuid4().hex[:8]}") as url:
        yield url


def materialise(pods: list[Pod], root: Path) -> dict[str, Path]:
    """A local directory for every mounted path; the JWT secrets hold a key pair under the overlay's key id."""
    key_id = next(p.env["JWT_KEY_ID"] for p in pods if "JWT_KEY_ID" in p.env)
    places: dict[str, Path] = {}
    for pod in pods:
        for mount_path in pod.mounts:
            places.setdefault(mount_path, root / mount_path.strip("/").replace("/", "_"))
            places[mount_path].mkdir(parents=True, exist_ok=True)
    signing = next(p for p, k in _mount_kinds(pods).items() if k == "secret:jwt-signing-key")
    public = next(p for p, k in _mount_kinds(pods).items() if k == "secret:jwt-public-keys")
    generate_keypair(places[signing] / "private.pem", places[public], key_id)
    return places


def _mount_kinds(pods: list[Pod]) -> dict[str, str]:
    return {path: kind for pod in pods for path, kind in pod.mounts.items()}


def environment(pod: Pod, places: dict[str, Path], database_url: str, amqp_url: str, port: int) -> dict[str, str]:
    env = {}
    for key, value in pod.env.items():
        for mount_path, local in places.items():
            if value == mount_path or value.startswith(mount_path + "/"):
                value = str(local) + value[len(mount_path) :]
        env[key] = value
    env.update(DATABASE_URL=database_url, AMQP_URL=amqp_url, HTTP_PORT=str(port))
    return {k: v for k, v in env.items() if not (v.startswith("<") and v.endswith(">"))} | {
        "PATH": os.environ["PATH"],
        "HOME": str(places.get("/tmp", Path("/tmp"))),
    }


@dataclass
class Started:
    pod: Pod
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture
def started() -> Iterator[list[Started]]:
    running: list[Started] = []
    yield running
    for item in running:
        if item.process.poll() is None:
            item.process.kill()
            item.process.wait(10)


def healthz(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return int(response.status)
    except (urllib.error.URLError, OSError):
        return None


@pytest.mark.parametrize("overlay", ["dev", "prod"])
async def test_every_service_starts_with_the_overlays_settings_and_answers_healthz(
    overlay: str, overlay_database: str, amqp_url: str, tmp_path: Path, started: list[Started]
) -> None:
    pods = pods_of(rendered_overlay(overlay))
    assert sorted(p.name for p in pods) == [
        "auth-svc",
        "notify-svc",
        "processor-svc",
        "video-svc",
        "web",
        "webhook-svc",
    ]
    places = materialise(pods, tmp_path)
    for pod in pods:
        port = free_port()
        log = tmp_path / f"{pod.name}.log"
        command = [sys.executable if pod.command[0] == "python" else pod.command[0], *pod.command[1:]]
        process = subprocess.Popen(
            command,
            env=environment(pod, places, overlay_database, amqp_url, port),
            cwd=tmp_path,  # no .env of the working tree
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        started.append(Started(pod, port, process, log))

    deadline = time.monotonic() + START_SECONDS
    waiting = list(started)
    while waiting and time.monotonic() < deadline:
        for item in list(waiting):
            assert item.process.poll() is None, f"{item.pod.name} exited:\n{item.log.read_text()[-3000:]}"
            if healthz(item.port) == 200:
                waiting.remove(item)
        time.sleep(0.2)
    assert [i.pod.name for i in waiting] == [], "\n".join(i.log.read_text()[-2000:] for i in waiting)

    for item in started:
        item.process.send_signal(signal.SIGTERM)
    for item in started:
        assert item.process.wait(60) == 0, f"{item.pod.name}:\n{item.log.read_text()[-3000:]}"

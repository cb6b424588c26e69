"""Every setting the services read is present, under the same name, in .env.example, compose.yaml and
the ConfigMaps, Secrets and ExternalSecrets of both Kubernetes overlays."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.topology import QUEUES

ROOT = Path(__file__).resolve().parents[2]

COMMON = {
    "LOG_LEVEL",
    "LOG_FORMAT",
    "HTTP_HOST",
    "HTTP_PORT",
    "HTTP_SHUTDOWN_TIMEOUT_SECONDS",
    "AMQP_URL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_TRACES_SAMPLER_ARG",
}
DATABASE = {"DATABASE_URL", "DB_SCHEMA", "DB_POOL_MIN", "DB_POOL_MAX", "OUTBOX_RETENTION_HOURS"}
JWT_VERIFY = {"JWT_PUBLIC_KEYS_DIR", "JWT_ISSUER", "JWT_AUDIENCE"}
S3 = {
    "S3_ENDPOINT_URL",
    "S3_PUBLIC_ENDPOINT_URL",
    "S3_BUCKET",
    "S3_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
}
# In production video-svc and processor-svc reach S3 through IRSA: static keys must be absent there.
IRSA_ONLY_IN_PROD = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}

SETTINGS: dict[str, set[str]] = {
    "auth": COMMON
    | DATABASE
    | JWT_VERIFY
    | {
        "JWT_PRIVATE_KEY_FILE",
        "JWT_KEY_ID",
        "JWT_TTL_SECONDS",
        "LOGIN_MAX_FAILURES",
        "LOGIN_WINDOW_SECONDS",
        "ARGON2_MEMORY_KIB",
        "ARGON2_TIME_COST",
        "ARGON2_PARALLELISM",
    },
    "video": COMMON
    | DATABASE
    | JWT_VERIFY
    | S3
    | {"MAX_UPLOAD_BYTES", "MAX_FILES_PER_UPLOAD", "DOWNLOAD_URL_TTL_SECONDS"},
    "notify": COMMON
    | DATABASE
    | JWT_VERIFY
    | {
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_USERNAME",
        "SMTP_PASSWORD",
        "SMTP_STARTTLS",
        "SMTP_USE_TLS",
        "SMTP_TIMEOUT_SECONDS",
        "MAIL_FROM",
        "MAIL_LANGUAGE",
        "APP_BASE_URL",
    },
    "webhook": COMMON
    | DATABASE
    | JWT_VERIFY
    | {
        "WEBHOOK_ALLOWED_NETWORKS",
        "WEBHOOK_TIMEOUT_SECONDS",
        "WEBHOOK_CONNECT_TIMEOUT_SECONDS",
        "WEBHOOK_MAX_RESPONSE_BYTES",
        "WEBHOOK_RETRY_SCHEDULE_SECONDS",
        "WEBHOOK_DISABLE_AFTER_HOURS",
        "WEBHOOK_CONCURRENCY",
        "WEBHOOK_ENDPOINT_CONCURRENCY",
        "WEBHOOK_MAX_ENDPOINTS_PER_USER",
        "WEBHOOK_RETENTION_DAYS",
        "WEBHOOK_SECRET_OVERLAP_HOURS",
    },
    "processor": COMMON
    | S3
    | {
        "PROCESSOR_CONCURRENCY",
        "JOB_TIMEOUT_SECONDS",
        "MAX_DURATION_SECONDS",
        "MAX_PIXELS",
        "MAX_FRAME_RATE",
        "MAX_STREAMS",
        "MAX_FRAMES",
        "FFMPEG_THREADS",
        "WORK_DIR",
        "SHUTDOWN_GRACE_SECONDS",
    },
    # The web app serves files: no broker, and none of its UPSTREAM_* (the gateway of `framepipe dev` only).
    "web": COMMON - {"AMQP_URL"},
}
EVERY_SETTING = set().union(*SETTINGS.values())
SERVICES = sorted(SETTINGS)


def documented_in_env_example() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^\s*(?:#\s*)?([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def compose_environment(service: str) -> set[str]:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    environment = compose["services"][service].get("environment") or {}
    if isinstance(environment, list):
        return {item.split("=", 1)[0] for item in environment}
    return set(environment)


def rendered_overlay(overlay: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "deploy" / "k8s" / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def overlay_settings(docs: list[dict[str, Any]], service: str) -> set[str]:
    """Keys a service's pods get from its <service>-svc-config ConfigMap and <service>-svc-secrets Secret
    (a Secret object in dev, an ExternalSecret producing it in prod); the web app's are web-config and web-secrets."""
    workload = "web" if service == "web" else f"{service}-svc"
    keys: set[str] = set()
    for doc in docs:
        name = doc["metadata"]["name"]
        if doc["kind"] == "ConfigMap" and re.fullmatch(rf"{workload}-config(-[a-z0-9]+)?", name):
            keys |= set(doc.get("data") or {})
        elif doc["kind"] == "Secret" and name == f"{workload}-secrets":
            keys |= set(doc.get("data") or {}) | set(doc.get("stringData") or {})
        elif doc["kind"] == "ExternalSecret" and doc["spec"]["target"]["name"] == f"{workload}-secrets":
            keys |= {item["secretKey"] for item in doc["spec"].get("data", [])}
    return keys


needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl renders the overlays")


def test_env_example_documents_every_setting() -> None:
    assert sorted(EVERY_SETTING - documented_in_env_example()) == []


@pytest.mark.parametrize("service", SERVICES)
def test_compose_sets_every_setting_of_the_service(service: str) -> None:
    assert sorted(SETTINGS[service] - compose_environment(service)) == []


@needs_kubectl
@pytest.mark.parametrize("service", SERVICES)
def test_dev_overlay_provides_every_setting_of_the_service(service: str) -> None:
    assert sorted(SETTINGS[service] - overlay_settings(rendered_overlay("dev"), service)) == []


@needs_kubectl
@pytest.mark.parametrize("service", SERVICES)
def test_prod_overlay_provides_every_setting_except_static_aws_keys(service: str) -> None:
    provided = overlay_settings(rendered_overlay("prod"), service)
    assert sorted((SETTINGS[service] - IRSA_ONLY_IN_PROD) - provided) == []
    assert sorted(provided & IRSA_ONLY_IN_PROD) == []


@needs_kubectl
@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_secret_values_never_sit_in_a_configmap(overlay: str) -> None:
    secret_names = {"DATABASE_URL", "AMQP_URL", "SMTP_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"}
    leaked = {
        (doc["metadata"]["name"], key)
        for doc in rendered_overlay(overlay)
        if doc["kind"] == "ConfigMap"
        for key in doc.get("data") or {}
        if key in secret_names
    }
    assert leaked == set()


def test_the_no_consumer_alert_watches_every_consumer_queue_of_the_topology() -> None:
    rules = yaml.safe_load((ROOT / "deploy/observability/prometheus-rules.yaml").read_text())
    alerts = [rule for group in rules["spec"]["groups"] for rule in group["rules"] if "alert" in rule]
    (alert,) = [a for a in alerts if a["alert"] == "FramepipeQueueWithoutConsumer"]
    found = re.findall(r'queue=~"([^"]+)"', alert["expr"])  # one selector per line, joined with `or`
    assert found
    watched = re.compile("|".join(f"(?:{f})" for f in found).replace("\\\\", "\\"))  # PromQL escapes -> regex
    assert [name for name in QUEUES if not watched.fullmatch(name)] == []
    not_consumed = [n for spec in QUEUES.values() for n in (spec.parking_queue, spec.retry_queue(0))]
    assert [name for name in not_consumed if watched.fullmatch(name)] == []

"""Every setting the services read is present, under the same name, in .env.example, compose.yaml and
the ConfigMaps, Secrets and ExternalSecrets of both Kubernetes overlays."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from auth_svc.settings import Settings as AuthSettings
from contracts.topology import QUEUES
from notify_svc.settings import Settings as NotifySettings
from processor_svc.settings import Settings as ProcessorSettings
from video_svc.settings import Settings as VideoSettings
from webapp.settings import Settings as WebSettings
from webhook_svc.settings import Settings as WebhookSettings

ROOT = Path(__file__).resolve().parents[2]

# In production video-svc and processor-svc reach S3 through IRSA: static keys must be absent there.
IRSA_ONLY_IN_PROD = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
# What a deployment never sets: the web app uses no broker, and its gateway settings belong to `framepipe dev` alone.
NOT_DEPLOYED = {
    "web": {"AMQP_URL", "BUS_OPERATOR_USERS"}
    | {name for name in WebSettings.model_fields if name.startswith("upstream_")}
}


def env_names(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a Settings class reads (pydantic-settings: the field names, upper-cased)."""
    return {name.upper() for name in settings.model_fields}


SETTINGS: dict[str, set[str]] = {
    service: env_names(settings) - {name.upper() for name in NOT_DEPLOYED.get(service, set())}
    for service, settings in {
        "auth": AuthSettings,
        "video": VideoSettings,
        "notify": NotifySettings,
        "webhook": WebhookSettings,
        "processor": ProcessorSettings,
        "web": WebSettings,
    }.items()
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

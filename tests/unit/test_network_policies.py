"""Where each workload's pods may connect, read from the rendered overlays' NetworkPolicies the way Kubernetes
reads them (a connection is allowed when some policy selecting the pod for Egress has a rule matching it).
processor-svc, which runs ffmpeg on uploaded files, reaches DNS, the broker and S3 only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.unit.test_deploy_settings import needs_kubectl, rendered_overlay

NAMESPACE = "video-system"
KUBE_DNS = {"k8s-app": "kube-dns"}


@dataclass(frozen=True)
class Target:
    """Where a connection goes: a pod (its labels and namespace) or, with `pod` None, an address outside."""

    port: int
    protocol: str = "TCP"
    pod: dict[str, str] | None = None
    namespace: str = NAMESPACE


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        present, value = expression["key"] in labels, labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and present and value in expression["values"]:
            return False
    return True


def peer_matches(peer: dict[str, Any], target: Target) -> bool:
    if "ipBlock" in peer:
        return target.pod is None  # the policies' address ranges stand for addresses outside the cluster
    if target.pod is None:
        return False
    if "namespaceSelector" in peer:
        in_namespace = selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": target.namespace})
    else:
        in_namespace = target.namespace == NAMESPACE
    return in_namespace and selects(peer.get("podSelector") or {}, target.pod)


def rule_matches(rule: dict[str, Any], target: Target) -> bool:
    ports = rule.get("ports") or [{}]
    port_ok = any(
        p.get("port", target.port) == target.port and p.get("protocol", "TCP") == target.protocol for p in ports
    )
    peers = rule.get("to")
    return port_ok and (not peers or any(peer_matches(peer, target) for peer in peers))


def may_connect(docs: list[dict[str, Any]], workload: str, target: Target) -> bool:
    labels = pod_labels(docs, workload)
    policies = [doc["spec"] for doc in docs if doc["kind"] == "NetworkPolicy"]
    egress = [p for p in policies if "Egress" in p["policyTypes"] and selects(p["podSelector"], labels)]
    assert egress, f"no egress policy selects {workload}: it could reach anything"
    return any(rule_matches(rule, target) for policy in egress for rule in policy.get("egress") or [])


def pod_labels(docs: list[dict[str, Any]], workload: str) -> dict[str, str]:
    (found,) = [
        doc["spec"]["template"]["metadata"]["labels"]
        for doc in docs
        if doc["kind"] in ("Deployment", "StatefulSet") and doc["metadata"]["name"] == workload
    ]
    return dict(found)


@pytest.fixture(scope="module")
def prod() -> list[dict[str, Any]]:
    return rendered_overlay("prod")


@pytest.fixture(scope="module")
def dev() -> list[dict[str, Any]]:
    return rendered_overlay("dev")


@needs_kubectl
@pytest.mark.parametrize(
    "target",
    [
        Target(5672),
        Target(5671),
        Target(443),
        Target(53, "UDP", KUBE_DNS, "kube-system"),
        Target(53, "TCP", KUBE_DNS, "kube-system"),
    ],
)
def test_the_processor_reaches_dns_the_broker_and_s3(prod: list[dict[str, Any]], target: Target) -> None:
    assert may_connect(prod, "processor-svc", target)


@needs_kubectl
@pytest.mark.parametrize(
    "target",
    [
        Target(5432),  # PostgreSQL (RDS)
        Target(25),
        Target(587),  # SMTP
        Target(80),  # plain HTTP anywhere
        Target(4318),  # an OTLP collector: tracing is off in the base
        Target(53, "UDP"),  # a resolver of its own choosing
        Target(8081, pod={"app.kubernetes.io/name": "auth-svc"}),
        Target(8084, pod={"app.kubernetes.io/name": "processor-svc"}),
    ],
)
def test_the_processor_reaches_nothing_else(prod: list[dict[str, Any]], target: Target) -> None:
    assert not may_connect(prod, "processor-svc", target)


@needs_kubectl
def test_the_services_with_a_database_still_reach_postgresql(prod: list[dict[str, Any]]) -> None:
    for workload in ("auth-svc", "video-svc", "notify-svc", "webhook-svc"):
        assert may_connect(prod, workload, Target(5432)), workload


@needs_kubectl
def test_in_dev_the_processor_reaches_the_broker_and_minio_but_not_postgresql(dev: list[dict[str, Any]]) -> None:
    assert may_connect(dev, "processor-svc", Target(5672, pod=pod_labels(dev, "rabbitmq")))
    assert may_connect(dev, "processor-svc", Target(9000, pod=pod_labels(dev, "minio")))
    assert not may_connect(dev, "processor-svc", Target(5432, pod=pod_labels(dev, "postgres")))
    assert not may_connect(dev, "processor-svc", Target(1025, pod=pod_labels(dev, "mailpit")))
    assert may_connect(dev, "video-svc", Target(5432, pod=pod_labels(dev, "postgres")))

"""The production broker's per-service permissions (deploy/k8s/broker/topology.yaml) fit the topology of the
contract: each service may read exactly the queues it consumes, and configure and write every name the services
declare at start (decision 0002: every service declares the whole topology)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.topology import ARCHIVE_STREAM, DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, QUEUES, REVOCATIONS_STREAM

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("auth_svc", "video_svc", "notify_svc", "processor_svc", "webhook_svc")
TOKEN_VERIFIERS = ("auth_svc", "video_svc", "notify_svc", "webhook_svc")  # they keep a deny-list of revoked tokens


def permissions() -> dict[str, dict[str, str]]:
    docs: list[dict[str, Any]] = list(yaml.safe_load_all((ROOT / "deploy/k8s/broker/topology.yaml").read_text()))
    return {d["metadata"]["name"]: d["spec"]["permissions"] for d in docs if d and d["kind"] == "Permission"}


def every_declared_name() -> list[str]:
    names = [EVENTS_EXCHANGE, DEAD_LETTER_EXCHANGE, ARCHIVE_STREAM, REVOCATIONS_STREAM]
    for spec in QUEUES.values():
        names += [spec.name, spec.parking_queue, *(spec.retry_queue(i) for i in range(len(spec.retry_delays_ms)))]
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_reads_exactly_its_own_queues(service: str) -> None:
    read = re.compile(permissions()[service.replace("_", "-")]["read"])
    own = sorted(q.name for q in QUEUES.values() if q.owner == service)
    others = sorted(q.name for q in QUEUES.values() if q.owner != service)
    assert [name for name in own if not read.fullmatch(name)] == []
    assert [name for name in others if read.fullmatch(name)] == []
    assert read.fullmatch(EVENTS_EXCHANGE)  # to bind its queues


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_declare_and_publish_the_whole_topology(service: str) -> None:
    granted = permissions()[service.replace("_", "-")]
    for kind in ("configure", "write"):
        pattern = re.compile(granted[kind])
        assert [name for name in every_declared_name() if not pattern.fullmatch(name)] == []


@pytest.mark.parametrize("service", SERVICES)
def test_exactly_the_services_that_verify_tokens_read_the_revocations_stream(service: str) -> None:
    read = re.compile(permissions()[service.replace("_", "-")]["read"])
    assert bool(read.fullmatch(REVOCATIONS_STREAM)) is (service in TOKEN_VERIFIERS)


def test_keda_reads_queue_depths_only() -> None:
    assert permissions()["keda"] == {"configure": "^$", "write": "^$", "read": "^$"}

"""The broker's per-service permissions (ops/bus/brokerusers.py; deploy/k8s/broker/topology.yaml and the dev broker's
definitions) fit the topology of the contract: each service may configure, write and read every name the services
declare at start (decision 0002: every service declares the whole topology), publish only the event types it
produces, and dead-letter or retry only through its own queues' keys."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.registry import EVENT_TYPES
from contracts.topology import ARCHIVE_STREAM, DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, QUEUES, REVOCATIONS_STREAM
from ops.bus.brokerusers import SERVICES, TOKEN_VERIFIERS, access, dev_definitions, k8s_topology

ROOT = Path(__file__).resolve().parents[2]


def permissions() -> dict[str, dict[str, str]]:
    docs: list[dict[str, Any]] = list(yaml.safe_load_all((ROOT / "deploy/k8s/broker/topology.yaml").read_text()))
    return {d["metadata"]["name"]: d["spec"]["permissions"] for d in docs if d and d["kind"] == "Permission"}


def every_declared_name() -> list[str]:
    names = [EVENTS_EXCHANGE, DEAD_LETTER_EXCHANGE, ARCHIVE_STREAM, REVOCATIONS_STREAM]
    for spec in QUEUES.values():
        names += [spec.name, spec.parking_queue, *(spec.retry_queue(i) for i in range(len(spec.retry_delays_ms)))]
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_read_what_it_declares_and_nothing_else(service: str) -> None:
    # Declaring a queue that dead-letters needs read on it, and every service declares every queue.
    read = re.compile(permissions()[service.replace("_", "-")]["read"])
    streams = (ARCHIVE_STREAM, REVOCATIONS_STREAM)  # declaring a stream needs no read: nothing dead-letters there
    assert [name for name in every_declared_name() if name not in streams and not read.fullmatch(name)] == []
    assert not read.fullmatch(ARCHIVE_STREAM)  # the archive is the operators' to read
    assert not read.fullmatch("amq.default")


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


def test_the_production_users_are_what_the_table_generates() -> None:
    assert (ROOT / "deploy/k8s/broker/topology.yaml").read_text() == k8s_topology()


def test_the_dev_broker_boots_with_the_same_table() -> None:
    committed = json.loads((ROOT / "deploy/k8s/overlays/dev/infra/rabbitmq-definitions.json").read_text())
    assert committed == dev_definitions()
    conf = (ROOT / "deploy/k8s/overlays/dev/infra/rabbitmq.conf").read_text()
    assert "load_definitions = /etc/rabbitmq/definitions.json" in conf


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_publishes_exactly_the_types_it_produces(service: str) -> None:
    write, _ = access(service).topics[EVENTS_EXCHANGE]
    allowed = sorted(t for t in EVENT_TYPES if re.fullmatch(write, t))
    assert allowed == sorted(t for t, model in EVENT_TYPES.items() if service in model.producers)


def test_every_producer_of_an_event_type_is_a_service_with_a_broker_user() -> None:
    producers = {service for model in EVENT_TYPES.values() for service in model.producers}
    assert sorted(producers - set(SERVICES)) == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_dead_letters_and_retries_only_its_own_queues(service: str) -> None:
    write, _ = access(service).topics[DEAD_LETTER_EXCHANGE]
    for spec in QUEUES.values():
        keys = [spec.name, *(spec.retry_queue(i) for i in range(len(spec.retry_delays_ms)))]
        assert all(bool(re.fullmatch(write, key)) == (spec.owner == service) for key in keys), spec.name


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_may_publish_through_the_default_exchange(service: str) -> None:
    assert not re.fullmatch(access(service).write, "amq.default")

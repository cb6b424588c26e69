"""Who may do what on the broker: one user per service with only what it needs, and the operators' user.

Derived from the contract, so a new queue or event type changes them in one place. Every service declares the
whole topology at start (decision 0002), so each may configure every framepipe name and bind every queue
(binding needs write on the queue). What keeps a service to its own part is:
- topic permissions: on the events exchange it publishes only the types it produces (each event model's
  `producers`), on the dead-letter exchange only its own queues' parking and retry keys;
- no write on `amq.default`, so it cannot put a message straight into another service's queue.
The operators' user (replay, redrive) may do everything, and only its replays may ask for `reprocess`.

deploy/k8s/broker/topology.yaml (production) and the dev broker's definitions (compose and the dev overlay)
carry these; tests check both against this module, and one applies them to a real broker.
`python -m ops.bus.brokerusers` prints the dev broker's definitions."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass

from contracts.registry import types_produced_by
from contracts.topology import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, QUEUES, RETRY_SUFFIX

SERVICES = ("auth_svc", "video_svc", "notify_svc", "processor_svc", "webhook_svc")
OPERATOR = "framepipe-operator"
# Every name the services declare: the exchanges, the archive and revocations streams, the queues (by owner prefix)
# and server-named queues (a replica's own, exclusive).
FRAMEPIPE_NAMES = r"^(framepipe\.(events|dlx|archive|revocations)|(processor|video|notify|webhook)\..+|amq\.gen-.+)$"
# Declaring a queue that dead-letters needs read on it (RabbitMQ's rule: no one reads a queue's messages by
# dead-lettering them elsewhere), and every service declares every queue, so each may read every framepipe queue
# and the exchanges (to bind). What it may consume is therefore not limited here (docs/security.md).
FRAMEPIPE_READ = r"^(framepipe\.(events|dlx)|(processor|video|notify|webhook)\..+|amq\.gen-.+)$"
# The services that verify access tokens also read the revocations stream into their deny-list (decision 0020).
TOKEN_VERIFIERS = ("auth_svc", "video_svc", "notify_svc", "webhook_svc")
VERIFIER_READ = r"^(framepipe\.(events|dlx|revocations)|(processor|video|notify|webhook)\..+|amq\.gen-.+)$"
EVERYTHING = ".*"


@dataclass(frozen=True)
class Access:
    configure: str
    write: str
    read: str
    topics: dict[str, tuple[str, str]]  # exchange -> (write, read) regexps on routing keys


KEDA = Access(configure="^$", write="^$", read="^$", topics={})  # queue depths through the management API only
TAGS = {OPERATOR: ["administrator"], "keda": ["monitoring"]}


def user_name(service: str) -> str:
    return service.replace("_", "-")


def _literal(name: str) -> str:
    assert re.fullmatch(r"[a-z0-9.-]+", name), name  # queue, exchange and event type names: only '.' is special
    return name.replace(".", r"\.")


def _alternatives(names: list[str]) -> str:
    return "|".join(_literal(name) for name in sorted(names))


def access(service: str) -> Access:
    own = [spec.name for spec in QUEUES.values() if spec.owner == service]
    produced = types_produced_by(service)
    return Access(
        configure=FRAMEPIPE_NAMES,
        write=FRAMEPIPE_NAMES,
        read=VERIFIER_READ if service in TOKEN_VERIFIERS else FRAMEPIPE_READ,
        topics={
            EVENTS_EXCHANGE: (f"^({_alternatives(produced)})$" if produced else "^$", EVERYTHING),
            DEAD_LETTER_EXCHANGE: (
                f"^({_alternatives(own)})({_literal(RETRY_SUFFIX)}\\.[0-9]+)?$" if own else "^$",
                EVERYTHING,
            ),
        },
    )


def operator_access() -> Access:
    return Access(configure=EVERYTHING, write=EVERYTHING, read=EVERYTHING, topics={})


def password_hash(password: str, salt: bytes) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt ++ sha256(salt ++ password))."""
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def dev_definitions(vhost: str = "/") -> dict[str, object]:
    """The dev broker's users (password = user name: a local stack only), permissions and topic permissions."""
    granted = {user_name(s): access(s) for s in SERVICES} | {OPERATOR: operator_access(), "keda": KEDA}
    users = [
        {
            "name": name,
            "password_hash": password_hash(name, hashlib.sha256(name.encode()).digest()[:4]),
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": TAGS.get(name, []),
        }
        for name in granted
    ]
    permissions = [
        {"user": name, "vhost": vhost, "configure": a.configure, "write": a.write, "read": a.read}
        for name, a in granted.items()
    ]
    topic_permissions = [
        {"user": name, "vhost": vhost, "exchange": exchange, "write": write, "read": read}
        for name, a in granted.items()
        for exchange, (write, read) in a.topics.items()
    ]
    return {
        "users": users,
        "vhosts": [{"name": vhost}],
        "permissions": permissions,
        "topic_permissions": topic_permissions,
    }


K8S_HEADER = """\
# The vhost, one user per service with only what it needs, the operators' user and KEDA's. Generated by
# `python -m ops.bus.brokerusers k8s` (the reasons are in ops/bus/brokerusers.py); tests/unit/test_broker_permissions.py
# checks this file is what it generates and tests/integration/bus/test_broker_users.py applies it to a real broker.
# The operator generates each user's password into the Secret <user>-user-credentials of this namespace; the
# services' AMQP_URL (Secrets Manager, docs/deploy.md) is built from it. `keda` reads queue depths only.
apiVersion: rabbitmq.com/v1beta1
kind: Vhost
metadata:
  name: framepipe
spec:
  name: framepipe
  defaultQueueType: quorum
  rabbitmqClusterReference: {name: framepipe-rabbitmq}
"""
_USER = """\
apiVersion: rabbitmq.com/v1beta1
kind: User
metadata:
  name: {name}
spec:
  tags: [{tags}]
  rabbitmqClusterReference: {{name: framepipe-rabbitmq}}
"""
_PERMISSION = """\
apiVersion: rabbitmq.com/v1beta1
kind: Permission
metadata:
  name: {name}
spec:
  vhost: framepipe
  userReference: {{name: {name}}}
  permissions:
    configure: '{configure}'
    write: '{write}'
    read: '{read}'
  rabbitmqClusterReference: {{name: framepipe-rabbitmq}}
"""
_TOPIC_PERMISSION = """\
apiVersion: rabbitmq.com/v1beta1
kind: TopicPermission
metadata:
  name: {name}-{resource}
spec:
  vhost: framepipe
  userReference: {{name: {name}}}
  permissions:
    exchange: {exchange}
    write: '{write}'
    read: '{read}'
  rabbitmqClusterReference: {{name: framepipe-rabbitmq}}
"""


def _documents(name: str, granted: Access, tags: list[str]) -> list[str]:
    permission = {"configure": granted.configure, "write": granted.write, "read": granted.read}
    return [
        _USER.format(name=name, tags=", ".join(tags)),
        _PERMISSION.format(name=name, **permission),
        *(
            _TOPIC_PERMISSION.format(
                name=name, resource=exchange.replace(".", "-"), exchange=exchange, write=write, read=read
            )
            for exchange, (write, read) in granted.topics.items()
        ),
    ]


def k8s_topology() -> str:
    """deploy/k8s/broker/topology.yaml: the messaging topology operator's resources for these users."""
    documents = [d for service in SERVICES for d in _documents(user_name(service), access(service), [])]
    documents += _documents(OPERATOR, operator_access(), TAGS[OPERATOR])
    documents += _documents("keda", KEDA, TAGS["keda"])
    return K8S_HEADER + "".join(f"---\n{document}" for document in documents)


if __name__ == "__main__":
    import sys

    print(k8s_topology() if sys.argv[1:] == ["k8s"] else json.dumps(dev_definitions(), indent=2), end="")

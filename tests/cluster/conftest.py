"""A real three-node RabbitMQ cluster on loopback for this package's tests (about 15 s to start; nodes, data and
partition rules of its own, see ops/dev/localcluster.py), stopped after the package's last test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ops.dev.localcluster import LocalRabbitCluster


@pytest.fixture(scope="package")
async def cluster() -> AsyncIterator[LocalRabbitCluster]:
    cluster = LocalRabbitCluster()
    await cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()

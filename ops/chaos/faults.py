"""The faults of a chaos run, each injected for real and recovered from before it returns:

- `leader-node-killed`: kill -9 of the RabbitMQ node leading most quorum queues, started again after `node_down`;
- `node-partitioned`: that node cut off from its peers (iptables) until it pauses itself (pause_minority), and
  `node_down` seconds more, then healed;
- `rolling-restart`: every node stopped and started in turn, each only once no quorum queue depends on it;
- `postgres-restarted`: `pg_ctl restart -m fast` of the services' PostgreSQL server (every session terminated);
- `s3-unavailable`: every connection to S3 cut and new ones refused for `s3_outage` seconds;
- `smtp-down`: the SMTP server stopped for `smtp_outage` seconds;
- `worker-killed`: kill -9 of a processor (and its ffmpeg) in the middle of a job, and a new one started.

A fault returns its record: when it started and ended, and the instants the broker was hurt (a kill, a cut, each
node's stop), from which the probes time the failover."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

from ops.chaos.load import UploadLoad
from ops.chaos.stack import ChaosStack
from ops.dev.localcluster import ClusterError
from ops.dev.process import ServiceProcess

IN_FLIGHT = re.compile(r"^processor_jobs_in_flight (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Timings:
    node_down: float = 10.0
    s3_outage: float = 60.0
    smtp_outage: float = 120.0


@dataclass
class FaultRecord:
    name: str
    started: float
    ended: float = 0.0
    detail: str = ""
    broker_hits: list[float] = field(default_factory=list)  # instants the broker was hurt

    def covers(self, instant: float) -> bool:
        return self.started <= instant <= self.ended


@dataclass(frozen=True)
class Target:
    """What a fault hurts (the stack) and what it may use (the load, to start a long job)."""

    stack: ChaosStack
    load: UploadLoad
    timings: Timings


Fault = Callable[[Target, FaultRecord], Awaitable[None]]


async def leader_node_killed(target: Target, record: FaultRecord) -> None:
    cluster = target.stack.cluster
    node = await cluster.leader_node()
    record.detail = node.short
    record.broker_hits.append(time.monotonic())
    cluster.kill(node)
    await asyncio.sleep(target.timings.node_down)
    await cluster.restart(node)
    await _settled(target.stack)


async def node_partitioned(target: Target, record: FaultRecord) -> None:
    """Cut off until it pauses, and `node_down` seconds more: healing the moment a node paused was seen to leave
    its restart hanging in Erlang's `global` (RabbitMQ 3.10.8, OTP 25). A node that has not resumed a minute after
    the heal is restarted, as an operator would, and the record says so."""
    cluster = target.stack.cluster
    node = await cluster.leader_node()
    record.detail = node.short
    record.broker_hits.append(time.monotonic())
    cluster.partition(node)
    try:
        await cluster.wait_paused(node, within=cluster.net_ticktime * 3 + 30)
        await asyncio.sleep(target.timings.node_down)
    finally:
        cluster.heal()
    try:
        await cluster.wait_running(node, within=60)
    except ClusterError:
        record.detail += ", did not resume: restarted"
        cluster.kill(node)
        await cluster.restart(node)
    await _settled(target.stack)


async def rolling_restart(target: Target, record: FaultRecord) -> None:
    cluster = target.stack.cluster
    for node in cluster.nodes:
        await cluster.wait_quorum_safe(node)
        record.broker_hits.append(time.monotonic())
        await cluster.stop_node(node)
        await cluster.restart(node)
        await cluster.wait_cluster()
    record.detail = " ".join(node.short for node in cluster.nodes)
    await _settled(target.stack)


async def postgres_restarted(target: Target, record: FaultRecord) -> None:
    await target.stack.postgres.restart()


async def s3_unavailable(target: Target, record: FaultRecord) -> None:
    record.detail = f"{target.timings.s3_outage:.0f}s"
    await target.stack.s3_proxy.cut()
    try:
        await asyncio.sleep(target.timings.s3_outage)
    finally:
        await target.stack.s3_proxy.restore()


async def smtp_down(target: Target, record: FaultRecord) -> None:
    record.detail = f"{target.timings.smtp_outage:.0f}s"
    target.stack.smtp.stop()
    try:
        await asyncio.sleep(target.timings.smtp_outage)
    finally:
        target.stack.smtp.start()


async def worker_killed(target: Target, record: FaultRecord) -> None:
    """Uploads the long clip, waits (up to a minute) for a processor to be running a job, kills it -9 with its
    ffmpeg, and starts a new one."""
    system = target.stack.system
    target.load.upload_long()
    deadline = time.monotonic() + 60
    busy: list[ServiceProcess] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while not busy and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            busy = [w for w in system.processors if w.running and await _jobs_in_flight(http, system.url(w.name)) > 0]
    victim = busy[0] if busy else next(w for w in system.processors if w.running)
    record.detail = victim.name if busy else f"{victim.name} (idle)"
    victim.kill_group()
    await victim.wait(10)
    await system.add_processor()


FAULTS: dict[str, Fault] = {
    "leader-node-killed": leader_node_killed,
    "node-partitioned": node_partitioned,
    "rolling-restart": rolling_restart,
    "postgres-restarted": postgres_restarted,
    "s3-unavailable": s3_unavailable,
    "smtp-down": smtp_down,
    "worker-killed": worker_killed,
}
BROKER_FAULTS = frozenset({"leader-node-killed", "node-partitioned", "rolling-restart"})


async def inject(name: str, target: Target) -> FaultRecord:
    record = FaultRecord(name, time.monotonic())
    try:
        await FAULTS[name](target, record)
    finally:
        record.ended = time.monotonic()
    return record


async def _settled(stack: ChaosStack) -> None:
    """Every node back in the cluster and every quorum queue replicated again, before anything else is hurt."""
    await stack.cluster.wait_cluster()
    await stack.cluster.wait_replicated(within=120)


async def _jobs_in_flight(http: aiohttp.ClientSession, base_url: str) -> float:
    try:
        async with http.get(f"{base_url}/metrics") as response:
            found = IN_FLIGHT.search(await response.text())
    except (aiohttp.ClientError, TimeoutError):
        return 0.0
    return float(found.group(1)) if found else 0.0

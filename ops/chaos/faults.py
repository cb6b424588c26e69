"""The faults of a chaos run, each injected for real and recovered from before it returns:

- `leader-node-killed`: kill -9 of the RabbitMQ node leading most quorum queues, started again after `node_down`;
- `node-partitioned`: that node cut off from its peers (iptables) until it pauses itself (pause_minority), then
  healed;
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

from ops.chaos.stack import ChaosStack

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


Fault = Callable[[ChaosStack, Timings, FaultRecord], Awaitable[None]]


async def leader_node_killed(stack: ChaosStack, timings: Timings, record: FaultRecord) -> None:
    cluster = stack.cluster
    node = await cluster.leader_node()
    record.detail = node.short
    record.broker_hits.append(time.monotonic())
    cluster.kill(node)
    await asyncio.sleep(timings.node_down)
    await cluster.restart(node)
    await _settled(stack)


async def node_partitioned(stack: ChaosStack, timings: Timings, record: FaultRecord) -> None:
    cluster = stack.cluster
    node = await cluster.leader_node()
    record.detail = node.short
    record.broker_hits.append(time.monotonic())
    cluster.partition(node)
    try:
        await cluster.wait_paused(node, within=cluster.net_ticktime * 3 + 30)
    finally:
        cluster.heal()
    await _settled(stack)


async def rolling_restart(stack: ChaosStack, timings: Timings, record: FaultRecord) -> None:
    cluster = stack.cluster
    for node in cluster.nodes:
        await cluster.wait_quorum_safe(node)
        record.broker_hits.append(time.monotonic())
        await cluster.stop_node(node)
        await cluster.restart(node)
        await cluster.wait_cluster()
    record.detail = " ".join(node.short for node in cluster.nodes)
    await _settled(stack)


async def postgres_restarted(stack: ChaosStack, timings: Timings, record: FaultRecord) -> None:
    await stack.postgres.restart()


async def s3_unavailable(stack: ChaosStack, timings: Timings, record: FaultRecord) -> None:
    record.detail = f"{timings.s3_outage:.0f}s"
    await stack.s3_proxy.cut()
    try:
        await asyncio.sleep(timings.s3_outage)
    finally:
        await stack.s3_proxy.restore()


async def smtp_down(stack: ChaosStack, timings: Timings, record: FaultRecord) -> None:
    record.detail = f"{timings.smtp_outage:.0f}s"
    stack.smtp.stop()
    try:
        await asyncio.sleep(timings.smtp_outage)
    finally:
        stack.smtp.start()


async def worker_killed(stack: ChaosStack, timings: Timings, record: FaultRecord) -> None:
    """Waits (up to a minute) for a processor with a job running, kills it, and starts a new one."""
    system = stack.system
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while True:
            busy = [w for w in system.processors if w.running and await _jobs_in_flight(http, system.url(w.name)) > 0]
            if busy or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    running = [w for w in system.processors if w.running]
    victim = busy[0] if busy else running[0]
    record.detail = f"{victim.name}{'' if busy else ' (idle)'}"
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


async def inject(name: str, stack: ChaosStack, timings: Timings) -> FaultRecord:
    record = FaultRecord(name, time.monotonic())
    try:
        await FAULTS[name](stack, timings, record)
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

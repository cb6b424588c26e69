"""A chaos run: steady uploads from the first second to the last, faults injected one after the other on a schedule,
then a drain (every accepted upload given time to end) and the figures."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import aiohttp
import structlog

from ops.chaos.faults import FAULTS, FaultRecord, Target, Timings, inject
from ops.chaos.figures import Figures, collect
from ops.chaos.load import Clips, FailoverProbes, OutboxWatch, UploadLoad
from ops.chaos.stack import DATABASE, ChaosStack
from ops.client.api import BaseUrls

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Plan:
    schedule: Iterable[str]  # fault names, in order; the run ends when it is exhausted or `duration` is over
    fault_every: float  # seconds from one fault's start to the next's (at least the fault's own length)
    duration: float | None  # seconds of load; None: until the schedule is done and `fault_every` has passed
    upload_every: float
    warmup: float = 5.0  # seconds of load before the first fault
    drain_within: float = 300.0
    timings: Timings = field(default_factory=Timings)


def shuffled_faults(seed: int | None = None) -> Iterator[str]:
    """Every fault once in a random order, then again in another: random, but none left out for long."""
    pick = random.Random(seed)  # noqa: S311 - a schedule, not security
    while True:
        names = list(FAULTS)
        pick.shuffle(names)
        yield from names


async def run_chaos(stack: ChaosStack, clips: Clips, plan: Plan) -> Figures:
    system = stack.system
    urls = BaseUrls(system.url("auth"), system.url("video"), system.url("notify"))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
        load = UploadLoad(urls, clips, every=plan.upload_every)
        await load.sign_up(http)
        probes = FailoverProbes(stack.cluster.urls())
        leader = await stack.cluster.leader_node()
        await probes.start(stack.cluster.nodes.index(leader))
        outbox = OutboxWatch(stack.postgres.url(DATABASE))
        watch = asyncio.create_task(outbox.run())
        stop_load = asyncio.Event()
        uploads = asyncio.create_task(load.run(stop_load))
        started = time.monotonic()
        records: list[FaultRecord] = []
        try:
            await _inject_on_schedule(Target(stack, load, plan.timings), plan, started, records)
        finally:
            stop_load.set()
            await uploads
        try:
            return await collect(stack, load, probes, outbox, records, started=started, drain_within=plan.drain_within)
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
            await probes.stop()


async def _inject_on_schedule(target: Target, plan: Plan, started: float, records: list[FaultRecord]) -> None:
    await asyncio.sleep(plan.warmup)
    slot = time.monotonic()
    for name in plan.schedule:
        if plan.duration is not None and time.monotonic() - started >= plan.duration:
            break
        log.info("chaos_fault_started", fault=name, at=round(time.monotonic() - started, 1))
        record = await inject(name, target)
        records.append(record)
        log.info("chaos_fault_ended", fault=name, detail=record.detail, took=round(record.ended - record.started, 1))
        slot = max(slot + plan.fault_every, record.ended)  # a fault longer than its slot delays the next one
        await asyncio.sleep(max(0.0, slot - time.monotonic()))
    if plan.duration is not None:
        await asyncio.sleep(max(0.0, started + plan.duration - time.monotonic()))
